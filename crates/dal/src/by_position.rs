//! Rows read by position instead of by name. diesel's `QueryableByName` finds every
//! field by comparing its name with each column's in turn: a task of 16 fields in a row
//! of 18 columns costs about 150 string comparisons, for every row. A profile of the
//! project tree had that lookup at ~5 % of the server's CPU.
//!
//! [`by_position!`] implements `QueryableByName` for a struct of plain fields. It reads
//! by index when the row holds the struct's columns in the struct's order, and none of
//! their names appears before them (the columns before are few: a `parent`, a `kind`).
//! That is exactly when reading by name — which takes the first column of each name —
//! would read the same columns; one comparison per field instead of a scan per field.
//! Any other row (a hand-written query listing them otherwise, a name given twice) is
//! read by name, as the derive would.

use diesel::pg::Pg;
use diesel::row::{Field, Row};

/// Where `names` start, in this order, among the row's columns — if reading each by
/// name would read the same columns.
pub(crate) fn start_of<'a, R: Row<'a, Pg>>(row: &R, names: &[&str]) -> Option<usize> {
    let is = |i: usize, name: &str| row.get(i).is_some_and(|f| f.field_name() == Some(name));
    let first = names.first()?;
    // The first column named as the struct's first field: reading by name takes it.
    let start = (0..row.field_count()).find(|&i| is(i, first))?;
    let in_order = names
        .iter()
        .enumerate()
        .all(|(i, name)| is(start + i, name));
    // A later field's name before `start` would be read from there by name.
    let shadowed = (0..start).any(|i| names.iter().any(|name| is(i, name)));
    (in_order && !shadowed).then_some(start)
}

/// `by_position!(Task { id: Uuid, title: Text, status: Text as Stored<TaskStatus>, … })`:
/// `QueryableByName` for `Task`, each field given with its SQL type (as in `schema.rs`)
/// and, where the field's type is not read directly, the type read and converted from
/// (`as`), in the struct's order.
macro_rules! by_position {
    // A field read as its own type.
    (@read $row:ident, $start:ident, $at:ident, $field:ident, $st:ty) => {
        match $start {
            Some(start) => diesel::row::Row::get_value::<$st, _, usize>($row, start + $at)?,
            None => diesel::row::NamedRow::get::<$st, _>($row, stringify!($field))?,
        }
    };
    // A field read as `$via` and converted.
    (@read $row:ident, $start:ident, $at:ident, $field:ident, $st:ty, $via:ty) => {{
        let read: $via = $crate::by_position::by_position!(@read $row, $start, $at, $field, $st);
        read.into()
    }};
    ($ty:ident { $($field:ident: $st:ty $(as $via:ty)?),* $(,)? }) => {
        impl diesel::deserialize::QueryableByName<diesel::pg::Pg> for $ty {
            // The last field's count is never read.
            #[allow(unused_assignments)]
            fn build<'a>(
                row: &impl diesel::row::NamedRow<'a, diesel::pg::Pg>,
            ) -> diesel::deserialize::Result<Self> {
                const NAMES: &[&str] = &[$(stringify!($field)),*];
                let start = $crate::by_position::start_of(row, NAMES);
                let mut at = 0usize;
                Ok($ty {
                    $($field: {
                        let value = $crate::by_position::by_position!(
                            @read row, start, at, $field, $st $(, $via)?
                        );
                        at += 1;
                        value
                    },)*
                })
            }
        }
    };
}
pub(crate) use by_position;
