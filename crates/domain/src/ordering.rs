//! Where a moved item lands. Callers see only the items visible to them (SECRET tasks
//! are hidden), so a target position is an index among the visible items; hidden items
//! keep their order relative to their neighbours.

use std::collections::HashSet;

use uuid::Uuid;

/// The new full order after moving `item` to `position` among the visible items of
/// `order` (which may or may not already hold `item`). A position past the end appends.
pub fn place(order: &[Uuid], visible: &HashSet<Uuid>, item: Uuid, position: usize) -> Vec<Uuid> {
    let mut rest: Vec<Uuid> = order.iter().copied().filter(|i| *i != item).collect();
    let visible_at: Vec<usize> = rest
        .iter()
        .enumerate()
        .filter(|(_, i)| visible.contains(i))
        .map(|(at, _)| at)
        .collect();
    let at = visible_at.get(position).copied().unwrap_or(rest.len());
    rest.insert(at, item);
    rest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_among_visible_items_keep_hidden_ones_in_place() {
        let v: Vec<Uuid> = (0..5).map(|_| Uuid::new_v4()).collect();
        let all: HashSet<Uuid> = v.iter().copied().collect();
        assert_eq!(place(&v, &all, v[4], 0), vec![v[4], v[0], v[1], v[2], v[3]]);
        assert_eq!(
            place(&v, &all, v[0], 99),
            vec![v[1], v[2], v[3], v[4], v[0]]
        );
        // v[1] is hidden: "position 1" means before the second visible item (v[2]).
        let visible: HashSet<Uuid> = [v[0], v[2], v[3], v[4]].into_iter().collect();
        assert_eq!(
            place(&v, &visible, v[4], 1),
            vec![v[0], v[1], v[4], v[2], v[3]]
        );
        // An item arriving from elsewhere.
        let newcomer = Uuid::new_v4();
        assert_eq!(
            place(&v[..2], &all, newcomer, 1),
            vec![v[0], newcomer, v[1]]
        );
    }
}
