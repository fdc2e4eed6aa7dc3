//! Unit tests of the in-memory lock store: events in, actions out, no sockets.

use super::*;
use crate::resource::{LockMode, ResourceType};
use crate::status::Status;
use std::time::{Duration, UNIX_EPOCH};

fn peer() -> String {
    "localhost/".to_string()
}
static PEER: fn() -> String = peer;

fn client(conn: ConnId) -> Client<'static> {
    Client {
        conn,
        uid: 100 + conn as u64,
        peer_name: &PEER,
    }
}

fn start() -> Now {
    Now {
        instant: Instant::now(),
        wall: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    }
}

fn later(now: Now, ms: u64) -> Now {
    let d = Duration::from_millis(ms);
    Now {
        instant: now.instant + d,
        wall: now.wall + d,
    }
}

fn request(name: &str, wait: bool, create: bool) -> LockRequest {
    LockRequest {
        req: Request {
            name: name.to_string(),
            mode: LockMode::Exclusive,
            quantity: 1,
            wait,
        },
        kind: resource::resource_type(name).unwrap(),
        create,
        idle_lifespan_ms: 0,
    }
}

fn answer(conn: ConnId, step: i32, rc: i32) -> Action {
    Action::Answer {
        conn,
        step,
        rc,
        element: None,
    }
}

fn answers(out: &[Action]) -> Vec<Action> {
    out.iter()
        .filter(|a| !matches!(a, Action::ArmTimer { .. }))
        .cloned()
        .collect()
}

fn store(now: Now) -> MemoryStore {
    MemoryStore::new(Uids::default(), None, now)
}

#[test]
fn lock_grants_then_queues_then_unlock_grants_the_waiter() {
    let now = start();
    let mut s = store(now);
    let mut out = Vec::new();
    s.lock(client(1), request("R", true, true), now, &mut out);
    assert_eq!(answers(&out), [answer(1, STEP_FIRST_ANSWER, rc::OK)]);
    out.clear();
    s.lock(client(2), request("R", true, true), now, &mut out);
    assert_eq!(
        answers(&out),
        [answer(2, STEP_FIRST_ANSWER, rc::LOCK_ENQUEUED)]
    );
    out.clear();
    s.lock(client(3), request("R", false, true), now, &mut out);
    assert_eq!(answers(&out), [answer(3, STEP_FIRST_ANSWER, rc::LOCK_BUSY)]);
    out.clear();
    s.unlock(1, "R", false, now, &mut out);
    assert_eq!(answers(&out), [answer(2, STEP_LATER_ANSWER, rc::OK)]);
    out.clear();
    // A second unlock of the same connection: it holds nothing any more.
    s.unlock(1, "R", false, now, &mut out);
    assert_eq!(out, [Action::Close { conn: 1 }]);
    out.clear();
    // Busy answered: not in the locker.
    s.unlock(3, "R", false, now, &mut out);
    assert_eq!(out, [Action::Close { conn: 3 }]);
}

#[test]
fn unlock_of_another_resource_closes() {
    let now = start();
    let mut s = store(now);
    let mut out = Vec::new();
    s.lock(client(1), request("R", true, true), now, &mut out);
    out.clear();
    s.unlock(1, "S", false, now, &mut out);
    assert_eq!(out, [Action::Close { conn: 1 }]);
    out.clear();
    // The loop then reports the close: the lock is released.
    s.disconnect(1, now, &mut out);
    s.lock(client(2), request("R", false, true), now, &mut out);
    assert_eq!(answers(&out), [answer(2, STEP_FIRST_ANSWER, rc::OK)]);
}

#[test]
fn disconnect_of_a_holder_grants_the_next_waiter() {
    let now = start();
    let mut s = store(now);
    let mut out = Vec::new();
    for conn in 1..=3 {
        s.lock(client(conn), request("R", true, true), now, &mut out);
    }
    out.clear();
    s.disconnect(1, now, &mut out);
    assert_eq!(answers(&out), [answer(2, STEP_LATER_ANSWER, rc::OK)]);
    out.clear();
    s.disconnect(1, now, &mut out);
    assert!(out.is_empty(), "a second disconnect is a no-op");
}

#[test]
fn disconnect_of_a_waiter_leaves_the_queue() {
    let now = start();
    let mut s = store(now);
    let mut out = Vec::new();
    for conn in 1..=3 {
        s.lock(client(conn), request("R", true, true), now, &mut out);
    }
    out.clear();
    s.disconnect(2, now, &mut out);
    assert!(answers(&out).is_empty());
    s.unlock(1, "R", false, now, &mut out);
    assert_eq!(answers(&out), [answer(3, STEP_LATER_ANSWER, rc::OK)]);
}

#[test]
fn incubated_requests_are_adopted_in_arrival_order() {
    let now = start();
    let mut s = store(now);
    let mut out = Vec::new();
    s.lock(client(1), request("R", false, false), now, &mut out);
    assert_eq!(
        out,
        [
            answer(1, STEP_FIRST_ANSWER, rc::LOCK_CANT_WAIT),
            Action::HalfClose { conn: 1 }
        ]
    );
    out.clear();
    s.lock(client(2), request("R", true, false), now, &mut out);
    s.lock(client(3), request("R", true, false), now, &mut out);
    s.lock(client(4), request("S", true, false), now, &mut out);
    assert_eq!(
        out,
        [
            answer(2, STEP_FIRST_ANSWER, rc::LOCK_WAIT_RESOURCE),
            answer(3, STEP_FIRST_ANSWER, rc::LOCK_WAIT_RESOURCE),
            answer(4, STEP_FIRST_ANSWER, rc::LOCK_WAIT_RESOURCE),
        ]
    );
    assert!(!s.is_empty(), "parked requests keep the store busy");
    out.clear();
    // A parked request that goes away is forgotten.
    s.disconnect(4, now, &mut out);
    assert!(out.is_empty());
    s.lock(client(5), request("R", true, true), now, &mut out);
    assert_eq!(
        answers(&out),
        [
            answer(5, STEP_FIRST_ANSWER, rc::OK),
            answer(2, STEP_LATER_ANSWER, rc::LOCK_ENQUEUED),
            answer(3, STEP_LATER_ANSWER, rc::LOCK_ENQUEUED),
        ]
    );
    out.clear();
    s.unlock(5, "R", false, now, &mut out);
    assert_eq!(answers(&out), [answer(2, STEP_LATER_ANSWER, rc::OK)]);
}

#[test]
fn idle_locker_expires_on_its_timer() {
    let now = start();
    let mut s = store(now);
    let mut out = Vec::new();
    s.lock(client(1), request("R", true, true), now, &mut out);
    s.unlock(1, "R", false, now, &mut out);
    // Idle lifespan 0 means 1000 ms, plus the grace.
    let armed: Vec<_> = out
        .iter()
        .filter_map(|a| match a {
            Action::ArmTimer { at } => Some(*at),
            _ => None,
        })
        .collect();
    assert_eq!(armed, [now.instant + Duration::from_millis(2000)]);
    out.clear();
    s.timer(later(now, 1999), &mut out);
    assert!(!s.is_empty());
    s.timer(later(now, 2000), &mut out);
    assert!(s.is_empty(), "the idle locker is destroyed");
}

#[test]
fn reused_locker_rearms_its_expiry() {
    let now = start();
    let mut s = store(now);
    let mut out = Vec::new();
    s.lock(client(1), request("R", true, true), now, &mut out);
    s.unlock(1, "R", false, now, &mut out);
    let t1 = later(now, 1500);
    s.lock(client(2), request("R", true, true), t1, &mut out);
    s.unlock(2, "R", false, t1, &mut out);
    out.clear();
    // The first expiry timer finds the locker used since: it re-arms.
    s.timer(later(now, 2000), &mut out);
    assert_eq!(
        out,
        [Action::ArmTimer {
            at: t1.instant + Duration::from_millis(2000)
        }]
    );
    assert!(!s.is_empty());
    s.timer(later(t1, 2000), &mut out);
    assert!(s.is_empty());
}

#[test]
fn timestamp_waiter_is_granted_by_the_grain_timer() {
    let now = start();
    let mut s = store(now);
    let mut out = Vec::new();
    let name = "_t_%s[1]";
    s.lock(client(1), request(name, true, true), now, &mut out);
    let Some(Action::Answer {
        rc: rc::OK,
        element: Some(first),
        ..
    }) = out.first().cloned()
    else {
        panic!("no grant: {out:?}")
    };
    // The element is the event's wall time, not the system's.
    assert_eq!(first, "1700000000");
    s.unlock(1, name, false, now, &mut out);
    out.clear();
    // Same second: the next request waits for the next grain.
    s.lock(
        client(2),
        request(name, true, true),
        later(now, 10),
        &mut out,
    );
    assert_eq!(
        answers(&out),
        [answer(2, STEP_FIRST_ANSWER, rc::LOCK_ENQUEUED)]
    );
    let at = out
        .iter()
        .find_map(|a| match a {
            Action::ArmTimer { at } => Some(*at),
            _ => None,
        })
        .expect("a grain timer");
    assert_eq!(at, now.instant + Duration::from_secs(1));
    out.clear();
    let wall = now.wall + Duration::from_secs(1);
    s.timer(Now { instant: at, wall }, &mut out);
    assert_eq!(
        answers(&out),
        [Action::Answer {
            conn: 2,
            step: STEP_LATER_ANSWER,
            rc: rc::OK,
            element: Some("1700000001".to_string())
        }]
    );
}

#[test]
fn invalid_resource_is_closed_without_answer() {
    let now = start();
    let mut s = store(now);
    let mut out = Vec::new();
    // A timestamp format without a time grain.
    let r = request("_t_%Y%m%d[1]", true, true);
    assert_eq!(r.kind, ResourceType::Timestamp);
    s.lock(client(1), r, now, &mut out);
    assert_eq!(out, [Action::Close { conn: 1 }]);
    assert!(s.is_empty());
}

#[test]
fn status_table_follows_the_events() {
    use crate::status::{List, Node};
    let now = start();
    let status = Status::new();
    let mut s = MemoryStore::new(Uids::default(), Some(status.clone()), now);
    let mut out = Vec::new();
    s.lock(client(1), request("R", true, true), now, &mut out);
    s.lock(client(2), request("R", true, true), now, &mut out);
    s.lock(client(3), request("Q", true, false), now, &mut out);
    let has = |n: Node| status.table().exists(&n);
    // Locker R took uid 1; the clients' uids are 100 + conn.
    assert!(has(Node::Conn(1, List::Holders, 101)));
    assert!(has(Node::Conn(1, List::Waitings, 102)));
    assert!(has(Node::Incubated(103)));
    s.unlock(1, "R", false, now, &mut out);
    assert!(!has(Node::Conn(1, List::Holders, 101)));
    assert!(has(Node::Conn(1, List::Holders, 102)));
    s.disconnect(3, now, &mut out);
    assert!(!has(Node::Incubated(103)));
    s.disconnect(2, now, &mut out);
    s.timer(later(now, 5000), &mut out);
    assert!(!has(Node::Locker(1)));
}

fn request_mode(name: &str, mode: LockMode) -> LockRequest {
    let mut r = request(name, true, true);
    r.req.mode = mode;
    r
}

#[test]
fn strict_fifo_store_queues_a_compatible_request_behind_a_waiter() {
    let now = start();
    for (order, reader_rc) in [
        (QueueOrder::PassCompatible, rc::OK),
        (QueueOrder::StrictFifo, rc::LOCK_ENQUEUED),
    ] {
        let mut s = store(now).with_queue_order(order);
        let mut out = Vec::new();
        s.lock(
            client(1),
            request_mode("R", LockMode::ProtectedRead),
            now,
            &mut out,
        );
        s.lock(
            client(2),
            request_mode("R", LockMode::ProtectedWrite),
            now,
            &mut out,
        );
        out.clear();
        s.lock(
            client(3),
            request_mode("R", LockMode::ProtectedRead),
            now,
            &mut out,
        );
        assert_eq!(
            answers(&out),
            [answer(3, STEP_FIRST_ANSWER, reader_rc)],
            "{order:?}"
        );
        out.clear();
        // Strict: the waiting writer gives up, the reader behind it goes.
        s.disconnect(2, now, &mut out);
        let expected: &[Action] = match order {
            QueueOrder::StrictFifo => &[answer(3, STEP_LATER_ANSWER, rc::OK)],
            QueueOrder::PassCompatible => &[],
        };
        assert_eq!(answers(&out), expected, "{order:?}");
    }
}

#[test]
fn fencing_tokens_increase_per_resource_across_lockers() {
    let now = start();
    let mut s = store(now);
    let mut out = Vec::new();
    s.lock(client(1), request("R", true, true), now, &mut out);
    assert_eq!(s.fencing_token(1), Some(1));
    s.lock(client(2), request("R", true, true), now, &mut out);
    assert_eq!(s.fencing_token(2), None, "a waiter has no token");
    s.lock(client(3), request("Q", true, true), now, &mut out);
    let q = s.fencing_token(3).unwrap();
    // The waiter's grant out of the queue gets the next token of R.
    s.unlock(1, "R", false, later(now, 10), &mut out);
    assert_eq!(s.fencing_token(1), None);
    assert_eq!(s.fencing_token(2), Some(2));
    s.unlock(2, "R", false, later(now, 20), &mut out);
    // R is destroyed when idle; created again, it starts above every token.
    s.timer(later(now, 5000), &mut out);
    assert!(s
        .snapshot(later(now, 5000))
        .resources
        .iter()
        .all(|r| r.name != "R"));
    s.lock(
        client(4),
        request("R", true, true),
        later(now, 5001),
        &mut out,
    );
    let again = s.fencing_token(4).unwrap();
    assert!(again > 2 && again > q, "{again}");
}

#[test]
fn the_snapshot_lists_holders_waiters_and_the_incubator() {
    let now = start();
    let mut s = store(now);
    let mut out = Vec::new();
    s.lock(client(1), request("R", true, true), now, &mut out);
    let t1 = later(now, 100);
    s.lock(client(2), request("R", true, true), t1, &mut out);
    s.lock(client(3), request("Z", true, false), t1, &mut out);
    let snap = s.snapshot(later(now, 200));
    assert_eq!(snap.taken, later(now, 200).wall);
    assert_eq!(snap.resources.len(), 1);
    let r = &snap.resources[0];
    assert_eq!(
        (r.name.as_str(), r.kind, r.last_token),
        ("R", ResourceType::Simple, 1)
    );
    assert_eq!(r.holders.len(), 1);
    assert_eq!(r.holders[0].peer.conn, 1);
    assert_eq!(r.holders[0].since, now.wall);
    assert_eq!(r.holders[0].token, Some(1));
    assert_eq!(r.holders[0].mode, Some(LockMode::Exclusive));
    assert_eq!(r.holders[0].quantity, None);
    assert_eq!(r.waiters.len(), 1);
    assert_eq!((r.waiters[0].peer.conn, r.waiters[0].since), (2, t1.wall));
    assert_eq!(snap.incubator.len(), 1);
    assert_eq!(snap.incubator[0].request.name, "Z");
    assert_eq!(snap.incubator[0].request.since, t1.wall);
    // Granted out of the queue: held since the grant.
    let t2 = later(now, 300);
    s.unlock(1, "R", false, t2, &mut out);
    let snap = s.snapshot(t2);
    assert_eq!(snap.resources[0].holders[0].since, t2.wall);
    assert!(snap.resources[0].waiters.is_empty());
}
