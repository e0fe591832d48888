//! A function's credentials: parsed from `auth_config` for its `auth_type`, sealed at rest as
//! one JSON document, shown only masked, applied to a call, and listed so that they can be
//! redacted from whatever is recorded about the call.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::fields::parse_headers;
use super::model::{AuthType, FieldErrors, check_header};
use crate::crypto::{SecretBox, mask};

const MAX_SECRET: usize = 4096;
pub const DEFAULT_KEY_HEADER: &str = "X-API-Key";
pub const DEFAULT_KEY_PARAM: &str = "api_key";

/// Where an API key goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyLocation {
    Header,
    Query,
}

/// Credentials as they go on the wire.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Headers to send (name, value).
    pub headers: Vec<(String, String)>,
    /// A query parameter to add (name, value).
    pub query: Option<(String, String)>,
}

/// The credentials of one function (what is sealed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "auth_type", rename_all = "snake_case")]
pub enum AuthConfig {
    None,
    Bearer {
        token: String,
    },
    Basic {
        username: String,
        password: String,
    },
    ApiKey {
        key: String,
        header_name: String,
        #[serde(rename = "in")]
        location: KeyLocation,
        param_name: String,
    },
    Custom {
        headers: BTreeMap<String, String>,
    },
}

/// A masked value sent back as shown keeps the stored secret.
fn keep_masked(new: String, old: Option<&str>) -> String {
    match old {
        Some(old) if new == mask(old) => old.to_owned(),
        _ => new,
    }
}

fn secret(
    errors: &mut FieldErrors,
    m: &mut Map<String, Value>,
    keys: &[&str],
    what: &str,
) -> Option<String> {
    let field = format!("auth_config.{}", keys[0]);
    let v = keys.iter().find_map(|k| m.remove(*k));
    match v {
        Some(Value::String(s)) if !s.trim().is_empty() => {
            if s.chars().count() > MAX_SECRET {
                errors.add(
                    &field,
                    format!("The {field} may not be greater than {MAX_SECRET} characters."),
                );
                None
            } else {
                Some(s.trim().to_owned())
            }
        }
        None | Some(Value::Null) | Some(Value::String(_)) => {
            errors.add(
                &field,
                format!("The {field} field is required for {what} authentication."),
            );
            None
        }
        Some(_) => {
            errors.add(&field, format!("The {field} must be a string."));
            None
        }
    }
}

fn optional(
    errors: &mut FieldErrors,
    m: &mut Map<String, Value>,
    keys: &[&str],
) -> Option<Option<String>> {
    let field = format!("auth_config.{}", keys[0]);
    match keys.iter().find_map(|k| m.remove(*k)) {
        None | Some(Value::Null) => Some(None),
        Some(Value::String(s)) if s.trim().is_empty() => Some(None),
        Some(Value::String(s)) if s.trim().len() <= 128 => Some(Some(s.trim().to_owned())),
        Some(_) => {
            errors.add(
                &field,
                format!("The {field} must be a string of at most 128 characters."),
            );
            None
        }
    }
}

impl AuthConfig {
    pub fn auth_type(&self) -> AuthType {
        match self {
            AuthConfig::None => AuthType::None,
            AuthConfig::Bearer { .. } => AuthType::Bearer,
            AuthConfig::Basic { .. } => AuthType::Basic,
            AuthConfig::ApiKey { .. } => AuthType::ApiKey,
            AuthConfig::Custom { .. } => AuthType::Custom,
        }
    }

    /// Parses `auth_config` for `auth_type`. `raw` `None` (absent) keeps `old` when its type
    /// is the same; `old` also resolves masked values sent back.
    pub fn parse(
        auth_type: AuthType,
        raw: Option<Value>,
        old: Option<&AuthConfig>,
    ) -> Result<AuthConfig, zapini_shared::error::ErrorBody> {
        let old = old.filter(|o| o.auth_type() == auth_type);
        let mut m = match raw {
            None | Some(Value::Null) if auth_type == AuthType::None => {
                return Ok(AuthConfig::None);
            }
            None if old.is_some() => return Ok(old.cloned().unwrap_or(AuthConfig::None)),
            None | Some(Value::Null) => {
                return Err(zapini_shared::error::ErrorBody::validation(
                    "auth_config",
                    format!(
                        "The auth_config field is required for {} authentication.",
                        auth_type.as_str()
                    ),
                ));
            }
            Some(Value::Object(m)) => m,
            Some(_) => {
                return Err(zapini_shared::error::ErrorBody::validation(
                    "auth_config",
                    "The auth_config must be an object.",
                ));
            }
        };
        let mut e = FieldErrors::default();
        let config = match auth_type {
            AuthType::None => {
                if !m.is_empty() {
                    e.add(
                        "auth_config",
                        "The auth_config must be empty when auth_type is none.",
                    );
                }
                Some(AuthConfig::None)
            }
            AuthType::Bearer => {
                let old_token = match old {
                    Some(AuthConfig::Bearer { token }) => Some(token.as_str()),
                    _ => None,
                };
                secret(&mut e, &mut m, &["token"], "bearer").map(|t| AuthConfig::Bearer {
                    token: keep_masked(t, old_token),
                })
            }
            AuthType::Basic => {
                let old_password = match old {
                    Some(AuthConfig::Basic { password, .. }) => Some(password.as_str()),
                    _ => None,
                };
                let username = secret(&mut e, &mut m, &["username"], "basic");
                let password = secret(&mut e, &mut m, &["password"], "basic");
                if username.as_deref().is_some_and(|u| u.contains(':')) {
                    e.add(
                        "auth_config.username",
                        "The auth_config.username may not contain a colon.",
                    );
                }
                match (username, password) {
                    (Some(username), Some(password)) => Some(AuthConfig::Basic {
                        username,
                        password: keep_masked(password, old_password),
                    }),
                    _ => None,
                }
            }
            AuthType::ApiKey => {
                let old_key = match old {
                    Some(AuthConfig::ApiKey { key, .. }) => Some(key.as_str()),
                    _ => None,
                };
                let key = secret(&mut e, &mut m, &["key", "api_key", "value"], "api_key");
                let location = match m.remove("in").or_else(|| m.remove("location")) {
                    None | Some(Value::Null) => Some(KeyLocation::Header),
                    Some(Value::String(s)) if s.eq_ignore_ascii_case("header") => {
                        Some(KeyLocation::Header)
                    }
                    Some(Value::String(s)) if s.eq_ignore_ascii_case("query") => {
                        Some(KeyLocation::Query)
                    }
                    Some(_) => {
                        e.add(
                            "auth_config.in",
                            "The auth_config.in must be header or query.",
                        );
                        None
                    }
                };
                let header_name = optional(&mut e, &mut m, &["header_name", "header"])
                    .map(|h| h.unwrap_or_else(|| DEFAULT_KEY_HEADER.to_owned()));
                if let (Some(h), Some(KeyLocation::Header)) = (&header_name, location)
                    && let Err(msg) = check_header(h, "x")
                {
                    e.add("auth_config.header_name", msg);
                }
                let param_name = optional(&mut e, &mut m, &["param_name", "query_param"])
                    .map(|p| p.unwrap_or_else(|| DEFAULT_KEY_PARAM.to_owned()));
                match (key, location, header_name, param_name) {
                    (Some(key), Some(location), Some(header_name), Some(param_name)) => {
                        Some(AuthConfig::ApiKey {
                            key: keep_masked(key, old_key),
                            header_name,
                            location,
                            param_name,
                        })
                    }
                    _ => None,
                }
            }
            AuthType::Custom => {
                let old_headers = match old {
                    Some(AuthConfig::Custom { headers }) => Some(headers),
                    _ => None,
                };
                match m.remove("headers") {
                    Some(v @ Value::Object(_)) => parse_headers(&mut e, "auth_config.headers", v)
                        .and_then(|h| {
                            if h.is_empty() {
                                e.add(
                                    "auth_config.headers",
                                    "The auth_config.headers must name at least one header.",
                                );
                                return None;
                            }
                            let headers = h
                                .into_iter()
                                .map(|(name, value)| {
                                    let old =
                                        old_headers.and_then(|o| o.get(&name)).map(String::as_str);
                                    (name, keep_masked(value, old))
                                })
                                .collect();
                            Some(AuthConfig::Custom { headers })
                        }),
                    _ => {
                        e.add(
                            "auth_config.headers",
                            "The auth_config.headers field is required for custom authentication: an object of header names to values.",
                        );
                        None
                    }
                }
            }
        };
        for key in m.keys() {
            let field = format!("auth_config.{key}");
            e.add(
                &field,
                format!(
                    "The {field} field is not accepted for {} authentication.",
                    auth_type.as_str()
                ),
            );
        }
        e.into_result()?;
        Ok(config.unwrap_or(AuthConfig::None))
    }

    /// The sealed form stored in the database (`None` without credentials).
    pub fn seal(&self, secrets: &SecretBox) -> Option<String> {
        match self {
            AuthConfig::None => None,
            other => Some(secrets.seal(&serde_json::to_string(other).unwrap_or_default())),
        }
    }

    /// Opens a stored value; an unreadable one (another key) reads as no credentials, and
    /// calls then fail at the endpoint rather than here.
    pub fn open(secrets: &SecretBox, sealed: Option<&str>) -> AuthConfig {
        sealed
            .and_then(|s| secrets.open(s).ok())
            .and_then(|json| serde_json::from_str(&json).ok())
            .unwrap_or(AuthConfig::None)
    }

    /// What the API shows: secrets masked (`********abcd`), the rest as configured.
    pub fn masked(&self) -> Option<Value> {
        match self {
            AuthConfig::None => None,
            AuthConfig::Bearer { token } => Some(json!({"token": mask(token)})),
            AuthConfig::Basic { username, password } => {
                Some(json!({"username": username, "password": mask(password)}))
            }
            AuthConfig::ApiKey {
                key,
                header_name,
                location,
                param_name,
            } => Some(json!({
                "key": mask(key),
                "header_name": header_name,
                "in": location,
                "param_name": param_name,
            })),
            AuthConfig::Custom { headers } => Some(json!({
                "headers": headers
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(mask(v))))
                    .collect::<Map<_, _>>(),
            })),
        }
    }

    /// The headers to send, and a query parameter to add.
    pub fn apply(&self) -> Applied {
        let (headers, query) = match self {
            AuthConfig::None => (Vec::new(), None),
            AuthConfig::Bearer { token } => (
                vec![("Authorization".into(), format!("Bearer {token}"))],
                None,
            ),
            AuthConfig::Basic { username, password } => {
                let encoded = base64::engine::general_purpose::STANDARD
                    .encode(format!("{username}:{password}"));
                (
                    vec![("Authorization".into(), format!("Basic {encoded}"))],
                    None,
                )
            }
            AuthConfig::ApiKey {
                key,
                header_name,
                location: KeyLocation::Header,
                ..
            } => (vec![(header_name.clone(), key.clone())], None),
            AuthConfig::ApiKey {
                key,
                location: KeyLocation::Query,
                param_name,
                ..
            } => (Vec::new(), Some((param_name.clone(), key.clone()))),
            AuthConfig::Custom { headers } => (
                headers
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                None,
            ),
        };
        Applied { headers, query }
    }

    /// Every secret value as it may appear on the wire (for redaction). Values shorter than
    /// four characters are left out: redacting them would garble unrelated text.
    pub fn secret_values(&self) -> Vec<String> {
        let mut out = Vec::new();
        match self {
            AuthConfig::None => {}
            AuthConfig::Bearer { token } => out.push(token.clone()),
            AuthConfig::Basic { password, .. } => out.push(password.clone()),
            AuthConfig::ApiKey { key, .. } => out.push(key.clone()),
            AuthConfig::Custom { headers } => out.extend(headers.values().cloned()),
        }
        out.extend(self.apply().headers.into_iter().map(|(_, v)| v));
        out.retain(|s| s.chars().count() >= 4);
        // Longest first, so that a value containing another is replaced whole.
        out.sort_by_key(|s| std::cmp::Reverse(s.len()));
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_type_parses_and_masks() {
        let c = AuthConfig::parse(
            AuthType::Bearer,
            Some(json!({"token": "tok-123456789"})),
            None,
        )
        .unwrap();
        assert_eq!(c.masked().unwrap(), json!({"token": "********6789"}));
        let c = AuthConfig::parse(
            AuthType::ApiKey,
            Some(json!({"key": "k-abcdefghij", "in": "query"})),
            None,
        )
        .unwrap();
        assert_eq!(
            c.apply().query.unwrap(),
            ("api_key".into(), "k-abcdefghij".into())
        );
        let e = AuthConfig::parse(
            AuthType::Basic,
            Some(json!({"username": "u", "x": 1})),
            None,
        )
        .unwrap_err();
        let mut fields: Vec<_> = e.details.as_object().unwrap().keys().cloned().collect();
        fields.sort();
        assert_eq!(fields, ["auth_config.password", "auth_config.x"]);
        assert!(AuthConfig::parse(AuthType::Custom, Some(json!({"headers": {}})), None).is_err());
    }

    #[test]
    fn a_masked_value_sent_back_keeps_the_secret() {
        let old = AuthConfig::Bearer {
            token: "the-real-token-1234".into(),
        };
        let shown = old.masked().unwrap();
        let again = AuthConfig::parse(AuthType::Bearer, Some(shown), Some(&old)).unwrap();
        assert_eq!(again, old);
        let kept = AuthConfig::parse(AuthType::Bearer, None, Some(&old)).unwrap();
        assert_eq!(kept, old);
        assert!(AuthConfig::parse(AuthType::Basic, None, Some(&old)).is_err());
    }

    #[test]
    fn secrets_for_redaction_include_the_wire_forms() {
        let c = AuthConfig::Basic {
            username: "alice".into(),
            password: "s3cret-pass".into(),
        };
        let s = c.secret_values();
        assert!(s.contains(&"s3cret-pass".to_owned()));
        assert!(s.iter().any(|v| v.starts_with("Basic ")));
    }
}
