//! Unit tests of routing: messages in, lock-store events and actions out.

use super::*;
use crate::protocol::ResourceElem;
use crate::store::{MemoryStore, Uids};
use std::time::{Duration, Instant, UNIX_EPOCH};

fn peer() -> String {
    "localhost/".to_string()
}
static PEER: fn() -> String = peer;

fn client(conn: u32) -> Client<'static> {
    Client {
        conn,
        uid: 100 + conn as u64,
        peer_name: &PEER,
    }
}

fn now() -> Now {
    Now {
        instant: Instant::now(),
        wall: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    }
}

fn message(verb: i32, name: Option<&str>) -> Message {
    Message {
        verb,
        step: protocol::STEP_REQUEST,
        resource: name.map(|n| ResourceElem {
            name: n.to_string(),
            mode: LockMode::Exclusive as i64,
            wait: true,
            quantity: 1,
            create: true,
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn answer(conn: u32, step: i32, rc: i32) -> Action {
    Action::Answer {
        conn,
        step,
        rc,
        element: None,
    }
}

struct Fixture {
    store: MemoryStore,
    phases: Vec<Phase>,
    now: Now,
}

impl Fixture {
    fn new() -> Fixture {
        let now = now();
        Fixture {
            store: MemoryStore::new(Uids::default(), None, now),
            phases: vec![Phase::New; 8],
            now,
        }
    }

    fn route(&mut self, conn: u32, msg: Message) -> (Control, Vec<Action>) {
        let mut out = Vec::new();
        let control = route(
            &mut self.store,
            client(conn),
            &mut self.phases[conn as usize],
            msg,
            self.now,
            &mut out,
        );
        out.retain(|a| !matches!(a, Action::ArmTimer { .. }));
        (control, out)
    }
}

#[test]
fn lock_and_unlock_reach_the_store() {
    let mut f = Fixture::new();
    let (c, out) = f.route(1, message(protocol::VERB_LOCK, Some("R")));
    assert_eq!(c, Control::None);
    assert_eq!(out, [answer(1, protocol::STEP_FIRST_ANSWER, rc::OK)]);
    let (_, out) = f.route(2, message(protocol::VERB_LOCK, Some("R")));
    assert_eq!(
        out,
        [answer(2, protocol::STEP_FIRST_ANSWER, rc::LOCK_ENQUEUED)]
    );
    let (_, out) = f.route(1, message(protocol::VERB_UNLOCK, Some("R")));
    assert_eq!(out, [answer(2, protocol::STEP_LATER_ANSWER, rc::OK)]);
}

#[test]
fn a_message_out_of_place_costs_its_connection_only() {
    let mut f = Fixture::new();
    let close = |conn| vec![Action::Close { conn }];
    // Unlock as the first message.
    assert_eq!(
        f.route(1, message(protocol::VERB_UNLOCK, Some("R"))).1,
        close(1)
    );
    // A second lock.
    f.route(2, message(protocol::VERB_LOCK, Some("R")));
    assert_eq!(
        f.route(2, message(protocol::VERB_LOCK, Some("R"))).1,
        close(2)
    );
    // A ping, a lock without a resource, an unlock without one.
    assert_eq!(f.route(3, message(protocol::VERB_PING, None)).1, close(3));
    assert_eq!(f.route(4, message(protocol::VERB_LOCK, None)).1, close(4));
    f.route(5, message(protocol::VERB_LOCK, Some("S")));
    assert_eq!(f.route(5, message(protocol::VERB_UNLOCK, None)).1, close(5));
    // A lock mode that does not exist.
    let mut m = message(protocol::VERB_LOCK, Some("T"));
    m.resource.as_mut().unwrap().mode = 99;
    assert_eq!(f.route(6, m).1, close(6));
}

#[test]
fn an_invalid_resource_name_is_answered_and_half_closed() {
    let mut f = Fixture::new();
    let (_, out) = f.route(1, message(protocol::VERB_LOCK, Some("bad\nname")));
    assert_eq!(
        out,
        [
            answer(1, protocol::STEP_FIRST_ANSWER, rc::INVALID_RESOURCE_NAME),
            Action::HalfClose { conn: 1 }
        ]
    );
}

#[test]
fn management_asks_for_shutdown_and_closes() {
    let mut f = Fixture::new();
    let mut m = message(protocol::VERB_MNGMNT, None);
    m.shutdown_immediate = Some(false);
    assert_eq!(
        f.route(1, m.clone()),
        (
            Control::Shutdown { immediate: false },
            vec![Action::Close { conn: 1 }]
        )
    );
    m.shutdown_immediate = Some(true);
    assert_eq!(f.route(2, m).0, Control::Shutdown { immediate: true });
    // Not as a second message.
    f.route(3, message(protocol::VERB_LOCK, Some("R")));
    let mut m = message(protocol::VERB_MNGMNT, None);
    m.shutdown_immediate = Some(true);
    assert_eq!(
        f.route(3, m),
        (Control::None, vec![Action::Close { conn: 3 }])
    );
}

#[test]
fn create_no_waits_in_the_incubator_until_a_creator_comes() {
    let mut f = Fixture::new();
    let mut m = message(protocol::VERB_LOCK, Some("R"));
    m.resource.as_mut().unwrap().create = false;
    let (_, out) = f.route(1, m);
    assert_eq!(
        out,
        [answer(
            1,
            protocol::STEP_FIRST_ANSWER,
            rc::LOCK_WAIT_RESOURCE
        )]
    );
    let (_, out) = f.route(2, message(protocol::VERB_LOCK, Some("R")));
    assert_eq!(
        out,
        [
            answer(2, protocol::STEP_FIRST_ANSWER, rc::OK),
            answer(1, protocol::STEP_LATER_ANSWER, rc::LOCK_ENQUEUED)
        ]
    );
    // A parked connection cannot unlock.
    f.route(3, {
        let mut m = message(protocol::VERB_LOCK, Some("Q"));
        m.resource.as_mut().unwrap().create = false;
        m
    });
    assert_eq!(
        f.route(3, message(protocol::VERB_UNLOCK, Some("Q"))).1,
        [Action::Close { conn: 3 }]
    );
}

#[test]
fn a_status_request_is_answered_by_the_daemon() {
    let mut f = Fixture::new();
    let mut m = message(protocol::VERB_MNGMNT, None);
    m.status_version = Some(1);
    assert_eq!(f.route(1, m.clone()), (Control::Status, vec![]));
    // Not as a second message.
    assert_eq!(
        f.route(1, m),
        (Control::None, vec![Action::Close { conn: 1 }])
    );
}
