//! Task dependencies: never a cycle, and when a task counts as blocked.

use std::collections::{HashMap, HashSet, VecDeque};

use uuid::Uuid;

use crate::roles::{DependencyKind, TaskStatus};

/// If `task` starting to depend on `on` would close a cycle, the cycle as a path
/// `task → on → … → task`. `edges` are the existing (task, depends on) pairs.
pub fn cycle_if_added(edges: &[(Uuid, Uuid)], task: Uuid, on: Uuid) -> Option<Vec<Uuid>> {
    if task == on {
        return Some(vec![task, task]);
    }
    let mut next: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for (from, to) in edges {
        next.entry(*from).or_default().push(*to);
    }
    // Breadth-first from `on` along "depends on" edges; reaching `task` is a cycle.
    let mut parent: HashMap<Uuid, Uuid> = HashMap::new();
    let mut seen: HashSet<Uuid> = HashSet::from([on]);
    let mut queue = VecDeque::from([on]);
    while let Some(node) = queue.pop_front() {
        for &succ in next.get(&node).map(Vec::as_slice).unwrap_or(&[]) {
            if !seen.insert(succ) {
                continue;
            }
            parent.insert(succ, node);
            if succ == task {
                let mut path = vec![task];
                let mut at = task;
                while at != on {
                    at = parent[&at];
                    path.push(at);
                }
                path.push(task);
                path.reverse();
                // path is now task → on → … → task, reading "depends on".
                return Some(path);
            }
            queue.push_back(succ);
        }
    }
    None
}

/// Does an unmet predecessor hold this task back?
pub fn blocks(kind: DependencyKind, predecessor: TaskStatus) -> bool {
    let finished = matches!(predecessor, TaskStatus::Done | TaskStatus::NotNeeded);
    match kind {
        // The successor may not start (or finish) before the predecessor finishes.
        DependencyKind::FinishToStart | DependencyKind::FinishToFinish => !finished,
        DependencyKind::StartToStart => predecessor == TaskStatus::NotStarted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<Uuid> {
        (0..n).map(|_| Uuid::new_v4()).collect()
    }

    #[test]
    fn a_cycle_is_found_with_its_path() {
        let v = ids(4);
        // v0 depends on v1, v1 on v2, v2 on v3.
        let edges = [(v[0], v[1]), (v[1], v[2]), (v[2], v[3])];
        assert_eq!(
            cycle_if_added(&edges, v[3], v[0]),
            Some(vec![v[3], v[0], v[1], v[2], v[3]])
        );
        assert_eq!(
            cycle_if_added(&edges, v[0], v[3]),
            None,
            "a shortcut is no cycle"
        );
        assert_eq!(cycle_if_added(&edges, v[1], v[1]), Some(vec![v[1], v[1]]));
        assert_eq!(cycle_if_added(&[], v[0], v[1]), None);
    }

    #[test]
    fn blocking_follows_the_dependency_kind() {
        use DependencyKind::*;
        use TaskStatus::*;
        assert!(blocks(FinishToStart, InProgress));
        assert!(!blocks(FinishToStart, Done));
        assert!(!blocks(FinishToStart, NotNeeded));
        assert!(blocks(StartToStart, NotStarted));
        assert!(!blocks(StartToStart, InProgress));
        assert!(blocks(FinishToFinish, InProgress));
    }
}
