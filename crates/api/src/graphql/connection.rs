//! Relay connections over the DAL's offset pages. Cursors are opaque: base64 of the
//! offset of the next item. `first` defaults to 50 and must be 1–100.

use async_graphql::connection::{Connection, CursorType, Edge};
use async_graphql::{OutputType, SimpleObject};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use crust_dal::{Page, Paged};

use crate::error::ApiError;

pub const DEFAULT_PAGE: i32 = 50;
pub const MAX_PAGE: i32 = 100;
/// The deepest a cursor may point into a list.
pub const MAX_OFFSET: i64 = 1_000_000_000;

#[derive(SimpleObject)]
pub struct Totals {
    /// How many items the caller may see in the whole list.
    pub total_count: i64,
}

pub type Conn<N> = Connection<Offset, N, Totals>;

/// An edge's cursor: the offset of the next item, encoded only when a query asks for
/// it (a page of tasks rarely does; encoding every edge's cost two allocations each).
pub struct Offset(i64);

impl CursorType for Offset {
    type Error = &'static str;

    fn decode_cursor(s: &str) -> Result<Self, Self::Error> {
        decode_cursor(s)
            .map(Offset)
            .ok_or("not a cursor this list returned")
    }

    fn encode_cursor(&self) -> String {
        encode_cursor(self.0)
    }
}

/// One page of a list the DAL filters for the caller: reads the page arguments and the
/// caller, runs `fetch` on a pooled connection and wraps each row — the shape of every
/// paged list resolver.
pub async fn paged<T, N, F, W>(
    ctx: &async_graphql::Context<'_>,
    first: Option<i32>,
    after: Option<String>,
    fetch: F,
    wrap: W,
) -> Result<Conn<N>, ApiError>
where
    F: FnOnce(
            &mut crust_dal::PgConnection,
            &crust_dal::Actor,
            Page,
        ) -> crust_dal::DalResult<Paged<T>>
        + Send
        + 'static,
    T: Send + 'static,
    N: OutputType,
    W: Fn(T) -> N,
{
    let (actor, page) = (super::actor(ctx)?, page(first, after)?);
    let rows = super::db(ctx)?.run(move |c| fetch(c, &actor, page)).await?;
    Ok(connection(rows, wrap))
}

pub fn page(first: Option<i32>, after: Option<String>) -> Result<Page, ApiError> {
    let limit = first.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::BadUserInput(format!(
            "first: must be between 1 and {MAX_PAGE} (got {limit}): read a longer list page by page, passing each page's `pageInfo.endCursor` as `after:`"
        )));
    }
    let offset = match after {
        None => 0,
        Some(cursor) => decode_cursor(&cursor).ok_or_else(|| {
            ApiError::BadUserInput(
                "after: not a cursor this list returned; pass `pageInfo.endCursor` from the previous page of the same list, or leave `after` out to start at the beginning"
                    .into(),
            )
        })?,
    };
    Ok(Page {
        offset,
        limit: i64::from(limit),
    })
}

fn encode_cursor(offset: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("o:{offset}"))
}

fn decode_cursor(cursor: &str) -> Option<i64> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    // Bounded so that offset + page size can never overflow.
    text.strip_prefix("o:")?
        .parse()
        .ok()
        .filter(|o: &i64| (0..=MAX_OFFSET).contains(o))
}

pub fn connection<T, N: OutputType>(paged: Paged<T>, node: impl Fn(T) -> N) -> Conn<N> {
    let count = paged.items.len() as i64;
    let has_next = paged.offset + count < paged.total;
    let mut conn = Connection::with_additional_fields(
        paged.offset > 0,
        has_next,
        Totals {
            total_count: paged.total,
        },
    );
    conn.edges.extend(
        paged
            .items
            .into_iter()
            .enumerate()
            .map(|(i, item)| Edge::new(Offset(paged.offset + i as i64 + 1), node(item))),
    );
    conn
}

/// What a list costs in the complexity limit: its page size times what each item asks
/// for (plus one for the list itself). `first` is validated separately (1–100); here an
/// out-of-range value is clamped so the estimate never undercounts.
pub fn cost(first: Option<i32>, child_complexity: usize) -> usize {
    let page = usize::try_from(first.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE)).unwrap_or(1);
    page.saturating_mul(child_complexity).saturating_add(1)
}

/// The assumed size of an unpaginated list (assignees, dependencies, grants).
pub const LIST_COST: usize = 10;
/// The assumed size of a recipe's whole structure.
pub const TREE_COST: usize = 100;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_bad_ones_are_refused() {
        assert_eq!(decode_cursor(&encode_cursor(42)), Some(42));
        assert_eq!(decode_cursor("not-a-cursor"), None);
        assert_eq!(decode_cursor(&encode_cursor(i64::MAX)), None, "no overflow");
        assert!(page(Some(0), None).is_err());
        assert!(page(Some(101), None).is_err());
        assert_eq!(page(None, None).map(|p| p.limit).ok(), Some(50));
    }
}
