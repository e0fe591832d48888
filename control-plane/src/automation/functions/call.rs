//! One call of a function, without its I/O: the arguments are checked against its parameters
//! (a missing required one, or a wrong type, is an error result and no call), the request is
//! built (query string for `fetch_data` and `GET`, JSON body otherwise; credentials), what is
//! recorded of it has credentials redacted from the URL, headers and answer, and the answer
//! becomes what the log keeps and what the model gets. The executor makes the call.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::auth::AuthConfig;
use super::model::{FunctionType, HttpMethod, Parameter};
use super::views::{headers_of, parameters_of};
use crate::automation::outbound::{OutError, OutRequest, OutResponse};
use crate::crypto::SecretBox;
use crate::db::entities::ai_function;

/// The largest answer read from an endpoint (a larger one is an error).
pub const RESPONSE_LIMIT: usize = 256 * 1024;
/// How much of the answer an execution record keeps.
pub const EXCERPT_BYTES: usize = 4 * 1024;
/// How much of the answer the agent gets (more is cut and marked `truncated`).
pub const AGENT_RESULT_BYTES: usize = 16 * 1024;
const REDACTED: &str = "[REDACTED]";
/// In URLs (brackets would be percent-encoded).
const URL_REDACTED: &str = "REDACTED";

/// A function ready to run: its stored form, parsed, credentials opened.
pub(crate) struct Definition {
    pub function_type: FunctionType,
    pub method: HttpMethod,
    pub url: Option<String>,
    pub headers: BTreeMap<String, String>,
    pub parameters: Vec<Parameter>,
    pub timeout: Duration,
    pub auth: AuthConfig,
}

impl Definition {
    pub fn of(m: &ai_function::Model, secrets: &SecretBox) -> Definition {
        let function_type = FunctionType::parse(&m.function_type).unwrap_or(FunctionType::Action);
        Definition {
            function_type,
            method: HttpMethod::parse(&m.http_method)
                .unwrap_or_else(|| function_type.default_method()),
            url: m.endpoint_url.clone(),
            headers: headers_of(m).unwrap_or_default(),
            parameters: parameters_of(m),
            timeout: Duration::from_secs(
                u64::try_from(m.timeout_seconds.clamp(1, 30)).unwrap_or(15),
            ),
            auth: AuthConfig::open(secrets, m.auth_config_enc.as_deref()),
        }
    }
}

/// Checks `args` against the parameters: an object, every required parameter present (not
/// null), each value of its type and among its `enum`. Returns the declared arguments only
/// (others are not sent).
pub(crate) fn check_arguments(
    params: &[Parameter],
    args: &Value,
) -> Result<Map<String, Value>, String> {
    let empty = Map::new();
    let given = match args {
        Value::Null => &empty,
        Value::Object(m) => m,
        _ => return Err("The arguments must be a JSON object.".into()),
    };
    let mut out = Map::new();
    let mut missing = Vec::new();
    for p in params {
        match given.get(&p.name) {
            None | Some(Value::Null) => {
                if p.is_required {
                    missing.push(p.name.as_str());
                }
            }
            Some(v) => {
                if !p.param_type.accepts(v) {
                    return Err(format!(
                        "The parameter {} must be of type {}.",
                        p.name,
                        p.param_type.as_str()
                    ));
                }
                if let Some(allowed) = &p.enum_values
                    && !allowed.iter().any(|a| same_value(a, v))
                {
                    return Err(format!(
                        "The parameter {} must be one of: {}.",
                        p.name,
                        allowed
                            .iter()
                            .map(Value::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                out.insert(p.name.clone(), v.clone());
            }
        }
    }
    if !missing.is_empty() {
        return Err(format!(
            "Missing required parameter{}: {}.",
            if missing.len() > 1 { "s" } else { "" },
            missing.join(", ")
        ));
    }
    Ok(out)
}

/// Numbers compare by value (`3` and `3.0` are the same).
fn same_value(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// A value in a query string: strings as they are, numbers and booleans as JSON, arrays and
/// objects JSON-encoded.
fn query_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Header names whose values are credentials whatever the auth configuration says.
fn sensitive_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["authorization", "cookie"].contains(&n.as_str())
        || [
            "token",
            "secret",
            "key",
            "auth",
            "password",
            "signature",
            "session",
        ]
        .iter()
        .any(|w| n.contains(w))
}

/// Replaces every occurrence of a secret in `text`.
pub(crate) fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_owned();
    for s in secrets {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), REDACTED);
        }
    }
    out
}

/// A call ready to make, and how it is recorded.
pub(crate) struct Prepared {
    pub request: OutRequest,
    pub method: String,
    pub logged_url: String,
    pub logged_headers: BTreeMap<String, String>,
    pub secrets: Vec<String>,
}

/// Builds the request for checked arguments.
pub(crate) fn prepare(def: &Definition, args: &Map<String, Value>) -> Result<Prepared, String> {
    let Some(raw_url) = def.url.as_deref() else {
        return Err("The function has no endpoint_url to call.".into());
    };
    let mut url = reqwest::Url::parse(raw_url)
        .map_err(|_| "The function's endpoint_url is not a valid URL.".to_owned())?;
    let mut logged = url.clone();
    if logged.password().is_some() {
        let _ = logged.set_password(Some(URL_REDACTED));
    }
    let applied = def.auth.apply();
    let (auth_headers, auth_query) = (applied.headers, applied.query);
    let in_query = def.function_type == FunctionType::FetchData || def.method == HttpMethod::Get;
    if in_query && !args.is_empty() {
        let mut pairs = url.query_pairs_mut();
        let mut logged_pairs = logged.query_pairs_mut();
        for (k, v) in args {
            pairs.append_pair(k, &query_value(v));
            logged_pairs.append_pair(k, &query_value(v));
        }
    }
    if let Some((name, value)) = &auth_query {
        url.query_pairs_mut().append_pair(name, value);
        logged.query_pairs_mut().append_pair(name, URL_REDACTED);
    }
    let mut request = OutRequest::new(def.method.reqwest(), url.as_str());
    let is_auth = |name: &str| {
        auth_headers
            .iter()
            .any(|(a, _)| a.eq_ignore_ascii_case(name))
    };
    let mut headers: Vec<(String, String)> = def
        .headers
        .iter()
        .filter(|(k, _)| !is_auth(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    headers.extend(auth_headers.iter().cloned());
    let has = |headers: &[(String, String)], name: &str| {
        headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name))
    };
    if !has(&headers, "accept") {
        headers.push(("Accept".into(), "application/json".into()));
    }
    if !in_query {
        if !has(&headers, "content-type") {
            headers.push(("Content-Type".into(), "application/json".into()));
        }
        request.body = Some(serde_json::to_vec(&Value::Object(args.clone())).unwrap_or_default());
    }
    request.timeout = Some(def.timeout);
    request.response_limit = Some(RESPONSE_LIMIT);
    let secrets = def.auth.secret_values();
    let logged_headers = headers
        .iter()
        .map(|(k, v)| {
            let shown = if is_auth(k) || sensitive_header(k) {
                REDACTED.to_owned()
            } else {
                redact(v, &secrets)
            };
            (k.clone(), shown)
        })
        .collect();
    request.headers = headers;
    Ok(Prepared {
        request,
        method: def.method.as_str().to_owned(),
        logged_url: logged.to_string(),
        logged_headers,
        secrets,
    })
}

/// The start of `text`, at most `max` bytes, cut on a character boundary.
fn cut(text: &str, max: usize) -> (&str, bool) {
    if text.len() <= max {
        return (text, false);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (&text[..end], true)
}

/// What the agent gets from an answer's (redacted) text.
fn agent_value(text: &str) -> Value {
    let (head, truncated) = cut(text, AGENT_RESULT_BYTES);
    if !truncated && let Ok(v) = serde_json::from_str::<Value>(text) {
        return v;
    }
    if truncated {
        json!({"text": head, "truncated": true})
    } else {
        json!({"text": head})
    }
}

/// The recorded and returned outcome of a call.
pub(crate) struct Finished {
    pub status: &'static str,
    pub http_status: Option<u16>,
    pub excerpt: Option<String>,
    pub truncated: bool,
    pub error: Option<String>,
    pub result: Value,
}

pub(crate) fn finish(outcome: Result<OutResponse, OutError>, secrets: &[String]) -> Finished {
    match outcome {
        Ok(resp) => {
            let text = redact(&String::from_utf8_lossy(&resp.body), secrets);
            let (excerpt, truncated) = cut(&text, EXCERPT_BYTES);
            if resp.is_success() {
                Finished {
                    status: "success",
                    http_status: Some(resp.status),
                    excerpt: Some(excerpt.to_owned()),
                    truncated,
                    error: None,
                    result: agent_value(&text),
                }
            } else {
                let error = format!("The endpoint answered HTTP {}.", resp.status);
                let (short, _) = cut(&text, 1024);
                let response = serde_json::from_str::<Value>(short)
                    .unwrap_or_else(|_| Value::String(short.to_owned()));
                Finished {
                    status: "error",
                    http_status: Some(resp.status),
                    excerpt: Some(excerpt.to_owned()),
                    truncated,
                    result: json!({"error": error, "http_status": resp.status, "response": response}),
                    error: Some(error),
                }
            }
        }
        Err(e) => {
            let error = redact(&capitalized(&e.to_string()), secrets);
            Finished {
                status: "error",
                http_status: None,
                excerpt: None,
                truncated: false,
                result: json!({"error": error}),
                error: Some(error),
            }
        }
    }
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), c.as_str()),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::automation::functions::auth::KeyLocation;
    use crate::automation::functions::model::ParamType;

    fn param(name: &str, t: ParamType, required: bool) -> Parameter {
        Parameter {
            name: name.into(),
            display_name: name.into(),
            description: String::new(),
            param_type: t,
            is_required: required,
            collect_from_user: false,
            enum_values: None,
        }
    }

    fn def(t: FunctionType, method: HttpMethod, auth: AuthConfig) -> Definition {
        Definition {
            function_type: t,
            method,
            url: Some("https://api.example.com/x?fixed=1".into()),
            headers: BTreeMap::from([("X-Static".into(), "s".into())]),
            parameters: vec![],
            timeout: Duration::from_secs(5),
            auth,
        }
    }

    #[test]
    fn arguments_are_checked() {
        let params = vec![
            param("order", ParamType::String, true),
            param("qty", ParamType::Integer, false),
        ];
        assert_eq!(
            check_arguments(&params, &json!({"qty": 1})).unwrap_err(),
            "Missing required parameter: order."
        );
        assert!(check_arguments(&params, &json!({"order": "A", "qty": "1"})).is_err());
        assert!(check_arguments(&params, &json!([1])).is_err());
        let ok = check_arguments(&params, &json!({"order": "A", "extra": true})).unwrap();
        assert_eq!(Value::Object(ok), json!({"order": "A"}));
        let mut with_enum = param("size", ParamType::Integer, true);
        with_enum.enum_values = Some(vec![json!(1), json!(2)]);
        assert!(check_arguments(&[with_enum.clone()], &json!({"size": 2.0})).is_ok());
        assert!(check_arguments(&[with_enum], &json!({"size": 3})).is_err());
    }

    #[test]
    fn fetch_data_uses_the_query_string_and_redacts_a_query_key() {
        let d = def(
            FunctionType::FetchData,
            HttpMethod::Get,
            AuthConfig::ApiKey {
                key: "k-secret-123".into(),
                header_name: "X-API-Key".into(),
                location: KeyLocation::Query,
                param_name: "api_key".into(),
            },
        );
        let args = check_arguments(&[], &json!({})).unwrap();
        let mut args2 = args.clone();
        args2.insert("n".into(), json!(5));
        args2.insert("s".into(), json!("a b"));
        let p = prepare(&d, &args2).unwrap();
        assert_eq!(
            p.request.url,
            "https://api.example.com/x?fixed=1&n=5&s=a+b&api_key=k-secret-123"
        );
        assert_eq!(
            p.logged_url,
            "https://api.example.com/x?fixed=1&n=5&s=a+b&api_key=REDACTED"
        );
        assert!(p.request.body.is_none());
    }

    #[test]
    fn actions_send_json_and_redact_auth_headers() {
        let d = def(
            FunctionType::Action,
            HttpMethod::Post,
            AuthConfig::Bearer {
                token: "tok-abcdef".into(),
            },
        );
        let mut args = Map::new();
        args.insert("a".into(), json!(1));
        let p = prepare(&d, &args).unwrap();
        assert_eq!(p.request.body.as_deref(), Some(&br#"{"a":1}"#[..]));
        assert!(
            p.request
                .headers
                .contains(&("Authorization".into(), "Bearer tok-abcdef".into()))
        );
        assert_eq!(p.logged_headers["Authorization"], REDACTED);
        assert_eq!(p.logged_headers["X-Static"], "s");
        assert_eq!(p.logged_headers["Content-Type"], "application/json");
    }

    #[test]
    fn answers_are_cut_and_redacted() {
        let secrets = vec!["tok-abcdef".to_owned()];
        let big = format!("tok-abcdef{}tok-abcdef", "é".repeat(10_000));
        let resp = OutResponse {
            status: 200,
            content_type: None,
            body: big.into_bytes(),
            duration: Duration::ZERO,
        };
        let f = finish(Ok(resp), &secrets);
        let excerpt = f.excerpt.unwrap();
        assert!(excerpt.len() <= EXCERPT_BYTES && f.truncated);
        assert!(excerpt.starts_with("[REDACTED]"));
        assert_eq!(f.result["truncated"], true);
        assert!(!f.result.to_string().contains("tok-abcdef"));
        let f = finish(Err(OutError::Timeout), &secrets);
        assert_eq!(f.error.as_deref(), Some("The call timed out."));
    }

    #[test]
    fn names_that_look_like_credentials_are_redacted() {
        for n in ["X-Api-Key", "Cookie", "x-auth-user", "X-Session-Id"] {
            assert!(sensitive_header(n), "{n}");
        }
        assert!(!sensitive_header("X-Request-Source"));
    }
}
