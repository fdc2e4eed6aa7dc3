//! Hierarchical resources (`/a/b/c`): one locker per first path component.
//! A request on path P must be compatible (DLM matrix) with the holders on
//! every ancestor of P, on P itself and on every descendant of P; other
//! branches never conflict. Each tree node keeps per-mode counts of its own
//! holders and of the holders below it, so a check walks only the path.
//! Releases (unlock or disconnect) walk the holder's own path, so a crashed
//! client's lock is always released (C FLoM 1.7.2 could leak it).

use super::{Check, Holder, Policy, Request};
use crate::resource::{path_components, LockMode};
use std::collections::HashMap;
use std::time::Instant;

type Counts = [u32; 6];

#[derive(Default)]
struct Node {
    /// Holders on this exact path, per mode.
    own: Counts,
    /// Holders strictly below this path, per mode.
    below: Counts,
    children: HashMap<String, Node>,
}

impl Node {
    fn is_empty(&self) -> bool {
        self.own.iter().chain(self.below.iter()).all(|&n| n == 0)
    }
}

fn compatible(counts: &Counts, mode: LockMode) -> bool {
    LockMode::ALL
        .iter()
        .all(|m| counts[*m as usize] == 0 || m.compatible_with(mode))
}

/// The tree hangs below a nameless top node whose children are first
/// components (a locker normally has one: its routing key).
#[derive(Default)]
pub struct HierarchicalPolicy {
    top: Node,
    /// EX holders on a first component: every request but NL waits.
    top_ex: u32,
}

impl HierarchicalPolicy {
    /// Number of tree nodes (without the nameless top), for tests.
    pub fn node_count(&self) -> usize {
        fn count(n: &Node) -> usize {
            n.children.values().map(|c| 1 + count(c)).sum()
        }
        count(&self.top)
    }
}

fn release_path<'a>(node: &mut Node, mut comps: impl Iterator<Item = &'a str>, mode: usize) {
    match comps.next() {
        None => node.own[mode] -= 1,
        Some(c) => {
            node.below[mode] -= 1;
            let child = node
                .children
                .get_mut(c)
                .expect("released holder has a node");
            release_path(child, comps, mode);
            if child.is_empty() {
                node.children.remove(c);
            }
        }
    }
}

impl Policy for HierarchicalPolicy {
    fn check(&self, _holders: &[Holder], req: &Request, _now: Instant) -> Check {
        let mut node = &self.top;
        for c in path_components(&req.name) {
            match node.children.get(c) {
                // No holder on this path or below it.
                None => return Check::Grantable,
                Some(child) => {
                    if !compatible(&child.own, req.mode) {
                        return Check::NotNow;
                    }
                    node = child;
                }
            }
        }
        if compatible(&node.below, req.mode) {
            Check::Grantable
        } else {
            Check::NotNow
        }
    }

    fn grant(
        &mut self,
        _holders: &[Holder],
        req: &Request,
        _now: Instant,
    ) -> (Option<String>, u64) {
        let mode = req.mode as usize;
        let mut node = &mut self.top;
        let mut depth = 0;
        for c in path_components(&req.name) {
            node.below[mode] += 1;
            if !node.children.contains_key(c) {
                node.children.insert(c.to_string(), Node::default());
            }
            node = node.children.get_mut(c).expect("just inserted");
            depth += 1;
        }
        node.own[mode] += 1;
        if depth == 1 && req.mode == LockMode::Exclusive {
            self.top_ex += 1;
        }
        (None, 0)
    }

    fn release(&mut self, holder: &Holder, _rollback: bool) {
        let req = &holder.req;
        release_path(&mut self.top, path_components(&req.name), req.mode as usize);
        if req.mode == LockMode::Exclusive && path_components(&req.name).nth(1).is_none() {
            self.top_ex -= 1;
        }
    }

    fn saturated(&self, _holders: &[Holder], _now: Instant) -> bool {
        // Only NL is compatible with EX, and NL requests never wait.
        self.top_ex > 0
    }

    fn queued_before(&self, earlier: &Request, later: &Request) -> bool {
        // A null lock conflicts with nothing: it never waits, strict or not.
        later.mode != LockMode::NullLock && paths_overlap(&earlier.name, &later.name)
    }

    fn partitions_queue(&self) -> bool {
        true
    }
}

/// Whether one path is an ancestor of the other or both are the same: the
/// requests that can conflict, which strict FIFO keeps in order.
fn paths_overlap(a: &str, b: &str) -> bool {
    path_components(a)
        .zip(path_components(b))
        .all(|(x, y)| x == y)
}

#[cfg(test)]
mod tests {
    use super::super::{Grant, Locker, Outcome, QueueOrder, Request, ResourcePolicy};
    use crate::resource::{LockMode, ResourceType};
    use std::time::Instant;
    use LockMode::*;

    fn req(path: &str, mode: LockMode, wait: bool) -> Request {
        Request {
            name: path.into(),
            mode,
            quantity: 1,
            wait,
        }
    }

    const OK: Outcome = Outcome::Granted(None);

    fn nodes(l: &Locker) -> usize {
        match &l.policy {
            ResourcePolicy::Hierarchical(p) => p.node_count(),
            _ => unreachable!(),
        }
    }

    /// The scan of the queue skips requests like one already refused, yet
    /// still reaches a later, different request that is grantable, and a
    /// long queue of identical requests is served one per release, in order.
    #[test]
    fn refused_kinds_do_not_hide_other_requests() {
        let now = Instant::now();
        let mut l = Locker::new("/r/a", ResourceType::Hierarchical, 0).unwrap();
        assert_eq!(l.lock(1, req("/r/a", Exclusive, true), now), OK);
        assert_eq!(l.lock(2, req("/r/b", Exclusive, true), now), OK);
        for conn in 10..20 {
            assert_eq!(
                l.lock(conn, req("/r/a", Exclusive, true), now),
                Outcome::Enqueued
            );
        }
        assert_eq!(
            l.lock(30, req("/r/b", Exclusive, true), now),
            Outcome::Enqueued
        );
        let mut g = Vec::new();
        l.unlock(2, false, now, &mut g);
        assert_eq!(g.iter().map(|g| g.conn).collect::<Vec<_>>(), vec![30]);
        for conn in 10..20 {
            let mut g = Vec::new();
            let holder = if conn == 10 { 1 } else { conn - 1 };
            l.unlock(holder, false, now, &mut g);
            assert_eq!(g.iter().map(|g| g.conn).collect::<Vec<_>>(), vec![conn]);
        }
        assert_eq!(l.waiting().len(), 0);
    }

    #[test]
    fn vector_08_ancestor_waits_sibling_passes() {
        let now = Instant::now();
        let mut l = Locker::new("/a/b/c", ResourceType::Hierarchical, 0).unwrap();
        assert_eq!(l.lock(1, req("/a/b/c", Exclusive, true), now), OK);
        assert_eq!(l.lock(2, req("/a/b", Exclusive, false), now), Outcome::Busy);
        assert_eq!(l.lock(3, req("/a/x", Exclusive, true), now), OK);
        let mut g = Vec::new();
        l.unlock(3, false, now, &mut g);
        assert_eq!(
            l.lock(4, req("/a/b", Exclusive, true), now),
            Outcome::Enqueued
        );
        l.unlock(1, false, now, &mut g);
        assert_eq!(
            g,
            vec![Grant {
                conn: 4,
                element: None
            }]
        );
        g.clear();
        l.unlock(4, false, now, &mut g);
        assert!(l.is_unused());
        assert_eq!(nodes(&l), 0);
    }

    #[test]
    fn uc14_descendants_serialise_in_both_directions() {
        let now = Instant::now();
        let mut l = Locker::new("/apple", ResourceType::Hierarchical, 0).unwrap();
        assert_eq!(l.lock(1, req("/apple", Exclusive, true), now), OK);
        assert_eq!(
            l.lock(2, req("/apple/pear", Exclusive, false), now),
            Outcome::Busy
        );
        assert_eq!(
            l.lock(3, req("/apple/pear/banana", Exclusive, false), now),
            Outcome::Busy
        );
        let mut g = Vec::new();
        l.unlock(1, false, now, &mut g);
        assert_eq!(
            l.lock(3, req("/apple/pear/banana", Exclusive, true), now),
            OK
        );
        assert_eq!(
            l.lock(2, req("/apple/pear", Exclusive, false), now),
            Outcome::Busy
        );
        assert_eq!(
            l.lock(1, req("/apple", Exclusive, false), now),
            Outcome::Busy
        );
        // (6/6): siblings are independent.
        assert_eq!(
            l.lock(4, req("/apple/watermelon", Exclusive, true), now),
            OK
        );
        assert_eq!(
            l.lock(5, req("/apple/watermelon/bilberry", Exclusive, true), now),
            Outcome::Enqueued
        );
        l.unlock(4, false, now, &mut g);
        assert_eq!(
            g,
            vec![Grant {
                conn: 5,
                element: None
            }]
        );
    }

    #[test]
    fn uc14_4_and_5_compatible_modes_along_a_line() {
        let now = Instant::now();
        let mut l = Locker::new("/apple", ResourceType::Hierarchical, 0).unwrap();
        assert_eq!(l.lock(1, req("/apple", ConcurrentRead, true), now), OK);
        assert_eq!(
            l.lock(2, req("/apple/pear/banana", ProtectedWrite, true), now),
            OK
        );
        assert_eq!(l.lock(3, req("/apple/pear", ConcurrentRead, true), now), OK);
        let mut l = Locker::new("/apple", ResourceType::Hierarchical, 0).unwrap();
        assert_eq!(
            l.lock(1, req("/apple/pear/banana", ConcurrentRead, true), now),
            OK
        );
        assert_eq!(l.lock(2, req("/apple/pear", ConcurrentRead, true), now), OK);
        assert_eq!(l.lock(3, req("/apple", ProtectedRead, true), now), OK);
    }

    #[test]
    fn uc15_pr_and_ex_on_branches() {
        let now = Instant::now();
        let mut l = Locker::new("/foo/bar", ResourceType::Hierarchical, 0).unwrap();
        assert_eq!(l.lock(1, req("/foo/bar", ProtectedRead, true), now), OK);
        assert_eq!(l.lock(2, req("/foo/blue/apple", Exclusive, true), now), OK);
        assert_eq!(
            l.lock(3, req("/foo/bar/apple", Exclusive, true), now),
            Outcome::Enqueued
        );
        assert_eq!(
            l.lock(4, req("/foo/bar/fruit/apple", Exclusive, false), now),
            Outcome::Busy
        );
        assert_eq!(
            l.lock(5, req("/foo", ProtectedRead, false), now),
            Outcome::Busy
        );
        assert_eq!(
            l.lock(6, req("/foo/bar/fruit", ProtectedRead, false), now),
            OK
        );
        let mut g = Vec::new();
        l.unlock(2, false, now, &mut g);
        assert_eq!(l.lock(5, req("/foo", ProtectedRead, false), now), OK);
        l.unlock(1, false, now, &mut g);
        l.unlock(6, false, now, &mut g);
        assert!(g.is_empty()); // /foo PR still blocks the EX below it
        l.unlock(5, false, now, &mut g);
        assert_eq!(
            g,
            vec![Grant {
                conn: 3,
                element: None
            }]
        );
    }

    #[test]
    fn disconnect_releases_the_right_path() {
        // The C 1.7.2 leak: A holds /a/x, B locks and unlocks /a/y, A dies.
        let now = Instant::now();
        let mut l = Locker::new("/a/x", ResourceType::Hierarchical, 0).unwrap();
        let mut g = Vec::new();
        assert_eq!(l.lock(1, req("/a/x", Exclusive, true), now), OK);
        assert_eq!(l.lock(2, req("/a/y", Exclusive, true), now), OK);
        l.unlock(2, false, now, &mut g);
        l.disconnect(1, now, &mut g);
        assert_eq!(l.lock(3, req("/a/x", Exclusive, false), now), OK);
        assert_eq!(l.lock(4, req("/a", Exclusive, false), now), Outcome::Busy);
        l.disconnect(3, now, &mut g);
        assert_eq!(l.lock(4, req("/a", Exclusive, false), now), OK);
        l.disconnect(4, now, &mut g);
        assert_eq!(nodes(&l), 0);
    }

    #[test]
    fn root_ex_saturates_but_nl_passes() {
        let now = Instant::now();
        let mut l = Locker::new("/r", ResourceType::Hierarchical, 0).unwrap();
        assert_eq!(l.lock(1, req("/r", Exclusive, true), now), OK);
        assert_eq!(l.lock(2, req("/r/deep/path", NullLock, true), now), OK);
        assert_eq!(
            l.lock(3, req("/r/deep", ConcurrentRead, true), now),
            Outcome::Enqueued
        );
        assert_eq!(
            l.lock(4, req("/r/other", Exclusive, true), now),
            Outcome::Enqueued
        );
        let mut g = Vec::new();
        l.unlock(1, false, now, &mut g);
        let conns: Vec<_> = g.iter().map(|g| g.conn).collect();
        assert_eq!(conns, vec![3, 4]);
    }

    #[test]
    fn strict_fifo_waits_behind_overlapping_paths_only() {
        let now = Instant::now();
        let mut l = Locker::new("/a", ResourceType::Hierarchical, 0).unwrap();
        l.set_queue_order(QueueOrder::StrictFifo);
        assert_eq!(l.lock(1, req("/a/b", ProtectedRead, true), now), OK);
        assert_eq!(
            l.lock(2, req("/a", Exclusive, true), now),
            Outcome::Enqueued
        );
        // Compatible with the reader of /a/b, but /a (its ancestor) waits.
        assert_eq!(
            l.lock(3, req("/a/b/c", ProtectedRead, true), now),
            Outcome::Enqueued
        );
        assert_eq!(
            l.lock(4, req("/a/b", ProtectedRead, false), now),
            Outcome::Busy
        );
        // Another branch of the tree is another resource: it passes.
        assert_eq!(l.lock(5, req("/b/x", ProtectedRead, true), now), OK);
        assert_eq!(l.lock(6, req("/a/b/c", NullLock, false), now), OK);
        let mut g = Vec::new();
        l.unlock(1, false, now, &mut g);
        assert_eq!(g.iter().map(|g| g.conn).collect::<Vec<_>>(), vec![2]);
        g.clear();
        l.unlock(2, false, now, &mut g);
        assert_eq!(g.iter().map(|g| g.conn).collect::<Vec<_>>(), vec![3]);
    }

    #[test]
    fn strict_fifo_scan_goes_past_an_unrelated_waiter() {
        let now = Instant::now();
        let mut l = Locker::new("/a", ResourceType::Hierarchical, 0).unwrap();
        l.set_queue_order(QueueOrder::StrictFifo);
        assert_eq!(l.lock(1, req("/a/x", Exclusive, true), now), OK);
        assert_eq!(l.lock(2, req("/a/y", Exclusive, true), now), OK);
        // Queue: /a/x (held by 1), /a/y (held by 2), /a/x again.
        assert_eq!(
            l.lock(3, req("/a/x", Exclusive, true), now),
            Outcome::Enqueued
        );
        assert_eq!(
            l.lock(4, req("/a/y", Exclusive, true), now),
            Outcome::Enqueued
        );
        assert_eq!(
            l.lock(5, req("/a/x/z", Exclusive, true), now),
            Outcome::Enqueued
        );
        let mut g = Vec::new();
        // /a/y frees: 3 (on /a/x) still waits, 4 behind it on another path goes.
        l.unlock(2, false, now, &mut g);
        assert_eq!(g.iter().map(|g| g.conn).collect::<Vec<_>>(), vec![4]);
        g.clear();
        // /a/x frees: 3 goes; 5 (below /a/x) stays behind it.
        l.unlock(1, false, now, &mut g);
        assert_eq!(g.iter().map(|g| g.conn).collect::<Vec<_>>(), vec![3]);
    }
}
