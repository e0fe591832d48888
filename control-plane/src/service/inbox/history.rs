//! Message history of a conversation, in the standard shape or the chat shape
//! (`formatted_body` with resolved @mentions, `grouped_reactions`), with the transcription
//! fields of audio messages.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;
use zapini_shared::jid::Jid;

use crate::db::entities::{
    contact, conversation, message, message_reaction, message_transcription,
};
use crate::domain::Caller;
use crate::error::AppResult;
use crate::service::Services;
use crate::service::message_types::{MessageView, TranscriptionFields, message_view};

pub struct MessageFilter {
    pub before_id: Option<i64>,
    pub after_id: Option<i64>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub limit: u64,
}

/// The reactions of one emoji on a message (chat shape).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GroupedReaction {
    #[schema(example = "👍")]
    pub emoji: String,
    pub count: usize,
    /// Whether this instance reacted with it.
    pub has_my_reaction: bool,
    /// The reactors' numbers (this instance's own number for its reaction).
    pub reactors: Vec<String>,
    /// Their names (the contact's name, else the number; `You` for this instance).
    pub reactor_names: Vec<String>,
}

/// A message of a conversation's history: the message, its transcription fields and, in the
/// chat shape, `formatted_body` and `grouped_reactions`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HistoryMessage {
    #[serde(flatten)]
    pub message: MessageView,
    /// Chat shape only: the body as HTML, every character escaped and each @mention of a
    /// mentioned JID resolved to `<span class="mention" data-phone="…">@Name</span>`; null
    /// without a body.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub formatted_body: Option<Option<String>>,
    /// Chat shape only: reactions grouped by emoji.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub grouped_reactions: Option<Vec<GroupedReaction>>,
    #[serde(flatten)]
    pub transcription: TranscriptionFields,
}

/// A window of a conversation's messages, oldest first.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ConversationHistory)]
pub struct History {
    pub messages: Vec<HistoryMessage>,
    /// More messages lie beyond the window (before it, or after it with `after_id`).
    pub has_more: bool,
    /// The first message's `id`: the next page back is `before_id={oldest_id}`.
    pub oldest_id: Option<i64>,
    /// The last message's `id`.
    pub newest_id: Option<i64>,
}

/// Escapes text for HTML element content and attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The body as HTML: every character escaped, and each `@<number>` of a mentioned JID
/// replaced by `<span class="mention" data-phone="<number>">@<name></span>`, the name being
/// the contact's (or the number when unknown).
pub fn format_body(body: &str, mentions: &HashMap<String, String>) -> String {
    let mut out = String::with_capacity(body.len() + 32);
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '@' {
            let start = i + 1;
            let mut end = start;
            while let Some(&(j, d)) = chars.peek() {
                if d.is_ascii_digit() {
                    end = j + 1;
                    chars.next();
                } else {
                    break;
                }
            }
            let number = &body[start..end];
            match mentions.get(number) {
                Some(name) if !number.is_empty() => {
                    out.push_str(&format!(
                        "<span class=\"mention\" data-phone=\"{number}\">@{}</span>",
                        html_escape(name)
                    ));
                }
                _ => {
                    out.push('@');
                    out.push_str(number);
                }
            }
        } else {
            out.push_str(&html_escape(c.encode_utf8(&mut [0; 4])));
        }
    }
    out
}

fn jid_user(jid: &str) -> String {
    Jid::parse(jid).map_or_else(
        |_| jid.split('@').next().unwrap_or_default().to_owned(),
        |j| j.user().to_owned(),
    )
}

impl Services {
    /// A conversation's messages, newest first within the window, returned oldest first.
    pub async fn conversation_history(
        &self,
        caller: &Caller,
        reference: &str,
        filter: MessageFilter,
        chat: bool,
    ) -> AppResult<History> {
        let c = self.find_conversation(caller, reference).await?;
        let mut query = message::Entity::find().filter(message::Column::ConversationId.eq(c.id));
        if let Some(b) = filter.before_id {
            query = query.filter(message::Column::Id.lt(b));
        }
        if let Some(a) = filter.after_id {
            query = query.filter(message::Column::Id.gt(a));
        }
        if let Some(f) = filter.from {
            query = query.filter(message::Column::SentAt.gte(f));
        }
        if let Some(t) = filter.to {
            query = query.filter(message::Column::SentAt.lte(t));
        }
        let ordered = if filter.after_id.is_some() {
            query.order_by_asc(message::Column::Id)
        } else {
            query.order_by_desc(message::Column::Id)
        };
        let mut rows = ordered.limit(filter.limit + 1).all(&self.db).await?;
        let has_more = rows.len() as u64 > filter.limit;
        rows.truncate(usize::try_from(filter.limit).unwrap_or(usize::MAX));
        rows.sort_by_key(|m| m.id);
        let messages = self.history_messages(&c, &rows, chat).await?;
        Ok(History {
            oldest_id: rows.first().map(|m| m.id),
            newest_id: rows.last().map(|m| m.id),
            messages,
            has_more,
        })
    }

    /// Message rows as history shows them (all of one conversation).
    pub(crate) async fn history_messages(
        &self,
        c: &conversation::Model,
        rows: &[message::Model],
        chat: bool,
    ) -> AppResult<Vec<HistoryMessage>> {
        let ids: Vec<i64> = rows.iter().map(|m| m.id).collect();
        let mut transcriptions: HashMap<i64, TranscriptionFields> = HashMap::new();
        if rows
            .iter()
            .any(|m| m.message_type == "audio" || m.message_type == "voice")
        {
            for t in message_transcription::Entity::find()
                .filter(message_transcription::Column::MessageId.is_in(ids.clone()))
                .all(&self.db)
                .await?
            {
                transcriptions.insert(t.message_id, (&t).into());
            }
        }
        let (mut reactions, names) = if chat {
            self.reactions_and_names(c, rows, &ids).await?
        } else {
            (HashMap::new(), HashMap::new())
        };
        Ok(rows
            .iter()
            .map(|m| {
                let view = message_view(m, c.uuid, &self.media_urls);
                let formatted_body = chat.then(|| {
                    m.body.as_deref().map(|body| {
                        let mentions: HashMap<String, String> = view
                            .mentioned_jids
                            .iter()
                            .map(|j| {
                                let user = jid_user(j);
                                let name =
                                    names.get(&user).cloned().unwrap_or_else(|| user.clone());
                                (user, name)
                            })
                            .collect();
                        format_body(body, &mentions)
                    })
                });
                HistoryMessage {
                    message: view,
                    formatted_body,
                    grouped_reactions: chat.then(|| reactions.remove(&m.id).unwrap_or_default()),
                    transcription: transcriptions.remove(&m.id).unwrap_or_default(),
                }
            })
            .collect())
    }

    /// Reactions of the messages grouped by emoji, and the names (by number) of everyone
    /// mentioned or reacting.
    async fn reactions_and_names(
        &self,
        c: &conversation::Model,
        rows: &[message::Model],
        ids: &[i64],
    ) -> AppResult<(HashMap<i64, Vec<GroupedReaction>>, HashMap<String, String>)> {
        let reactions = message_reaction::Entity::find()
            .filter(message_reaction::Column::MessageId.is_in(ids.to_vec()))
            // An empty emoji is a removed reaction, kept to order later changes.
            .filter(message_reaction::Column::Emoji.ne(""))
            .order_by_asc(message_reaction::Column::Id)
            .all(&self.db)
            .await?;
        let mut people: Vec<String> = reactions
            .iter()
            .filter(|r| !r.from_me)
            .map(|r| r.reactor_jid.clone())
            .collect();
        for m in rows {
            let mentioned: Vec<String> = m
                .mentioned_jids
                .as_ref()
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .unwrap_or_default();
            for j in mentioned {
                if let Ok(jid) = Jid::parse(&j) {
                    people.push(jid.without_device().to_string());
                }
            }
        }
        people.sort_unstable();
        people.dedup();
        let mut names = HashMap::new();
        for chunk in people.chunks(500) {
            for k in contact::Entity::find()
                .filter(contact::Column::InstanceId.eq(c.instance_id))
                .filter(contact::Column::Jid.is_in(chunk.to_vec()))
                .all(&self.db)
                .await?
            {
                if let Some(name) = k.name.clone().or(k.push_name.clone()) {
                    names.insert(jid_user(&k.jid), name);
                }
            }
        }
        // Our own reactions are listed under the instance's number.
        let own_number = if reactions.iter().any(|r| r.from_me) {
            crate::db::entities::instance::Entity::find_by_id(c.instance_id)
                .one(&self.db)
                .await?
                .and_then(|i| i.phone_number)
                .unwrap_or_default()
        } else {
            String::new()
        };
        let mut grouped: HashMap<i64, Vec<GroupedReaction>> = HashMap::new();
        for r in reactions {
            let list = grouped.entry(r.message_id).or_default();
            let number = if r.from_me {
                own_number.clone()
            } else {
                jid_user(&r.reactor_jid)
            };
            let name = if r.from_me {
                "You".to_owned()
            } else {
                names
                    .get(&number)
                    .cloned()
                    .unwrap_or_else(|| number.clone())
            };
            let idx = match list.iter().position(|g| g.emoji == r.emoji) {
                Some(i) => i,
                None => {
                    list.push(GroupedReaction {
                        emoji: r.emoji.clone(),
                        count: 0,
                        has_my_reaction: false,
                        reactors: Vec::new(),
                        reactor_names: Vec::new(),
                    });
                    list.len() - 1
                }
            };
            let g = &mut list[idx];
            g.count += 1;
            g.has_my_reaction |= r.from_me;
            g.reactors.push(number);
            g.reactor_names.push(name);
        }
        Ok((grouped, names))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_become_spans_and_text_is_escaped() {
        let mut m = HashMap::new();
        m.insert("5521999999999".to_owned(), "John <Doe>".to_owned());
        assert_eq!(
            format_body("Ola @5521999999999! <b>&", &m),
            "Ola <span class=\"mention\" data-phone=\"5521999999999\">@John &lt;Doe&gt;</span>! &lt;b&gt;&amp;"
        );
    }

    #[test]
    fn unknown_and_partial_mentions_stay_text() {
        let mut m = HashMap::new();
        m.insert("552199".to_owned(), "X".to_owned());
        assert_eq!(
            format_body("@5521999 @ a@b \"q\"", &m),
            "@5521999 @ a@b &quot;q&quot;"
        );
        assert_eq!(
            format_body("hi @552199", &m),
            "hi <span class=\"mention\" data-phone=\"552199\">@X</span>"
        );
    }
}
