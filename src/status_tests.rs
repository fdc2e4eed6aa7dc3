//! Unit tests of `status` (VFS status table).

use super::*;
use std::cell::Cell;
use std::time::{Duration, UNIX_EPOCH};

thread_local! {
    static TICK: Cell<u64> = const { Cell::new(0) };
}

/// A clock that advances one second per reading.
fn ticking() -> SystemTime {
    TICK.with(|t| {
        t.set(t.get() + 1);
        UNIX_EPOCH + Duration::from_secs(t.get())
    })
}

fn table() -> StatusTable {
    TICK.with(|t| t.set(1000));
    StatusTable::with_clock(ticking)
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn content(t: &StatusTable, n: Node) -> String {
    let mut out = Vec::new();
    assert!(t.read(&n, &mut out), "{n:?} should exist");
    String::from_utf8(out).unwrap()
}

fn names(t: &StatusTable, dir: Node) -> Vec<String> {
    let mut out = Vec::new();
    assert!(t.list(&dir, 0, usize::MAX, &mut out));
    out.into_iter().map(|(_, n)| n.name()).collect()
}

/// Walks the path from the root with `child`, as FUSE lookups do.
fn walk(t: &StatusTable, path: &str) -> Option<Node> {
    let mut n = Node::Root;
    for comp in path.split('/').filter(|c| !c.is_empty()) {
        n = t.child(&n, comp)?;
    }
    Some(n)
}

#[test]
fn empty_tree() {
    let t = table();
    assert_eq!(names(&t, Node::Root), ["status"]);
    assert_eq!(names(&t, Node::Status), ["incubator", "lockers"]);
    assert!(names(&t, Node::Incubator).is_empty());
    assert!(names(&t, Node::Lockers).is_empty());
    assert!(walk(&t, "status/lockers/3").is_none());
    assert!(walk(&t, "nothing").is_none());
    let a = t.attr(&Node::Root).unwrap();
    assert!(a.dir);
    assert_eq!(a.size, 0);
}

#[test]
fn incubator_entry_appears_and_leaves() {
    let mut t = table();
    let before = t.attr(&Node::Incubator).unwrap().mtime;
    t.incubated(2, "198.18.123.201/57072", "num[3]", ResourceType::Numeric);
    let after = t.attr(&Node::Incubator).unwrap();
    assert!(after.mtime > before);
    assert_eq!(after.ctime, t.attr(&Node::Root).unwrap().ctime);
    assert_eq!(names(&t, Node::Incubator), ["2"]);
    let dir = walk(&t, "status/incubator/2").unwrap();
    assert_eq!(
        names(&t, dir),
        ["peer_name", "resource_name", "resource_type"]
    );
    let peer = walk(&t, "status/incubator/2/peer_name").unwrap();
    assert_eq!(content(&t, peer), "198.18.123.201/57072\n");
    assert_eq!(t.attr(&peer).unwrap().size, 21);
    assert!(!t.attr(&peer).unwrap().dir);
    let name = walk(&t, "status/incubator/2/resource_name").unwrap();
    assert_eq!(content(&t, name), "num[3]\n");
    let kind = walk(&t, "status/incubator/2/resource_type").unwrap();
    assert_eq!(content(&t, kind), "numeric\n");
    assert_eq!(t.attr(&kind).unwrap().size, 8);

    let m = t.attr(&Node::Incubator).unwrap().mtime;
    t.incubator_left(2);
    assert!(t.attr(&Node::Incubator).unwrap().mtime > m);
    assert!(names(&t, Node::Incubator).is_empty());
    assert!(t.attr(&peer).is_none());
    assert!(!t.read(&peer, &mut Vec::new()));
    // Leaving twice (adoption then disconnect) changes nothing.
    let m = t.attr(&Node::Incubator).unwrap().mtime;
    t.incubator_left(2);
    assert_eq!(t.attr(&Node::Incubator).unwrap().mtime, m);
}

#[test]
fn seed_walkthrough_numeric() {
    let mut t = table();
    t.incubated(2, "a/1", "num[3]", ResourceType::Numeric);
    // Client 3 creates locker 4 and holds 2; client 2 is adopted and waits.
    t.locker_created(4, "num[3]", ResourceType::Numeric);
    t.conn_locked(4, 3, "b/2", LockMode::Exclusive, 2, &Outcome::Granted(None));
    t.incubator_left(2);
    t.conn_locked(4, 2, "a/1", LockMode::Exclusive, 2, &Outcome::Enqueued);
    assert!(names(&t, Node::Incubator).is_empty());
    assert_eq!(names(&t, Node::Lockers), ["4"]);
    assert_eq!(
        names(&t, Node::Locker(4)),
        ["resource_name", "resource_type", "holders", "waitings"]
    );
    assert_eq!(names(&t, Node::List(4, List::Holders)), ["3"]);
    assert_eq!(names(&t, Node::List(4, List::Waitings)), ["2"]);
    assert_eq!(
        names(&t, Node::Conn(4, List::Holders, 3)),
        ["peer_name", "quantity"]
    );
    assert_eq!(
        names(&t, Node::Conn(4, List::Waitings, 2)),
        ["peer_name", "quantity"]
    );
    let q = walk(&t, "status/lockers/4/holders/3/quantity").unwrap();
    assert_eq!(content(&t, q), "2\n");
    assert_eq!(
        content(&t, walk(&t, "status/lockers/4/resource_type").unwrap()),
        "numeric\n"
    );
    assert!(walk(&t, "status/lockers/4/holders/3/lock_mode").is_none());

    // The holder ends: the waiter moves, same uid, new mtime.
    let waiting = t.attr(&Node::Conn(4, List::Waitings, 2)).unwrap();
    let holders_m = t.attr(&Node::List(4, List::Holders)).unwrap().mtime;
    t.conn_released(4, 3);
    t.conn_granted(4, 2, None);
    assert_eq!(names(&t, Node::List(4, List::Holders)), ["2"]);
    assert!(names(&t, Node::List(4, List::Waitings)).is_empty());
    let moved = t.attr(&Node::Conn(4, List::Holders, 2)).unwrap();
    assert_eq!(moved.ctime, waiting.ctime);
    assert!(moved.mtime > waiting.mtime);
    assert!(t.attr(&Node::List(4, List::Holders)).unwrap().mtime > holders_m);
    let peer = walk(&t, "status/lockers/4/holders/2/peer_name").unwrap();
    assert_eq!(content(&t, peer), "a/1\n");
    // Files keep their creation time when their directory moves.
    assert_eq!(t.attr(&peer).unwrap().mtime, waiting.ctime);

    t.conn_released(4, 2);
    assert!(names(&t, Node::List(4, List::Holders)).is_empty());
    let m = t.attr(&Node::Lockers).unwrap().mtime;
    t.locker_destroyed(4);
    assert!(names(&t, Node::Lockers).is_empty());
    assert!(t.attr(&Node::Lockers).unwrap().mtime > m);
    assert!(walk(&t, "status/lockers/4").is_none());
}

#[test]
fn files_per_type() {
    let mut t = table();
    let cases = [
        (ResourceType::Simple, "R", vec!["peer_name", "lock_mode"]),
        (
            ResourceType::Hierarchical,
            "/a/b",
            vec!["peer_name", "lock_mode"],
        ),
        (ResourceType::Numeric, "n[3]", vec!["peer_name", "quantity"]),
        (ResourceType::Set, "a.b", vec!["peer_name"]),
        (
            ResourceType::Sequence,
            "_s_x[3]",
            vec!["peer_name", "sequence_value"],
        ),
        (
            ResourceType::Timestamp,
            "_t_%H[1]",
            vec!["peer_name", "timestamp_value"],
        ),
    ];
    for (i, (kind, name, holder_files)) in cases.iter().enumerate() {
        let l = 100 + i as u64 * 10;
        t.locker_created(l, name, *kind);
        t.conn_holding(
            l,
            l + 1,
            "localhost/",
            LockMode::ProtectedRead,
            1,
            Some("7"),
        );
        t.conn_waiting(l, l + 2, "localhost/", LockMode::Exclusive, 1);
        assert_eq!(
            names(&t, Node::Conn(l, List::Holders, l + 1)),
            *holder_files,
            "{kind:?} holder"
        );
        let waiter: Vec<_> = holder_files
            .iter()
            .filter(|f| !f.ends_with("_value"))
            .copied()
            .collect();
        assert_eq!(
            names(&t, Node::Conn(l, List::Waitings, l + 2)),
            waiter,
            "{kind:?} waiter"
        );
        assert_eq!(
            content(&t, Node::LockerFile(l, LockerFile::ResourceType)),
            format!("{}\n", kind.as_str())
        );
    }
    // Lock mode: long name, no newline.
    let lm = walk(&t, "status/lockers/100/holders/101/lock_mode").unwrap();
    assert_eq!(content(&t, lm), "ProtectedRead");
    assert_eq!(t.attr(&lm).unwrap().size, 13);
    let lm = walk(&t, "status/lockers/100/waitings/102/lock_mode").unwrap();
    assert_eq!(content(&t, lm), "Exclusive");
    let sv = walk(&t, "status/lockers/140/holders/141/sequence_value").unwrap();
    assert_eq!(content(&t, sv), "7\n");
    let tv = walk(&t, "status/lockers/150/holders/151/timestamp_value").unwrap();
    assert_eq!(content(&t, tv), "7\n");
    // A sequence waiter granted later shows its value.
    t.conn_granted(140, 142, Some("8"));
    let sv = walk(&t, "status/lockers/140/holders/142/sequence_value").unwrap();
    assert_eq!(content(&t, sv), "8\n");
    let when = t.attr(&sv).unwrap();
    let dir = t.attr(&Node::Conn(140, List::Holders, 142)).unwrap();
    assert_eq!(when.mtime, dir.mtime);
}

#[test]
fn lookup_rejects_non_canonical_uids() {
    let mut t = table();
    t.locker_created(12, "R", ResourceType::Simple);
    assert!(walk(&t, "status/lockers/12").is_some());
    for bad in ["012", "+12", "12 ", "", "1e1", "-12"] {
        assert!(t.child(&Node::Lockers, bad).is_none(), "{bad:?}");
    }
    assert!(t
        .child(&Node::LockerFile(12, LockerFile::ResourceName), "x")
        .is_none());
    assert!(walk(&t, "status/lockers/12/holders/5").is_none());
    assert!(walk(&t, "status/lockers/12/bogus").is_none());
}

#[test]
fn listing_resumes_by_cookie() {
    let mut t = table();
    for uid in (2..40).step_by(2) {
        t.locker_created(uid, "R", ResourceType::Simple);
    }
    let mut page = Vec::new();
    assert!(t.list(&Node::Lockers, 0, 5, &mut page));
    assert_eq!(page.len(), 5);
    let last = page.last().unwrap().0;
    // Changes between pages: an earlier one goes, a later one comes.
    t.locker_destroyed(4);
    t.locker_created(41, "R", ResourceType::Simple);
    let mut rest = Vec::new();
    assert!(t.list(&Node::Lockers, last, usize::MAX, &mut rest));
    let mut all: Vec<u64> = page.iter().chain(&rest).map(|(c, _)| *c).collect();
    let n = all.len();
    all.dedup();
    assert_eq!(all.len(), n, "no repeats");
    assert!(all.contains(&38) && all.contains(&41));
    // Fixed children resume too.
    let mut out = Vec::new();
    assert!(t.list(&Node::Locker(2), 2, usize::MAX, &mut out));
    let names: Vec<_> = out.iter().map(|(_, n)| n.name()).collect();
    assert_eq!(names, ["holders", "waitings"]);
    // Files and missing directories cannot be listed.
    assert!(!t.list(
        &Node::LockerFile(2, LockerFile::ResourceName),
        0,
        9,
        &mut out
    ));
    assert!(!t.list(&Node::Locker(3), 0, 9, &mut out));
}

#[test]
fn updates_for_unknown_lockers_are_ignored() {
    let mut t = table();
    t.conn_holding(9, 1, "p", LockMode::Exclusive, 1, None);
    t.conn_waiting(9, 1, "p", LockMode::Exclusive, 1);
    t.conn_granted(9, 1, None);
    t.conn_released(9, 1);
    t.locker_destroyed(9);
    assert!(names(&t, Node::Lockers).is_empty());
    // A grant for a connection that was not waiting adds nothing.
    t.locker_created(9, "R", ResourceType::Simple);
    t.conn_granted(9, 1, None);
    assert!(names(&t, Node::List(9, List::Holders)).is_empty());
    t.conn_locked(9, 1, "p", LockMode::Exclusive, 1, &Outcome::Busy);
    t.conn_locked(9, 1, "p", LockMode::Exclusive, 1, &Outcome::Impossible);
    assert!(names(&t, Node::List(9, List::Holders)).is_empty());
    assert!(names(&t, Node::List(9, List::Waitings)).is_empty());
}

#[test]
fn node_parents_and_names() {
    let n = Node::ConnFile(4, List::Waitings, 2, ConnFile::Quantity);
    assert_eq!(n.name(), "quantity");
    assert_eq!(n.parent(), Node::Conn(4, List::Waitings, 2));
    assert_eq!(n.parent().name(), "2");
    assert_eq!(n.parent().parent().name(), "waitings");
    assert_eq!(n.parent().parent().parent(), Node::Locker(4));
    assert_eq!(Node::Locker(4).parent(), Node::Lockers);
    assert_eq!(Node::Lockers.parent(), Node::Status);
    assert_eq!(Node::Status.parent(), Node::Root);
    assert_eq!(Node::Root.parent(), Node::Root);
    assert!(!n.is_dir());
    assert!(n.parent().is_dir());
    assert_eq!(secs(table().created), 1001);
}
