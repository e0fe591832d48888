use super::*;
use serde_json::json;

/// An exhaustive match that must be edited whenever a variant is added, which
/// in turn forces `ALL` to be checked against it below.
fn position(code: ErrorCode) -> usize {
    match code {
        ErrorCode::BadRequest => 0,
        ErrorCode::InvalidJson => 1,
        ErrorCode::Unauthenticated => 2,
        ErrorCode::InvalidCredentials => 3,
        ErrorCode::TokenExpired => 4,
        ErrorCode::Forbidden => 5,
        ErrorCode::InstanceForbidden => 6,
        ErrorCode::NotFound => 7,
        ErrorCode::InstanceNotFound => 8,
        ErrorCode::MethodNotAllowed => 9,
        ErrorCode::Conflict => 10,
        ErrorCode::DuplicateEntry => 11,
        ErrorCode::PayloadTooLarge => 12,
        ErrorCode::UnsupportedMediaType => 13,
        ErrorCode::ValidationError => 14,
        ErrorCode::DailyLimitExceeded => 15,
        ErrorCode::RateLimitExceeded => 16,
        ErrorCode::TooManyLoginAttempts => 17,
        ErrorCode::InstanceNotConnected => 18,
        ErrorCode::NodeUnavailable => 19,
        ErrorCode::ServiceUnavailable => 20,
        ErrorCode::GatewayTimeout => 21,
        ErrorCode::LoopDetected => 22,
        ErrorCode::InternalError => 23,
        ErrorCode::AutomationActive => 24,
        ErrorCode::NoVoiceAccess => 25,
        ErrorCode::NoCredentials => 26,
        ErrorCode::NumberNotFound => 27,
        ErrorCode::CallNotFound => 28,
        ErrorCode::MinutesExceeded => 29,
        ErrorCode::CallNotActive => 30,
        ErrorCode::CallbackExpired => 31,
        ErrorCode::IvrNotEnabled => 32,
        ErrorCode::AiAgentNotEnabled => 33,
        ErrorCode::DuplicateName => 34,
        ErrorCode::ActiveExecutions => 35,
        ErrorCode::InvalidIntegrationType => 36,
        ErrorCode::DuplicateSlug => 37,
        ErrorCode::QuotaExceeded => 38,
        ErrorCode::KanbanNotEnabled => 39,
    }
}

#[test]
fn all_lists_every_variant_once() {
    assert_eq!(ErrorCode::ALL.len(), 40);
    for (i, code) in ErrorCode::ALL.iter().enumerate() {
        assert_eq!(position(*code), i, "{code} is out of place in ALL");
    }
    assert_eq!(ErrorCode::all(), ErrorCode::ALL);
}

#[test]
fn every_code_round_trips_and_has_an_error_status() {
    let mut seen = std::collections::HashSet::new();
    for code in ErrorCode::ALL {
        let s = code.as_str();
        assert!(seen.insert(s), "duplicate wire string {s}");
        assert!(
            s.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
            "{s} is not SCREAMING_SNAKE_CASE"
        );
        assert_eq!(s.parse::<ErrorCode>().unwrap(), *code);
        assert_eq!(code.to_string(), s);
        let status = code.http_status();
        assert!((400..600).contains(&status), "{s} has status {status}");
        assert!(!code.default_message().is_empty());
        let json = serde_json::to_value(code).unwrap();
        assert_eq!(json, json!(s));
        assert_eq!(serde_json::from_value::<ErrorCode>(json).unwrap(), *code);
    }
}

#[test]
fn reference_statuses_match_the_documentation() {
    let expected = [
        ("NO_VOICE_ACCESS", 403),
        ("NO_CREDENTIALS", 400),
        ("NUMBER_NOT_FOUND", 404),
        ("CALL_NOT_FOUND", 404),
        ("MINUTES_EXCEEDED", 429),
        ("CALL_NOT_ACTIVE", 400),
        ("CALLBACK_EXPIRED", 400),
        ("IVR_NOT_ENABLED", 400),
        ("AI_AGENT_NOT_ENABLED", 403),
        ("KANBAN_NOT_ENABLED", 403),
        ("DUPLICATE_NAME", 422),
        ("ACTIVE_EXECUTIONS", 409),
        ("INVALID_INTEGRATION_TYPE", 422),
        ("DUPLICATE_SLUG", 422),
        ("VALIDATION_ERROR", 422),
        ("UNAUTHENTICATED", 401),
        ("RATE_LIMIT_EXCEEDED", 429),
        ("INTERNAL_ERROR", 500),
        ("INSTANCE_FORBIDDEN", 403),
        ("NODE_UNAVAILABLE", 503),
        ("GATEWAY_TIMEOUT", 504),
    ];
    for (s, status) in expected {
        assert_eq!(s.parse::<ErrorCode>().unwrap().http_status(), status, "{s}");
    }
}

#[test]
fn unknown_codes_are_rejected() {
    assert!("not_found".parse::<ErrorCode>().is_err());
    assert!("".parse::<ErrorCode>().is_err());
    assert!(serde_json::from_value::<ErrorCode>(json!("NOPE")).is_err());
}

#[test]
fn envelope_has_the_documented_shape() {
    let env = ErrorEnvelope::from(ErrorBody::new(ErrorCode::NotFound, "Resource not found."));
    assert_eq!(
        serde_json::to_value(&env).unwrap(),
        json!({
            "success": false,
            "error": {"code": "NOT_FOUND", "message": "Resource not found.", "details": {}}
        })
    );
    assert_eq!(
        serde_json::to_string(&env).unwrap(),
        r#"{"success":false,"error":{"code":"NOT_FOUND","message":"Resource not found.","details":{}}}"#
    );
    assert_eq!(env.http_status(), 404);
}

#[test]
fn envelope_round_trips_and_tolerates_missing_details() {
    let env = ErrorEnvelope::from(
        ErrorBody::new(ErrorCode::AutomationActive, "blocked")
            .with_details(json!({"conversation_id": 123})),
    );
    let back: ErrorEnvelope = serde_json::from_str(&serde_json::to_string(&env).unwrap()).unwrap();
    assert_eq!(back, env);

    let parsed: ErrorEnvelope = serde_json::from_value(json!({
        "success": false,
        "error": {"code": "FORBIDDEN", "message": "no"}
    }))
    .unwrap();
    assert_eq!(parsed.error.details, json!({}));
}

#[test]
fn validation_error_uses_laravel_details() {
    let err = ErrorBody::validation("phone", "must contain only digits");
    assert_eq!(err.code, ErrorCode::ValidationError);
    assert_eq!(err.http_status(), 422);
    assert_eq!(err.message, "phone: must contain only digits");
    assert_eq!(err.details, json!({"phone": ["must contain only digits"]}));

    let err = ErrorBody::validation("phone", "The phone field is required.");
    assert_eq!(err.message, "The phone field is required.");

    let err = err
        .with_field_error("phone", "second")
        .with_field_error("name", "The name field is required.");
    assert_eq!(
        err.details,
        json!({
            "phone": ["The phone field is required.", "second"],
            "name": ["The name field is required."]
        })
    );
}

#[test]
fn error_body_displays_code_and_message() {
    let err = ErrorBody::from_code(ErrorCode::InstanceNotFound);
    assert_eq!(err.to_string(), "INSTANCE_NOT_FOUND: Instance not found.");
    let as_std: &dyn std::error::Error = &err;
    assert!(as_std.source().is_none());
}
