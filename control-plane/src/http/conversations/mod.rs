//! Conversations: list (every filter of the reference), archived list, show, history,
//! mark-read, archive/restore, delete and tags; automation control in [`automation`], the
//! chat API's forms (`/chat/conversations…`) in [`chat`]. The query strings are parsed (and
//! described for the OpenAPI document) in [`query`].

mod automation;
mod chat;
mod examples;
pub(in crate::http) mod query;
mod schemas;

use axum::extract::{Path, RawQuery, State};
use axum::response::IntoResponse;
use serde::Deserialize;
use uuid::Uuid;
use zapini_shared::envelope::ApiResponse;
use zapini_shared::error::ErrorEnvelope;
use zapini_shared::time::format_micros;

use super::AppState;
use super::extract::{Auth, Json};
use crate::domain::Caller;
use crate::error::{AppError, AppResult};
use crate::service::inbox::actions::MarkedRead;
use crate::service::inbox::history::{History, MessageFilter};
use crate::service::inbox::{ConversationFilter, ConversationView, Shape};

pub use automation::*;
pub use chat::*;
pub(in crate::http) use query::{
    ContactExportQuery, ContactListQuery, InstanceFilterQuery, Params, opt_int, opt_time,
};
use query::{ConversationListQuery, FormatQuery, HistoryQuery};
use schemas::{
    CONVERSATION_404, CONVERSATION_ID, ConversationArchived, ConversationDeleted,
    ConversationRestored, ConversationTagList, INSTANCE_403, INSTANCE_404,
};
pub(in crate::http) use schemas::{instance_ref_schema, instance_value};

async fn list_with(
    state: &AppState,
    caller: &Caller,
    params: &Params,
    archived: bool,
    force_chat: bool,
) -> AppResult<axum::response::Response> {
    let page = params.page(15)?;
    let chat = force_chat || params.chat()?;
    let shape = if chat {
        Shape::Chat
    } else {
        Shape::Standard {
            tags: params.bool("include_tags")?.unwrap_or(false),
        }
    };
    let result = state
        .services
        .list_conversations(
            caller,
            ConversationFilter {
                instance: params.get("instance_id").map(str::to_owned),
                unread: params.bool("unread")?,
                is_group: params.bool("is_group")?,
                search: params.get("search").map(str::to_owned),
                tag_ids: params.tag_uuids()?,
                untagged: params.bool("untagged")?.unwrap_or(false),
                archived,
                page: page.page,
                per_page: page.per_page,
            },
            shape,
        )
        .await?;
    Ok(axum::Json(ApiResponse::paginated(
        result.items,
        page.meta(result.total),
    ))
    .into_response())
}

/// List conversations
///
/// Lists the active (not archived) conversations, most recent message first, with every
/// filter of the reference. `tags` is included with `include_tags=true` or `format=chat`;
/// `format=chat` also adds the `instance` block, as `GET /chat/conversations` does. With an
/// `sk_` token, only its instance's conversations.
#[utoipa::path(
    get,
    path = "/conversations",
    tag = "Conversations",
    operation_id = "conversations_list",
    params(ConversationListQuery),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "A page of conversations.",
            body = ApiResponse<Vec<ConversationView>>, example = examples::conversation_list),
        (status = 403, description = INSTANCE_403, body = ErrorEnvelope),
        (status = 404, description = INSTANCE_404, body = ErrorEnvelope),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    RawQuery(q): RawQuery,
) -> AppResult<impl IntoResponse> {
    list_with(&state, &caller, &Params::parse(q), false, false).await
}

/// List archived conversations
///
/// The archived conversations, with the same filters and shapes as `GET /conversations`.
/// Restore one with `DELETE /conversations/{id}/archive`.
#[utoipa::path(
    get,
    path = "/conversations/archived",
    tag = "Conversations",
    operation_id = "conversations_archived",
    params(ConversationListQuery),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "A page of archived conversations.",
            body = ApiResponse<Vec<ConversationView>>),
        (status = 403, description = INSTANCE_403, body = ErrorEnvelope),
        (status = 404, description = INSTANCE_404, body = ErrorEnvelope),
    )
)]
pub async fn archived(
    State(state): State<AppState>,
    Auth(caller): Auth,
    RawQuery(q): RawQuery,
) -> AppResult<impl IntoResponse> {
    list_with(&state, &caller, &Params::parse(q), true, false).await
}

/// Get a conversation
///
/// Returns details of a specific conversation, with its `tags` and automation state
/// (`format=chat` adds the `instance` block).
#[utoipa::path(
    get,
    path = "/conversations/{id}",
    tag = "Conversations",
    operation_id = "conversations_show",
    params(("id" = String, Path, description = CONVERSATION_ID), FormatQuery),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The conversation.", body = ApiResponse<ConversationView>),
        (status = 404, description = CONVERSATION_404, body = ErrorEnvelope),
    )
)]
pub async fn show(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> AppResult<impl IntoResponse> {
    let params = Params::parse(q);
    let shape = if params.chat()? {
        Shape::Chat
    } else {
        Shape::Standard { tags: true }
    };
    let c = state.services.get_conversation(&caller, &id, shape).await?;
    Ok(axum::Json(ApiResponse::data(c)))
}

async fn history(
    state: &AppState,
    caller: &Caller,
    id: &str,
    params: &Params,
    chat: bool,
) -> AppResult<axum::response::Response> {
    let limit: u64 = params.int("limit")?.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(AppError::validation(
            "limit",
            "The limit must be between 1 and 100.",
        ));
    }
    let h = state
        .services
        .conversation_history(
            caller,
            id,
            MessageFilter {
                before_id: params.int("before_id")?,
                after_id: params.int("after_id")?,
                from: opt_time("from", params.get("from"))?,
                to: opt_time("to", params.get("to"))?,
                limit,
            },
            chat,
        )
        .await?;
    Ok(axum::Json(ApiResponse::data(h)).into_response())
}

/// Message history
///
/// Returns message history for a conversation, oldest first within the window: the newest
/// `limit` messages, or those before `before_id` / after `after_id`, optionally between `from`
/// and `to`. `has_more` says whether more lie beyond the window. Audio messages carry their
/// transcription fields. `format=chat` adds `formatted_body` (resolved @mentions) and
/// `grouped_reactions`.
#[utoipa::path(
    get,
    path = "/conversations/{id}/messages",
    tag = "Conversations",
    operation_id = "conversations_messages",
    params(("id" = String, Path, description = CONVERSATION_ID), HistoryQuery),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The messages.", body = ApiResponse<History>),
        (status = 404, description = CONVERSATION_404, body = ErrorEnvelope),
    )
)]
pub async fn messages(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> AppResult<impl IntoResponse> {
    let params = Params::parse(q);
    let chat = params.chat()?;
    history(&state, &caller, &id, &params, chat).await
}

/// Mark as read
///
/// Marks a conversation as read (`unread_count` becomes 0) and sends read receipts for its
/// unread incoming messages through the instance; the receipts are best effort
/// (`read_receipt_sent`): a stopped or disconnected instance still gets the conversation
/// marked read.
#[utoipa::path(
    post,
    path = "/conversations/{id}/mark-read",
    tag = "Conversations",
    operation_id = "conversations_mark_read",
    params(("id" = String, Path, description = CONVERSATION_ID)),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "Marked read.", body = ApiResponse<MarkedRead>,
            example = examples::marked_read),
        (status = 404, description = CONVERSATION_404, body = ErrorEnvelope),
    )
)]
pub async fn mark_read(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    let r = state.services.mark_read(&caller, &id).await?;
    Ok(axum::Json(ApiResponse::message_data(
        "Conversation marked as read.",
        r,
    )))
}

/// Archive a conversation
///
/// Archives a conversation: it leaves `GET /conversations` for `GET /conversations/archived`.
/// Archiving an archived conversation keeps its first `archived_at`. A new incoming message,
/// or resuming its automation, brings it back.
#[utoipa::path(
    post,
    path = "/conversations/{id}/archive",
    tag = "Conversations",
    operation_id = "conversations_archive",
    params(("id" = String, Path, description = CONVERSATION_ID)),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "Archived.", body = ApiResponse<ConversationArchived>,
            example = examples::archived),
        (status = 404, description = CONVERSATION_404, body = ErrorEnvelope),
    )
)]
pub async fn archive(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    let (uuid, at) = state.services.archive_conversation(&caller, &id).await?;
    Ok(axum::Json(ApiResponse::message_data(
        "Conversation archived.",
        ConversationArchived {
            archived_id: uuid,
            archived_at: format_micros(at),
        },
    )))
}

/// Restore an archived conversation
///
/// Restores an archived conversation back to active status. The UUID must be from an archived
/// conversation (one that is not archived is 404); list them with
/// `GET /conversations/archived`.
#[utoipa::path(
    delete,
    path = "/conversations/{id}/archive",
    tag = "Conversations",
    operation_id = "conversations_restore",
    params(("id" = String, Path, description = "The archived conversation's UUID")),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "Restored.", body = ApiResponse<ConversationRestored>,
            example = examples::restored),
        (status = 404, description = "No such conversation for this token, or it is not archived (`NOT_FOUND`)", body = ErrorEnvelope),
    )
)]
pub async fn restore(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    let uuid = state.services.restore_conversation(&caller, &id).await?;
    Ok(axum::Json(ApiResponse::message_data(
        "Conversation restored.",
        ConversationRestored {
            conversation_id: uuid,
            restored: true,
        },
    )))
}

/// Delete a conversation
///
/// Deletes a conversation and its messages (with their reactions, transcriptions and tag
/// links). The contact stays.
#[utoipa::path(
    delete,
    path = "/conversations/{id}",
    tag = "Conversations",
    operation_id = "conversations_delete",
    params(("id" = String, Path, description = CONVERSATION_ID)),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "Deleted.", body = ApiResponse<ConversationDeleted>),
        (status = 404, description = CONVERSATION_404, body = ErrorEnvelope),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    state.services.delete_conversation(&caller, &id).await?;
    Ok(axum::Json(ApiResponse::message_data(
        "Conversation deleted.",
        ConversationDeleted {
            conversation_id: id.trim().to_owned(),
            deleted: true,
        },
    )))
}

/// `PUT /conversations/{id}/tags`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ConversationTagsBody)]
pub struct TagsBody {
    /// Tag UUIDs to assign (duplicates count once); `[]` removes every tag.
    #[schema(required = true, value_type = Vec<Uuid>)]
    tag_ids: Option<Vec<String>>,
}

/// Set a conversation's tags
///
/// Updates the tags assigned to a conversation. This replaces all existing tags with the
/// provided list; to remove all tags, send an empty array: `{"tag_ids": []}`. Tags are the
/// tenant's: an `sk_` token may assign them to its instance's conversations.
#[utoipa::path(
    put,
    path = "/conversations/{id}/tags",
    tag = "Conversations",
    operation_id = "conversations_set_tags",
    params(("id" = String, Path, description = CONVERSATION_ID)),
    request_body(content = TagsBody, example = examples::set_tags_body),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The conversation's tags now, by name.",
            body = ApiResponse<ConversationTagList>, example = examples::set_tags),
        (status = 404, description = CONVERSATION_404, body = ErrorEnvelope),
        (status = 422, description = "`tag_ids` is missing, holds something else than UUIDs, or names a tag the tenant does not have (`VALIDATION_ERROR`)", body = ErrorEnvelope),
    )
)]
pub async fn set_tags(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Json(body): Json<TagsBody>,
) -> AppResult<impl IntoResponse> {
    let raw = body
        .tag_ids
        .ok_or_else(|| AppError::validation("tag_ids", "The tag_ids field is required."))?;
    let mut ids = Vec::with_capacity(raw.len());
    for s in raw {
        let u = Uuid::parse_str(s.trim()).map_err(|_| {
            AppError::validation("tag_ids", "The tag_ids field must hold tag UUIDs.")
        })?;
        if !ids.contains(&u) {
            ids.push(u);
        }
    }
    let tags = state
        .services
        .set_conversation_tags(&caller, &id, ids)
        .await?;
    Ok(axum::Json(ApiResponse::message_data(
        "Conversation tags updated",
        ConversationTagList { tags },
    )))
}
