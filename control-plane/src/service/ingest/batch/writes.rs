//! The writes a batch defers to its end: the counters (daily stats, last activity) and the
//! conversations changed in memory, each many rows to one statement.

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::db::entities::{conversation, instance, message};
use crate::error::AppResult;
use crate::service::Services;

/// Counter changes of a batch, written once at its end instead of once per message.
#[derive(Default)]
pub(in crate::service::ingest) struct Totals {
    /// (day, sent, received)
    days: Vec<(chrono::NaiveDate, i32, i32)>,
    activity: bool,
}

impl Totals {
    pub(in crate::service::ingest) fn count(&mut self, day: chrono::NaiveDate, from_me: bool) {
        let (sent, received) = if from_me { (1, 0) } else { (0, 1) };
        match self.days.iter_mut().find(|(d, _, _)| *d == day) {
            Some((_, s, r)) => {
                *s += sent;
                *r += received;
            }
            None => self.days.push((day, sent, received)),
        }
        self.activity = true;
    }

    pub(super) async fn write<C: ConnectionTrait>(
        self,
        conn: &C,
        instance: &instance::Model,
    ) -> AppResult<()> {
        for (day, sent, received) in self.days {
            Services::bump_daily(conn, instance.id, day, sent, received).await?;
        }
        if self.activity {
            instance::Entity::update_many()
                .col_expr(instance::Column::LastActivityAt, Expr::value(Utc::now()))
                .filter(instance::Column::Id.eq(instance.id))
                .exec(conn)
                .await?;
        }
        Ok(())
    }
}

/// About how many bytes a message row adds to a multi-row insert (SQL text and values).
pub(super) fn message_size(m: &message::ActiveModel) -> usize {
    use sea_orm::ActiveValue::{Set, Unchanged};
    let text = match &m.body {
        Set(Some(s)) | Unchanged(Some(s)) => s.len(),
        _ => 0,
    };
    let json = |v: &sea_orm::ActiveValue<Option<serde_json::Value>>| match v {
        Set(Some(j)) | Unchanged(Some(j)) => j.to_string().len(),
        _ => 0,
    };
    400 + text + json(&m.media) + json(&m.mentioned_jids)
}

/// Writes many conversations' changes in one statement: each column is a `CASE id WHEN …`
/// over the conversations that changed it.
pub(super) async fn update_conversations<C: ConnectionTrait>(
    conn: &C,
    changes: &[(conversation::Model, ConvChange)],
) -> AppResult<()> {
    use sea_orm::sea_query::CaseStatement;
    let column = |col: conversation::Column,
                  pick: &dyn Fn(
        &conversation::Model,
        &ConvChange,
    ) -> Option<sea_orm::sea_query::Expr>| {
        let mut case = CaseStatement::new();
        let mut any = false;
        for (conv, change) in changes {
            if let Some(value) = pick(conv, change) {
                case = case.case(conversation::Column::Id.eq(conv.id), value);
                any = true;
            }
        }
        any.then(|| (col, case.finally(Expr::col(col))))
    };
    let columns = [
        column(conversation::Column::LastMessage, &|c, ch| {
            ch.last_message.then(|| Expr::value(c.last_message.clone()))
        }),
        column(conversation::Column::LastMessageAt, &|c, ch| {
            ch.last_message.then(|| Expr::value(c.last_message_at))
        }),
        column(conversation::Column::UnreadCount, &|_, ch| {
            (ch.unread > 0).then(|| Expr::col(conversation::Column::UnreadCount).add(ch.unread))
        }),
        column(conversation::Column::DisplayName, &|c, ch| {
            ch.display_name.then(|| Expr::value(c.display_name.clone()))
        }),
        column(conversation::Column::IsArchived, &|_, ch| {
            ch.unarchive.then(|| Expr::value(false))
        }),
        column(conversation::Column::ArchivedAt, &|_, ch| {
            ch.unarchive
                .then(|| Expr::value(Option::<chrono::DateTime<Utc>>::None))
        }),
    ];
    let mut update = conversation::Entity::update_many()
        .col_expr(conversation::Column::UpdatedAt, Expr::value(Utc::now()));
    for (col, case) in columns.into_iter().flatten() {
        update = update.col_expr(col, case.into());
    }
    update
        .filter(conversation::Column::Id.is_in(changes.iter().map(|(c, _)| c.id)))
        .exec(conn)
        .await?;
    Ok(())
}

/// Changes to a conversation row made in memory during a batch, written once at its end.
#[derive(Default)]
pub(super) struct ConvChange {
    pub(super) last_message: bool,
    pub(super) unread: i32,
    pub(super) display_name: bool,
    /// A message came in on an archived conversation: it returns to the inbox.
    pub(super) unarchive: bool,
}
