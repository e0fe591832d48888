//! The API's bodies, parsed: every field is checked here, at the edge, and a failure names the
//! field (`parameters.0.name`); all failing fields are reported at once. What needs the
//! database (the integration, a duplicate name) or the URL guard is checked by the service.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;
use zapini_shared::error::ErrorBody;

use super::fields::{one_of, parse_headers, parse_parameters, text};
use super::model::{
    AuthType, FieldErrors, FunctionType, HttpMethod, MAX_DESCRIPTION, MAX_TIMEOUT_SECONDS, MAX_URL,
    ParamType, Parameter, valid_function_name,
};

/// The body of `POST /ai-functions` and `PUT /ai-functions/{uuid}`, as received: each field
/// is parsed by [`FunctionBody::parse`]. Absent fields keep their value on update; `null`
/// clears the optional ones (`endpoint_url`, `auth_config`, `headers`, `timeout_seconds`).
/// Its schema describes `PUT`; [`CreateBody`] describes `POST`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AiFunctionUpdateBody)]
pub struct FunctionBody {
    /// The UUID of the `ai_agent` integration the function belongs to.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, format = Uuid, nullable = false)]
    pub integration_uuid: Option<Value>,
    /// The tool name the AI agent calls: lowercase letters, digits and underscores, starting
    /// with a letter (at most 64); unique in the integration.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable = false, pattern = r"^[\t\n\x0B\f\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*[a-z][a-z0-9_]{0,63}[\t\n\x0B\f\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$", example = "check_order_status")]
    pub name: Option<Value>,
    /// A user-friendly name (trimmed; 1 to 255 characters).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable = false, max_length = 255, pattern = r"[^\t\n\x0B\f\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]", example = "Check Order Status")]
    pub display_name: Option<Value>,
    /// What the function does, shown to the AI agent (trimmed; 1 to 2000 characters).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable = false, max_length = 2000, pattern = r"[^\t\n\x0B\f\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]", example = "Checks the status of a customer order by order number")]
    pub description: Option<Value>,
    /// `fetch_data` sends the arguments in the query string; `collect_submit` and `action`
    /// in a JSON body (unless the method is `GET`).
    #[serde(default, rename = "type", deserialize_with = "present")]
    #[schema(value_type = Option<FunctionType>, nullable = false)]
    pub function_type: Option<Value>,
    /// The URL to call (http or https; private and internal addresses are refused).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 2048, example = "https://api.myshop.com/orders/status")]
    pub endpoint_url: Option<Value>,
    /// Default `GET` for `fetch_data`, `POST` otherwise.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<HttpMethod>, nullable = false)]
    pub http_method: Option<Value>,
    /// Default `none`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<AuthType>, nullable = false)]
    pub auth_type: Option<Value>,
    /// The credentials for `auth_type`, stored encrypted and never shown back in full:
    /// `bearer` `{"token"}`; `basic` `{"username", "password"}`; `api_key` `{"key",
    /// "header_name"?: "X-API-Key", "in"?: "header" | "query", "param_name"?: "api_key"}`;
    /// `custom` `{"headers": {"Name": "value"}}`. A masked value sent back as shown
    /// (`********abcd`) keeps the stored secret.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>)]
    pub auth_config: Option<Value>,
    /// What the agent fills in (at most 50).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<ParameterBody>>, nullable = false)]
    pub parameters: Option<Value>,
    /// Default `true`. A disabled function is not offered to the agent (it can still be
    /// tested).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<bool>, nullable = false)]
    pub is_enabled: Option<Value>,
    /// The call's total timeout, 1 to 30 seconds (default 15).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i32>, minimum = 1, maximum = 30)]
    pub timeout_seconds: Option<Value>,
    /// Static extra headers sent with every call (not secret: they are shown as they are;
    /// put credentials in `auth_config`).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<HashMap<String, String>>)]
    pub headers: Option<Value>,
}

/// `POST /ai-functions` (documentation only: [`FunctionBody`] reads it).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AiFunctionCreateBody)]
#[allow(dead_code)]
pub struct CreateBody {
    /// The UUID of the `ai_agent` integration the function belongs to.
    integration_uuid: Uuid,
    /// The tool name the AI agent calls: lowercase letters, digits and underscores, starting
    /// with a letter (at most 64); unique in the integration.
    #[schema(
        pattern = r"^[\t\n\x0B\f\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*[a-z][a-z0-9_]{0,63}[\t\n\x0B\f\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$",
        example = "check_order_status"
    )]
    name: String,
    /// A user-friendly name (trimmed; 1 to 255 characters).
    #[schema(
        max_length = 255,
        pattern = r"[^\t\n\x0B\f\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]",
        example = "Check Order Status"
    )]
    display_name: String,
    /// What the function does, shown to the AI agent (trimmed; 1 to 2000 characters).
    #[schema(
        max_length = 2000,
        pattern = r"[^\t\n\x0B\f\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]",
        example = "Checks the status of a customer order by order number"
    )]
    description: String,
    /// `fetch_data` sends the arguments in the query string; `collect_submit` and `action`
    /// in a JSON body (unless the method is `GET`).
    #[serde(rename = "type")]
    function_type: FunctionType,
    /// The URL to call (http or https; private and internal addresses are refused). Without
    /// one, executions fail.
    #[schema(max_length = 2048, example = "https://api.myshop.com/orders/status")]
    endpoint_url: Option<String>,
    /// Default `GET` for `fetch_data`, `POST` otherwise.
    http_method: Option<HttpMethod>,
    /// Default `none`.
    auth_type: Option<AuthType>,
    /// The credentials for `auth_type`, stored encrypted and never shown back in full:
    /// `bearer` `{"token"}`; `basic` `{"username", "password"}`; `api_key` `{"key",
    /// "header_name"?: "X-API-Key", "in"?: "header" | "query", "param_name"?: "api_key"}`;
    /// `custom` `{"headers": {"Name": "value"}}`.
    #[schema(value_type = Option<Object>)]
    auth_config: Option<Value>,
    /// What the agent fills in (at most 50).
    parameters: Option<Vec<ParameterBody>>,
    /// Default `true`. A disabled function is not offered to the agent (it can still be
    /// tested).
    is_enabled: Option<bool>,
    /// The call's total timeout, 1 to 30 seconds (default 15).
    #[schema(minimum = 1, maximum = 30)]
    timeout_seconds: Option<i32>,
    /// Static extra headers sent with every call (not secret: they are shown as they are;
    /// put credentials in `auth_config`).
    headers: Option<HashMap<String, String>>,
}

/// A parameter as sent (documentation of [`Parameter`]'s input form).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AiFunctionParameterBody)]
#[allow(dead_code)]
pub struct ParameterBody {
    /// Letters, digits and underscores, starting with a letter (at most 64); unique in the
    /// function.
    #[schema(
        pattern = r"^[\t\n\x0B\f\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*[A-Za-z][A-Za-z0-9_]{0,63}[\t\n\x0B\f\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$",
        example = "order_number"
    )]
    name: String,
    /// Default (or blank): the name.
    #[schema(max_length = 255)]
    display_name: Option<String>,
    #[schema(max_length = 1000)]
    description: Option<String>,
    /// Default `string`.
    #[serde(rename = "type")]
    param_type: Option<ParamType>,
    /// Default `false`: a call without it is refused before it is made.
    is_required: Option<bool>,
    /// Default `false`: the agent must ask the contact for it.
    collect_from_user: Option<bool>,
    /// The only values allowed (1 to 100, of the parameter's type; not for arrays and
    /// objects).
    #[serde(rename = "enum")]
    enum_values: Option<Vec<Value>>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// A body's fields, parsed. `None`: absent (keep); for the clearable ones `Some(None)`:
/// cleared. `auth_config` is parsed against the effective `auth_type` by the service.
#[derive(Debug, Default)]
pub struct FunctionInput {
    pub integration_uuid: Option<Uuid>,
    pub name: Option<String>,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub function_type: Option<FunctionType>,
    pub endpoint_url: Option<Option<String>>,
    pub http_method: Option<HttpMethod>,
    pub auth_type: Option<AuthType>,
    pub auth_config: Option<Value>,
    pub parameters: Option<Vec<Parameter>>,
    pub is_enabled: Option<bool>,
    pub timeout_seconds: Option<Option<i32>>,
    pub headers: Option<Option<BTreeMap<String, String>>>,
}

impl FunctionBody {
    /// Parses every field; `create` makes the identifying ones required.
    pub fn parse(self, create: bool) -> Result<FunctionInput, ErrorBody> {
        let mut e = FieldErrors::default();
        let integration_uuid = match self.integration_uuid {
            None if create => {
                e.add(
                    "integration_uuid",
                    "The integration_uuid field is required.",
                );
                None
            }
            None => None,
            Some(Value::String(s)) => match Uuid::parse_str(s.trim()) {
                Ok(u) => Some(u),
                Err(_) => {
                    e.add("integration_uuid", "The integration_uuid must be a UUID.");
                    None
                }
            },
            Some(Value::Null) => {
                e.add(
                    "integration_uuid",
                    "The integration_uuid field is required.",
                );
                None
            }
            Some(_) => {
                e.add("integration_uuid", "The integration_uuid must be a UUID.");
                None
            }
        };
        let name = text(&mut e, "name", self.name, 64, create);
        if let Some(n) = &name
            && !valid_function_name(n)
        {
            e.add(
                "name",
                "The name may only contain lowercase letters, digits and underscores, and must start with a letter.",
            );
        }
        let display_name = text(&mut e, "display_name", self.display_name, 255, create);
        let description = text(
            &mut e,
            "description",
            self.description,
            MAX_DESCRIPTION,
            create,
        );
        let function_type = one_of(
            &mut e,
            "type",
            self.function_type,
            &FunctionType::ALL,
            FunctionType::as_str,
            create,
        );
        let endpoint_url = match self.endpoint_url {
            None => None,
            Some(Value::Null) => Some(None),
            Some(Value::String(s)) if s.trim().is_empty() => Some(None),
            v => text(&mut e, "endpoint_url", v, MAX_URL, false).map(Some),
        };
        let http_method = match self.http_method {
            Some(Value::Null) => None,
            v => one_of(
                &mut e,
                "http_method",
                v,
                &HttpMethod::ALL,
                HttpMethod::as_str,
                false,
            ),
        };
        let auth_type = match self.auth_type {
            Some(Value::Null) => Some(AuthType::None),
            v => one_of(
                &mut e,
                "auth_type",
                v,
                &AuthType::ALL,
                AuthType::as_str,
                false,
            ),
        };
        let parameters = self.parameters.and_then(|v| parse_parameters(&mut e, v));
        let is_enabled = match self.is_enabled {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(b),
            Some(_) => {
                e.add("is_enabled", "The is_enabled must be true or false.");
                None
            }
        };
        let timeout_seconds = match self.timeout_seconds {
            None => None,
            Some(Value::Null) => Some(None),
            Some(v) => match v.as_i64() {
                Some(n) if (1..=i64::from(MAX_TIMEOUT_SECONDS)).contains(&n) => {
                    Some(Some(n as i32))
                }
                _ => {
                    e.add(
                        "timeout_seconds",
                        format!(
                            "The timeout_seconds must be an integer between 1 and {MAX_TIMEOUT_SECONDS}."
                        ),
                    );
                    None
                }
            },
        };
        let headers = match self.headers {
            None => None,
            Some(Value::Null) => Some(None),
            Some(v) => parse_headers(&mut e, "headers", v).map(Some),
        };
        e.into_result()?;
        Ok(FunctionInput {
            integration_uuid,
            name,
            display_name,
            description,
            function_type,
            endpoint_url,
            http_method,
            auth_type,
            auth_config: self.auth_config,
            parameters,
            is_enabled,
            timeout_seconds,
            headers,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(v: Value) -> Result<FunctionInput, ErrorBody> {
        serde_json::from_value::<FunctionBody>(v)
            .unwrap()
            .parse(true)
    }

    fn fields(e: ErrorBody) -> Vec<String> {
        e.details.as_object().unwrap().keys().cloned().collect()
    }

    #[test]
    fn a_complete_body_parses_with_defaults() {
        let f = parse(json!({
            "integration_uuid": "550e8400-e29b-41d4-a716-446655440000",
            "name": "check_order", "display_name": "Check", "description": "Checks",
            "type": "fetch_data",
            "parameters": [{"name": "order_number", "is_required": true}],
        }))
        .unwrap();
        assert_eq!(f.function_type, Some(FunctionType::FetchData));
        let p = &f.parameters.unwrap()[0];
        assert_eq!(p.param_type, ParamType::String);
        assert_eq!(p.display_name, "order_number");
        assert!(p.is_required && !p.collect_from_user);
    }

    #[test]
    fn every_bad_field_is_named() {
        let e = parse(json!({
            "integration_uuid": "nope", "name": "Bad Name", "type": "telepathy",
            "http_method": "TRACE", "timeout_seconds": 31,
            "headers": {"Host": "x"},
            "parameters": [{"name": "ok"}, {"name": "1x", "type": "date"}, {"name": "ok"},
                {"name": "n", "type": "integer", "enum": [1, "two"]}],
        }))
        .unwrap_err();
        let mut got = fields(e);
        got.sort();
        assert_eq!(
            got,
            [
                "description",
                "display_name",
                "headers.Host",
                "http_method",
                "integration_uuid",
                "name",
                "parameters.1.name",
                "parameters.1.type",
                "parameters.2.name",
                "parameters.3.enum.1",
                "timeout_seconds",
                "type",
            ]
        );
    }
}
