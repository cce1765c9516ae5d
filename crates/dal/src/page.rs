//! Offset pagination for lists; the API turns it into Relay connections.

/// A window of a list: skip `offset` rows, return at most `limit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Page {
    pub offset: i64,
    pub limit: i64,
}

impl Page {
    pub fn first(limit: i64) -> Self {
        Self { offset: 0, limit }
    }
}

/// One page of a list, with the total the actor may see (for `totalCount`).
#[derive(Clone, Debug)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub offset: i64,
}

impl<T> Paged<T> {
    /// The page `page` of a list that holds `total` rows the actor may see.
    pub fn new(items: Vec<T>, total: i64, page: Page) -> Self {
        Paged {
            items,
            total,
            offset: page.offset,
        }
    }

    /// An empty page (of a list the actor may see none of).
    pub fn empty(page: Page) -> Self {
        Self::new(Vec::new(), 0, page)
    }
}
