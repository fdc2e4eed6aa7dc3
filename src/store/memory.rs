//! The in-memory lock store: a slab of lockers found by routing key, the
//! incubator of create=no requests waiting for their resource, one timer
//! heap (idle expiry, timestamp grains), the VFS status-table updates, the
//! fencing counters (one per locker, above every token granted before it
//! was created) and the `--status` snapshot.

use super::{Action, Client, LockRequest, LockStore, Now, Uids};
use crate::locker::{ConnId, EventWall, Grant, Locker, Outcome, QueueOrder, Request};
use crate::protocol::{STEP_FIRST_ANSWER, STEP_LATER_ANSWER};
use crate::rc;
use crate::resource;
use crate::slab::Slab;
use crate::snapshot::{Entry, Incubated, Peer, ResourceState, Snapshot};
use crate::status::Status;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::{Duration, Instant, SystemTime};

/// Grace added to a locker's idle lifespan (see `LockerEntry::idle_life`).
const LOCKER_IDLE_GRACE_MS: u64 = 1000;
/// Due timers handled per `timer` call, so that thousands of lockers
/// expiring together never stall client traffic.
const TIMERS_PER_PASS: usize = 32;

struct LockerEntry {
    locker: Locker,
    uid: u64,
    /// Since when the locker has had no holder and no waiter.
    unused_since: Option<Instant>,
    /// Whether an idle-expiry timer is in the heap (at most one per locker,
    /// so a busy resource does not pile up stale timers).
    expiry_pending: bool,
    /// The pending wake-up (timestamp grain), if any.
    wake_at: Option<Instant>,
    /// The last fencing token of this resource (a new locker starts from
    /// the highest token the store ever granted).
    fence: u64,
}

impl LockerEntry {
    fn routing_key(&self) -> &str {
        resource::routing_key(&self.locker.name, self.locker.kind)
    }

    /// How long an unused locker lives: its idle lifespan (1000 ms when 0)
    /// plus a grace, as C FLoM's lockers do.
    fn idle_life(&self) -> Duration {
        let idle = if self.locker.idle_lifespan_ms > 0 {
            self.locker.idle_lifespan_ms
        } else {
            1000
        };
        Duration::from_millis(idle + LOCKER_IDLE_GRACE_MS)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum TimerKind {
    Expire,
    Wake,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
struct Timer {
    at: Instant,
    kind: TimerKind,
    /// Slab index and uid of the locker (the uid tells a reused slot apart).
    locker: usize,
    uid: u64,
}

/// Where a connection known to the store is.
enum Place {
    /// Holder or waiter of a locker.
    InLocker(usize),
    /// A create=no request parked until a locker for `key` exists.
    Incubated {
        key: String,
        req: Request,
        /// Its VFS peer name (kept only when a VFS shows it).
        peer_name: Option<String>,
    },
}

struct ClientEntry {
    uid: u64,
    place: Place,
    /// Since when it waits (arrival) or holds (grant), for `--status`.
    since: SystemTime,
    /// The fencing token of its grant, while it holds.
    token: Option<u64>,
}

/// How a lock request reaches its locker: as it arrives (its answer is the
/// first), or adopted from the incubator where it arrived earlier (a later
/// answer). Either carries the request's arrival time.
#[derive(Clone, Copy)]
enum Arrival {
    Direct(SystemTime),
    FromIncubator(SystemTime),
}

pub struct MemoryStore {
    lockers: Slab<LockerEntry>,
    by_key: HashMap<Box<str>, usize>,
    /// Connections with a request in a locker or in the incubator, by id.
    clients: Vec<Option<ClientEntry>>,
    incubator: Vec<ConnId>,
    timers: BinaryHeap<Reverse<Timer>>,
    uids: Uids,
    /// The wall time of the event being handled (timestamp lockers read it).
    wall: EventWall,
    grants: Vec<Grant>,
    /// The VFS status table, when a VFS is mounted.
    status: Option<Status>,
    /// How every locker weighs new requests against queued ones.
    queue_order: QueueOrder,
    /// The highest fencing token granted so far, by any locker.
    fence_high: u64,
    /// The wall time of the event being handled.
    event_wall: SystemTime,
}

impl MemoryStore {
    /// An empty store created at `now`; `status` is the VFS table to keep.
    pub fn new(uids: Uids, status: Option<Status>, now: Now) -> MemoryStore {
        MemoryStore {
            lockers: Slab::default(),
            by_key: HashMap::new(),
            clients: Vec::new(),
            incubator: Vec::new(),
            timers: BinaryHeap::new(),
            uids,
            wall: EventWall::new(now.instant, now.wall),
            grants: Vec::new(),
            status,
            queue_order: QueueOrder::default(),
            fence_high: 0,
            event_wall: now.wall,
        }
    }

    /// The store with lockers that order their queues by `order`
    /// (`--strict-fifo`); the default is C FLoM's.
    pub fn with_queue_order(mut self, order: QueueOrder) -> MemoryStore {
        self.queue_order = order;
        self
    }

    /// The token of a new grant by locker `l`.
    fn next_token(&mut self, l: usize) -> Option<u64> {
        let entry = self.lockers.get_mut(l)?;
        entry.fence += 1;
        self.fence_high = self.fence_high.max(entry.fence);
        Some(entry.fence)
    }

    fn client(&self, conn: ConnId) -> Option<&ClientEntry> {
        self.clients.get(conn as usize)?.as_ref()
    }

    fn set_client(&mut self, conn: ConnId, entry: ClientEntry) {
        let i = conn as usize;
        if i >= self.clients.len() {
            self.clients.resize_with(i + 1, || None);
        }
        self.clients[i] = Some(entry);
    }

    fn take_client(&mut self, conn: ConnId) -> Option<ClientEntry> {
        self.clients.get_mut(conn as usize)?.take()
    }

    fn start_event(&mut self, now: Now) {
        self.wall.set(now.instant, now.wall);
        self.event_wall = now.wall;
    }

    /// Parked create=no requests for `key` go to the new locker, in arrival order.
    fn adopt_incubated(&mut self, key: &str, l: usize, now: Instant, out: &mut Vec<Action>) {
        let mut adopted = Vec::new();
        let clients = &self.clients;
        self.incubator.retain(|&c| {
            let matches = matches!(clients.get(c as usize), Some(Some(ClientEntry { place: Place::Incubated { key: k, .. }, .. })) if k == key);
            if matches {
                adopted.push(c);
            }
            !matches
        });
        for c in adopted {
            let Some(entry) = self.take_client(c) else {
                continue;
            };
            if let Some(s) = &self.status {
                s.table().incubator_left(entry.uid);
            }
            if let Place::Incubated { req, peer_name, .. } = entry.place {
                let peer_name = peer_name.unwrap_or_default();
                // The incubator answered first: the grant is a later answer.
                let peer = || peer_name.clone();
                let client = Client {
                    conn: c,
                    uid: entry.uid,
                    peer_name: &peer,
                };
                let arrival = Arrival::FromIncubator(entry.since);
                self.hand_to_locker(client, arrival, l, req, now, out);
            }
        }
    }

    fn hand_to_locker(
        &mut self,
        client: Client<'_>,
        arrival: Arrival,
        l: usize,
        req: Request,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        let Client {
            conn,
            uid,
            peer_name,
        } = client;
        let (arrived, step) = match arrival {
            Arrival::Direct(t) => (t, STEP_FIRST_ANSWER),
            Arrival::FromIncubator(t) => (t, STEP_LATER_ANSWER),
        };
        let Some(entry) = self.lockers.get_mut(l) else {
            crate::trace!(
                crate::trace::LOCKER,
                "connection {conn}: locker {l} is gone"
            );
            out.push(Action::Close { conn });
            return;
        };
        let (mode, quantity) = (req.mode, req.quantity);
        let outcome = entry.locker.lock(conn, req, now);
        if let Some(s) = &self.status {
            s.table()
                .conn_locked(entry.uid, uid, &peer_name(), mode, quantity, &outcome);
        }
        let (code, element, stays) = match outcome {
            Outcome::Granted(e) => (rc::OK, e, true),
            Outcome::Enqueued => (rc::LOCK_ENQUEUED, None, true),
            Outcome::Busy => (rc::LOCK_BUSY, None, false),
            Outcome::Impossible => (rc::LOCK_IMPOSSIBLE, None, false),
        };
        if stays {
            let (since, token) = if code == rc::OK {
                (self.event_wall, self.next_token(l))
            } else {
                (arrived, None)
            };
            self.set_client(
                conn,
                ClientEntry {
                    uid,
                    place: Place::InLocker(l),
                    since,
                    token,
                },
            );
        }
        crate::trace!(
            crate::trace::LOCKER,
            "connection {conn}: locker {l} answers rc {code} at step {step}"
        );
        out.push(Action::Answer {
            conn,
            step,
            rc: code,
            element,
        });
        self.locker_changed(l, now, out);
    }

    fn send_grants(&mut self, grants: &mut Vec<Grant>, out: &mut Vec<Action>) {
        for g in grants.drain(..) {
            let place = self.client(g.conn).map(|c| &c.place);
            if let Some(&Place::InLocker(l)) = place {
                let token = self.next_token(l);
                let since = self.event_wall;
                if let Some(Some(c)) = self.clients.get_mut(g.conn as usize) {
                    c.since = since;
                    c.token = token;
                }
            }
            if let Some(s) = &self.status {
                if let Some(c) = self.client(g.conn) {
                    if let Place::InLocker(l) = c.place {
                        if let Some(entry) = self.lockers.get(l) {
                            s.table()
                                .conn_granted(entry.uid, c.uid, g.element.as_deref());
                        }
                    }
                }
            }
            out.push(Action::Answer {
                conn: g.conn,
                step: STEP_LATER_ANSWER,
                rc: rc::OK,
                element: g.element,
            });
        }
    }

    /// Bookkeeping after a locker's state changed: idle expiry and wake-ups.
    fn locker_changed(&mut self, l: usize, now: Instant, out: &mut Vec<Action>) {
        let Some(entry) = self.lockers.get_mut(l) else {
            return;
        };
        if entry.locker.is_unused() {
            if entry.unused_since.is_none() {
                entry.unused_since = Some(now);
            }
            if !entry.expiry_pending {
                entry.expiry_pending = true;
                let at = now + entry.idle_life();
                self.timers.push(Reverse(Timer {
                    at,
                    kind: TimerKind::Expire,
                    locker: l,
                    uid: entry.uid,
                }));
                out.push(Action::ArmTimer { at });
            }
        } else {
            entry.unused_since = None;
        }
        let wake = entry.locker.next_wakeup(now);
        if wake != entry.wake_at {
            entry.wake_at = wake;
            if let Some(at) = wake {
                self.timers.push(Reverse(Timer {
                    at,
                    kind: TimerKind::Wake,
                    locker: l,
                    uid: entry.uid,
                }));
                out.push(Action::ArmTimer { at });
            }
        }
    }

    /// Releases whatever `conn` holds or waits for in locker `l`.
    fn release(
        &mut self,
        conn: ConnId,
        uid: u64,
        l: usize,
        unlock: Option<bool>,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        let mut grants = std::mem::take(&mut self.grants);
        if let Some(entry) = self.lockers.get_mut(l) {
            let released = match unlock {
                Some(rollback) => entry.locker.unlock(conn, rollback, now, &mut grants),
                None => false,
            };
            if !released {
                entry.locker.disconnect(conn, now, &mut grants);
            }
            if let Some(s) = &self.status {
                s.table().conn_released(entry.uid, uid);
            }
        }
        self.send_grants(&mut grants, out);
        self.grants = grants;
        self.locker_changed(l, now, out);
    }

    fn destroy_locker(&mut self, l: usize) {
        if let Some(entry) = self.lockers.remove(l) {
            crate::trace!(
                crate::trace::LOCKER,
                "locker {l} ({}) idle: destroyed",
                entry.locker.name
            );
            self.by_key.remove(entry.routing_key());
            if let Some(s) = &self.status {
                s.table().locker_destroyed(entry.uid);
            }
        }
    }
}

impl LockStore for MemoryStore {
    fn lock(&mut self, client: Client<'_>, request: LockRequest, now: Now, out: &mut Vec<Action>) {
        self.start_event(now);
        let conn = client.conn;
        let LockRequest {
            req,
            kind,
            create,
            idle_lifespan_ms,
        } = request;
        let key = resource::routing_key(&req.name, kind);
        if let Some(&l) = self.by_key.get(key) {
            self.hand_to_locker(client, Arrival::Direct(now.wall), l, req, now.instant, out);
        } else if create {
            let clock = self.wall.clock();
            let mut locker = match Locker::with_wall_clock(&req.name, kind, idle_lifespan_ms, clock)
            {
                Ok(l) => l,
                Err(_) => {
                    // e.g. a timestamp format without a time grain: no answer.
                    out.push(Action::Close { conn });
                    return;
                }
            };
            locker.set_queue_order(self.queue_order);
            let uid = self.uids.next();
            let key: Box<str> = key.into();
            let l = self.lockers.insert(LockerEntry {
                locker,
                uid,
                unused_since: None,
                expiry_pending: false,
                wake_at: None,
                fence: self.fence_high,
            });
            self.by_key.insert(key.clone(), l);
            if let Some(s) = &self.status {
                s.table().locker_created(uid, &req.name, kind);
            }
            self.hand_to_locker(client, Arrival::Direct(now.wall), l, req, now.instant, out);
            self.adopt_incubated(&key, l, now.instant, out);
        } else if !req.wait {
            out.push(Action::Answer {
                conn,
                step: STEP_FIRST_ANSWER,
                rc: rc::LOCK_CANT_WAIT,
                element: None,
            });
            out.push(Action::HalfClose { conn });
        } else {
            out.push(Action::Answer {
                conn,
                step: STEP_FIRST_ANSWER,
                rc: rc::LOCK_WAIT_RESOURCE,
                element: None,
            });
            let peer_name = self.status.as_ref().map(|s| {
                let peer = (client.peer_name)();
                s.table().incubated(client.uid, &peer, &req.name, kind);
                peer
            });
            let key = key.to_string();
            self.set_client(
                conn,
                ClientEntry {
                    uid: client.uid,
                    place: Place::Incubated {
                        key,
                        req,
                        peer_name,
                    },
                    since: now.wall,
                    token: None,
                },
            );
            self.incubator.push(conn);
        }
    }

    fn unlock(
        &mut self,
        conn: ConnId,
        name: &str,
        rollback: bool,
        now: Now,
        out: &mut Vec<Action>,
    ) {
        self.start_event(now);
        let l = match self.client(conn) {
            Some(ClientEntry {
                place: Place::InLocker(l),
                ..
            }) => *l,
            // Not in a locker (parked, answered, or never asked): drop it.
            _ => {
                out.push(Action::Close { conn });
                return;
            }
        };
        let Some(entry) = self.lockers.get(l) else {
            crate::trace!(
                crate::trace::LOCKER,
                "connection {conn}: locker {l} is gone"
            );
            out.push(Action::Close { conn });
            return;
        };
        let same = resource::resource_type(name)
            .is_some_and(|k| resource::routing_key(name, k) == entry.routing_key());
        if !same {
            crate::syslog::warning(&format!(
                "FLM009W unlock names resource '{}' but the connection locked '{}'",
                name, entry.locker.name
            ));
            // Unlock of another resource: drop the connection (which releases).
            out.push(Action::Close { conn });
            return;
        }
        let Some(client) = self.take_client(conn) else {
            return;
        };
        self.release(conn, client.uid, l, Some(rollback), now.instant, out);
    }

    fn disconnect(&mut self, conn: ConnId, now: Now, out: &mut Vec<Action>) {
        let Some(client) = self.take_client(conn) else {
            return;
        };
        self.start_event(now);
        match client.place {
            Place::InLocker(l) => self.release(conn, client.uid, l, None, now.instant, out),
            Place::Incubated { .. } => {
                self.incubator.retain(|&c| c != conn);
                if let Some(s) = &self.status {
                    s.table().incubator_left(client.uid);
                }
            }
        }
    }

    fn timer(&mut self, now: Now, out: &mut Vec<Action>) {
        self.start_event(now);
        let now = now.instant;
        for _ in 0..TIMERS_PER_PASS {
            let Some(Reverse(t)) = self.timers.peek().copied() else {
                break;
            };
            if t.at > now {
                break;
            }
            self.timers.pop();
            let Some(entry) = self.lockers.get_mut(t.locker).filter(|e| e.uid == t.uid) else {
                continue; // the locker it was for is gone
            };
            match t.kind {
                TimerKind::Expire => {
                    entry.expiry_pending = false;
                    if let Some(since) = entry.unused_since {
                        let deadline = since + entry.idle_life();
                        if now >= deadline {
                            self.destroy_locker(t.locker);
                        } else {
                            entry.expiry_pending = true;
                            self.timers.push(Reverse(Timer { at: deadline, ..t }));
                            out.push(Action::ArmTimer { at: deadline });
                        }
                    }
                }
                TimerKind::Wake => {
                    if entry.wake_at == Some(t.at) {
                        entry.wake_at = None;
                        let mut grants = std::mem::take(&mut self.grants);
                        entry.locker.on_timer(now, &mut grants);
                        self.send_grants(&mut grants, out);
                        self.grants = grants;
                        self.locker_changed(t.locker, now, out);
                    }
                }
            }
        }
        // More due than one pass handles: the rest on the next pass.
        if let Some(Reverse(t)) = self.timers.peek() {
            if t.at <= now {
                out.push(Action::ArmTimer { at: t.at });
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.lockers.is_empty() && self.incubator.is_empty()
    }

    fn snapshot(&self, now: Now) -> Snapshot {
        let entry = |conn: ConnId, req: &Request, kind: resource::ResourceType| {
            let client = self.client(conn);
            Entry {
                peer: Peer {
                    conn,
                    ..Peer::default()
                },
                name: req.name.clone(),
                mode: kind.uses_lock_mode().then_some(req.mode),
                quantity: kind.uses_quantity().then_some(req.quantity),
                element: None,
                since: client.map_or(now.wall, |c| c.since),
                token: client.and_then(|c| c.token),
                origin: None,
            }
        };
        let mut resources: Vec<ResourceState> = self
            .lockers
            .iter()
            .map(|(_, e)| {
                let kind = e.locker.kind;
                ResourceState {
                    name: e.locker.name.clone(),
                    kind,
                    last_token: e.fence,
                    holders: e
                        .locker
                        .holders()
                        .iter()
                        .map(|h| Entry {
                            element: h.element.clone(),
                            ..entry(h.conn, &h.req, kind)
                        })
                        .collect(),
                    waiters: e
                        .locker
                        .waiting()
                        .iter()
                        .map(|w| entry(w.conn, &w.req, kind))
                        .collect(),
                }
            })
            .collect();
        resources.sort_by(|a, b| a.name.cmp(&b.name));
        let incubator = self
            .incubator
            .iter()
            .filter_map(|&c| match &self.client(c)?.place {
                Place::Incubated { req, .. } => {
                    let kind = resource::resource_type(&req.name)?;
                    Some(Incubated {
                        kind,
                        request: entry(c, req, kind),
                    })
                }
                Place::InLocker(_) => None,
            })
            .collect();
        Snapshot {
            taken: now.wall,
            daemon_id: String::new(),
            resources,
            incubator,
            cluster: false,
            note: None,
        }
    }

    fn fencing_token(&self, conn: ConnId) -> Option<u64> {
        self.client(conn)?.token
    }
}

#[cfg(test)]
#[path = "memory_tests.rs"]
mod tests;
