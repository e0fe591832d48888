//! The inbox's query strings, parsed by hand (repeated keys such as `tag_ids[]=a&tag_ids[]=b`,
//! `1`/`0` booleans, blank values read as absent), and their OpenAPI description next to the
//! parser, so each parameter is documented as it is read: the parameter sets below implement
//! `utoipa::IntoParams` and are named in the handlers' `params(...)`.

use utoipa::IntoParams;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn, ParameterStyle};
use utoipa::openapi::schema::{
    AnyOfBuilder, ArrayBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type,
};
use utoipa::openapi::{Required, Schema};
use uuid::Uuid;
use zapini_shared::envelope::PageRequest;
use zapini_shared::time::parse_rfc3339;

use super::schemas::WHITE_SPACE;
use crate::error::{AppError, AppResult};

/// The largest `per_page` of every inbox listing.
pub(in crate::http) const MAX_PER_PAGE: u64 = 100;

/// A query string as (key, value) pairs, so repeated keys (`tag_ids[]=a&tag_ids[]=b`) work.
pub(in crate::http) struct Params(Vec<(String, String)>);

impl Params {
    pub(in crate::http) fn parse(raw: Option<String>) -> Params {
        Params(
            form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The last value of `key`; blank values read as absent.
    pub(in crate::http) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.trim().is_empty())
    }

    fn all(&self, key: &str) -> Vec<&str> {
        let bracket = format!("{key}[]");
        self.0
            .iter()
            .filter(|(k, _)| *k == key || *k == bracket || k.starts_with(&format!("{key}[")))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub(in crate::http) fn bool(&self, key: &str) -> AppResult<Option<bool>> {
        opt_bool(key, self.get(key))
    }

    pub(in crate::http) fn int<T: std::str::FromStr>(&self, key: &str) -> AppResult<Option<T>> {
        opt_int(key, self.get(key))
    }

    pub(in crate::http) fn page(&self, default: u64) -> AppResult<PageRequest> {
        Ok(PageRequest::new(
            self.int("page")?,
            self.int("per_page")?,
            default,
            MAX_PER_PAGE,
        )?)
    }

    /// `format=chat` (anything else but empty is a 422).
    pub(super) fn chat(&self) -> AppResult<bool> {
        match self.get("format") {
            None => Ok(false),
            Some(f) if f.eq_ignore_ascii_case("chat") => Ok(true),
            Some(_) => Err(AppError::validation(
                "format",
                "The format field must be chat.",
            )),
        }
    }

    /// `tag_ids` (repeated, `tag_ids[]`, comma-separated) and `tag_id`, as UUIDs.
    pub(super) fn tag_uuids(&self) -> AppResult<Vec<Uuid>> {
        let mut out = Vec::new();
        let raw = self
            .all("tag_ids")
            .into_iter()
            .flat_map(|v| v.split(','))
            .map(|s| ("tag_ids", s))
            .chain(self.get("tag_id").map(|s| ("tag_id", s)));
        for (field, s) in raw {
            let s = s.trim();
            if s.is_empty() {
                continue;
            }
            out.push(Uuid::parse_str(s).map_err(|_| {
                AppError::validation(field, format!("The {field} field must hold tag UUIDs."))
            })?);
        }
        Ok(out)
    }
}

pub(in crate::http) fn opt_bool(field: &str, v: Option<&str>) -> AppResult<Option<bool>> {
    match v.map(str::trim) {
        None | Some("") => Ok(None),
        Some("1" | "true") => Ok(Some(true)),
        Some("0" | "false") => Ok(Some(false)),
        Some(_) => Err(AppError::validation(
            field,
            format!("The {field} field must be true or false."),
        )),
    }
}

pub(in crate::http) fn opt_int<T: std::str::FromStr>(
    field: &str,
    v: Option<&str>,
) -> AppResult<Option<T>> {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s.parse().map(Some).map_err(|_| {
            AppError::validation(field, format!("The {field} field must be an integer."))
        }),
    }
}

pub(in crate::http) fn opt_time(
    field: &str,
    v: Option<&str>,
) -> AppResult<Option<chrono::DateTime<chrono::Utc>>> {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => parse_rfc3339(s).map(Some).map_err(|_| {
            AppError::validation(
                field,
                format!("The {field} field must be an ISO 8601 date."),
            )
        }),
    }
}

// ---- the OpenAPI description of the parameters above ----

pub(in crate::http) fn query(
    name: &str,
    description: &str,
    schema: impl Into<Schema>,
) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(schema.into()))
        .build()
}

pub(in crate::http) fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn integer(min: Option<u64>, max: Option<u64>, default: Option<u64>) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(min)
        .maximum(max)
        .default(default.map(Into::into))
}

/// A boolean read by [`opt_bool`].
pub(in crate::http) fn boolean(name: &str, description: &str) -> Parameter {
    query(
        name,
        &format!("{description} `true` or `1`, `false` or `0`; absent or empty means no filter."),
        or_blank(ObjectBuilder::new().schema_type(Type::Boolean)),
    )
}

/// A parameter whose blank value reads as absent ([`Params::get`]): the schema admits a blank
/// string too, so that the document is exactly as strict as the parser.
pub(in crate::http) fn or_blank(schema: ObjectBuilder) -> AnyOfBuilder {
    AnyOfBuilder::new()
        .item(schema)
        .item(string().pattern(Some(format!("^[{WHITE_SPACE}]*$"))))
}

pub(in crate::http) fn uuid() -> ObjectBuilder {
    string().format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
}

pub(in crate::http) fn page() -> Parameter {
    query(
        "page",
        "Page number, from 1.",
        or_blank(integer(Some(1), Some(u64::MAX), Some(1))),
    )
}

pub(in crate::http) fn per_page(default: u64) -> Parameter {
    query(
        "per_page",
        &format!("Items per page (max {MAX_PER_PAGE}, default {default})."),
        or_blank(integer(Some(1), Some(MAX_PER_PAGE), Some(default))),
    )
}

fn instance_id(what: &str) -> Parameter {
    query(
        "instance_id",
        &format!(
            "Only {what} of this instance: its numeric id or UUID. An unknown instance is 404 \
             `INSTANCE_NOT_FOUND`; with an `sk_` token, another instance is 403 \
             `INSTANCE_FORBIDDEN` (the token's own instance is the default)."
        ),
        string(),
    )
}

fn format_chat() -> Parameter {
    query(
        "format",
        "`chat` for the chat-optimized shape (case-insensitive), as the `/chat/…` routes answer.",
        or_blank(string().enum_values(Some(["chat"]))),
    )
}

/// The filters every conversation listing takes.
fn conversation_filters() -> Vec<Parameter> {
    vec![
        page(),
        per_page(15),
        instance_id("the conversations"),
        boolean(
            "unread",
            "Only unread conversations (`true`) or only read ones (`false`).",
        ),
        boolean(
            "is_group",
            "Only groups (`true`) or only one-to-one chats (`false`).",
        ),
        query(
            "search",
            "Search by name or number: the conversation's name, its chat JID, or the contact's \
             name, push name or number (case-insensitive substring).",
            string(),
        ),
        query(
            "tag_id",
            "Only conversations with this tag (UUID).",
            or_blank(uuid()),
        ),
        ParameterBuilder::from(query(
            "tag_ids",
            "Only conversations with any of these tags (UUIDs): repeated (`tag_ids=a&tag_ids=b`), \
             as `tag_ids[]=a&tag_ids[]=b`, or comma-separated (`tag_ids=a,b`). Combined with \
             `tag_id`.",
            ArrayBuilder::new().items(or_blank(uuid())).build(),
        ))
        .style(Some(ParameterStyle::Form))
        .explode(Some(true))
        .build(),
        boolean("untagged", "`true`: only conversations without tags."),
    ]
}

/// `GET /conversations` and `/conversations/archived`.
pub(in crate::http) struct ConversationListQuery;

impl IntoParams for ConversationListQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let mut params = conversation_filters();
        params.push(boolean(
            "include_tags",
            "Include each conversation's `tags` (always included with `format=chat`).",
        ));
        params.push(format_chat());
        params
    }
}

/// `GET /chat/conversations`: the same filters, always in the chat shape.
pub(in crate::http) struct ChatListQuery;

impl IntoParams for ChatListQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        conversation_filters()
    }
}

/// `GET /conversations/{id}`.
pub(in crate::http) struct FormatQuery;

impl IntoParams for FormatQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![format_chat()]
    }
}

fn history_filters() -> Vec<Parameter> {
    let date = |name: &str, what: &str| {
        query(
            name,
            &format!("{what} (ISO 8601 / RFC 3339, e.g. `2025-01-15T10:30:00Z`)."),
            or_blank(string().format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))),
        )
    };
    let id = |name: &str, what: &str| {
        query(
            name,
            what,
            or_blank(
                integer(None, None, None)
                    .minimum(Some(i64::MIN))
                    .maximum(Some(i64::MAX)),
            ),
        )
    };
    vec![
        date("from", "Only messages sent at or after this time"),
        date("to", "Only messages sent at or before this time"),
        id(
            "before_id",
            "Messages before this message `id` (the newest of them first), for paging back.",
        ),
        id(
            "after_id",
            "Messages after this message `id` (the oldest of them first), for catching up.",
        ),
        query(
            "limit",
            "How many messages (max 100, default 50).",
            or_blank(integer(Some(1), Some(100), Some(50))),
        ),
    ]
}

/// `GET /conversations/{id}/messages`.
pub(in crate::http) struct HistoryQuery;

impl IntoParams for HistoryQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let mut params = history_filters();
        params.push(format_chat());
        params
    }
}

/// `GET /chat/conversations/{id}/messages`.
pub(in crate::http) struct ChatHistoryQuery;

impl IntoParams for ChatHistoryQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        history_filters()
    }
}

/// `GET /contacts`.
pub(in crate::http) struct ContactListQuery;

impl IntoParams for ContactListQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            page(),
            per_page(15),
            instance_id("the contacts"),
            query(
                "search",
                "Search by name, push name, email or company (case-insensitive substring), or \
                 by the digits of the number.",
                string(),
            ),
        ]
    }
}

/// `GET /contacts/export`.
pub(in crate::http) struct ContactExportQuery;

impl IntoParams for ContactExportQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            instance_id("the contacts"),
            query(
                "format",
                "`json` (default) or `csv` (case-insensitive).",
                or_blank(
                    string()
                        .enum_values(Some(["json", "csv"]))
                        .default(Some("json".into())),
                ),
            ),
        ]
    }
}

/// The automation listings.
pub(in crate::http) struct InstanceFilterQuery;

impl IntoParams for InstanceFilterQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![instance_id("the entities")]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_bracketed_and_comma_separated_tags() {
        let a = Uuid::new_v4();
        let b = Uuid::new_v4();
        let c = Uuid::new_v4();
        let p = Params::parse(Some(format!("tag_ids[]={a}&tag_ids={b},&tag_id={c}")));
        assert_eq!(p.tag_uuids().unwrap(), vec![a, b, c]);
        assert!(Params::parse(Some("tag_ids=x".into())).tag_uuids().is_err());
    }

    #[test]
    fn every_listing_parameter_is_documented() {
        let names: Vec<String> = ConversationListQuery::into_params(|| None)
            .into_iter()
            .map(|p| p.name)
            .collect();
        for key in [
            "page",
            "per_page",
            "instance_id",
            "unread",
            "is_group",
            "search",
            "tag_id",
            "tag_ids",
            "untagged",
            "include_tags",
            "format",
        ] {
            assert!(names.iter().any(|n| n == key), "{key} undocumented");
        }
    }
}
