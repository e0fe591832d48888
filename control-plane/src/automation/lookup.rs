//! Row ids to UUIDs, read in one query: the views of rows that keep numeric ids (an
//! instance, an integration, a conversation, a session) show the UUIDs the API speaks.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use crate::error::AppResult;

/// The UUIDs of the rows with `ids` (`id` and `uuid` are the table's two columns); none
/// read when `ids` is empty. An id with no row is left out.
pub(crate) async fn uuids_by_id<Col, C>(
    conn: &C,
    id: Col,
    uuid: Col,
    ids: Vec<i64>,
) -> AppResult<HashMap<i64, Uuid>>
where
    Col: ColumnTrait,
    Col::EntityName: EntityTrait,
    C: ConnectionTrait,
{
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(<Col::EntityName as EntityTrait>::find()
        .select_only()
        .column(id)
        .column(uuid)
        .filter(id.is_in(ids))
        .into_tuple::<(i64, Uuid)>()
        .all(conn)
        .await?
        .into_iter()
        .collect())
}
