//! A reaction to a stored message: one row per reactor (a new emoji replaces the old one).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "message_reactions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub message_id: i64,
    /// The reactor's JID without device (our own for `from_me`).
    pub reactor_jid: String,
    pub from_me: bool,
    /// Empty for a removed reaction (kept so that an older change arriving late is ignored).
    pub emoji: String,
    /// When the reaction (or its removal) was made.
    pub created_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
