//! What every paginated, searchable list shares: the row offset of a page, one page with the
//! total, and the case-insensitive "contains" of a search box.

use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QuerySelect,
    Select,
};

/// The rows before `page` (1-based). Databases take a signed 64-bit offset: a page past it is
/// simply empty.
pub fn offset(page: u64, per_page: u64) -> u64 {
    std::cmp::min(
        page.saturating_sub(1).saturating_mul(per_page),
        i64::MAX.unsigned_abs(),
    )
}

/// Page `page` (1-based) of `query` in its order, and how many rows it matches in all.
pub async fn page_of<E, C>(
    db: &C,
    query: Select<E>,
    page: u64,
    per_page: u64,
) -> Result<(Vec<E::Model>, u64), DbErr>
where
    E: EntityTrait,
    E::Model: Sync,
    C: ConnectionTrait,
{
    let total = query.clone().count(db).await?;
    let rows = query
        .offset(offset(page, per_page))
        .limit(per_page)
        .all(db)
        .await?;
    Ok((rows, total))
}

/// `%term%` in lower case, with `%`, `_` and `\` dropped so a user's text never acts as a
/// wildcard.
pub fn like_pattern(term: &str) -> String {
    format!("%{}%", term.to_lowercase().replace(['%', '_', '\\'], ""))
}

/// Rows where any of `columns` contains `term`, ignoring case.
pub fn contains_any<C: ColumnTrait>(term: &str, columns: &[C]) -> Condition {
    let pattern = like_pattern(term);
    columns.iter().fold(Condition::any(), |any, c| {
        any.add(Expr::expr(Func::lower(Expr::col(*c))).like(pattern.clone()))
    })
}

/// What a search box asks for: rows where any of `columns` contains its text, ignoring case;
/// `None` when the box is missing or blank.
pub fn search<C: ColumnTrait>(term: Option<&str>, columns: &[C]) -> Option<Condition> {
    term.map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| contains_any(t, columns))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_and_patterns() {
        assert_eq!(offset(1, 20), 0);
        assert_eq!(offset(3, 20), 40);
        assert_eq!(offset(0, 20), 0);
        assert_eq!(offset(u64::MAX, 100), i64::MAX.unsigned_abs());
        assert_eq!(like_pattern("Ana_100%"), "%ana100%");
    }
}
