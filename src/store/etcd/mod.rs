//! The etcd lock store: the daemon's locks kept in an etcd v3 cluster, so
//! that any number of daemons pointing at it form one lock space and a
//! dead daemon's locks go with its lease. Each request becomes a waiter key
//! (see `keys`) attached to the daemon's lease; grants are decided from the
//! resource's queue as etcd holds it. The etcd conversation runs in the
//! threads of `worker`; this side is a state machine driven by the loop
//! (lock / unlock / disconnect events, and the worker's results when the
//! eventfd wakes the loop).

mod cluster;
mod grants;
mod http;
mod idle;
mod keys;
mod lease;
mod transport;
mod worker;

use super::{Action, Client, LockRequest, LockStore, Now};
use crate::config::Config;
use crate::locker::{ConnId, Request};
use crate::protocol::{STEP_FIRST_ANSWER, STEP_LATER_ANSWER};
use crate::rc;
use crate::resource::{self, ResourceType};
use crate::snapshot::Snapshot;
use grants::{NumberStage, StampStage};
use keys::{b64, Decision, Entry, Layout};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::os::unix::io::RawFd;
use std::time::{Duration, Instant};
use worker::{Event, Job, Link};

pub use http::Endpoint;

/// What the daemon's start checked: the cluster answered and granted a lease.
pub struct Session {
    endpoints: Vec<Endpoint>,
    layout: Layout,
    lease: i64,
    ttl: i64,
    /// When the lease grant was sent (its TTL runs from then or later).
    granted: std::time::Instant,
}

impl Session {
    /// Parses the [Etcd] settings and grants the daemon's lease (blocking:
    /// called once at start, before the daemon detaches, so that a failure
    /// is told on the starting client's stderr). Err: the `flom: ` sentence.
    pub fn open(config: &Config) -> Result<Option<Session>, String> {
        let Some(list) = config.etcd_endpoints.as_deref() else {
            return Ok(None);
        };
        let files = transport::TlsFiles {
            ca_file: config.etcd_ca_file.clone(),
            cert_file: config.etcd_cert_file.clone(),
            key_file: config.etcd_key_file.clone(),
        };
        let endpoints = http::parse_endpoints(list, &files)?;
        let prefix = config
            .etcd_prefix
            .clone()
            .unwrap_or_else(|| "/flom/".into());
        if prefix.is_empty() || !prefix.ends_with('/') {
            return Err(format!(
                "flom: [Etcd]/Prefix '{prefix}' must be a key prefix ending with '/' (e.g. /flom/)"
            ));
        }
        let ttl = i64::from(config.etcd_lease_ttl.max(1));
        let granted = std::time::Instant::now();
        let lease = worker::grant_lease(&endpoints, ttl)?;
        Ok(Some(Session {
            endpoints,
            layout: Layout { prefix },
            lease,
            ttl,
            granted,
        }))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// The key's put (and first read of the queue) is under way.
    Putting,
    Waiting,
    /// Granted, claiming its set element.
    Claiming,
    /// create=no: waiting for its resource to exist (no key yet).
    Incubated,
    Held,
}

struct Local {
    seq: u64,
    key: String,
    /// Escaped routing key.
    res: String,
    req: Request,
    kind: ResourceType,
    state: State,
    /// The first answer (granted, enqueued, …) was sent.
    answered: bool,
    element: Option<String>,
    /// Its element key, once claimed.
    element_key: Option<String>,
    /// Its sequence number, once taken.
    number: Option<u64>,
    /// When the request arrived (for `--status`).
    since: std::time::SystemTime,
    /// The idle lifespan its release gives the resource (ms).
    idle_ms: u64,
    /// The fencing token of its grant: the cluster's revision when the
    /// grant was decided (a release is a later revision, so conflicting
    /// grants of a resource get increasing tokens across all daemons).
    token: Option<u64>,
}

/// Reads of a resource's queue: at most one under way, one more when
/// something changed meanwhile.
#[derive(Default)]
struct Queue {
    reading: bool,
    dirty: bool,
}

enum Pending {
    /// The put and first read of request `seq` of `conn`.
    Put { conn: ConnId, seq: u64 },
    /// A read of a queue.
    Range { res: String },
    /// Taking a timestamp for `conn`.
    Stamp {
        conn: ConnId,
        seq: u64,
        stage: StampStage,
    },
    /// Whether the resource of a create=no request exists.
    Exists { conn: ConnId, seq: u64 },
    /// Taking a sequence number for `conn`.
    Number {
        conn: ConnId,
        seq: u64,
        stage: NumberStage,
    },
    /// Reading the whole cluster for `conn`'s `--status`.
    Status { conn: ConnId },
    /// Claiming a set element for `conn`.
    Claim {
        conn: ConnId,
        seq: u64,
        element: String,
        key: String,
    },
}

/// How often the queues waited for are read again whatever the watch says
/// (a watch stream to a member cut off but not closed would be silent).
const RECHECK: Duration = Duration::from_secs(2);

pub struct EtcdStore {
    /// When the waited queues are read again (an armed timer).
    recheck_at: Option<Instant>,
    /// Timestamp requests waiting for the next grain: (when, conn, seq).
    stamp_waits: Vec<(Instant, ConnId, u64)>,
    link: Link,
    layout: Layout,
    lease: Option<i64>,
    clients: HashMap<ConnId, Local>,
    queues: HashMap<String, Queue>,
    pending: HashMap<u64, Pending>,
    next_id: u64,
    next_seq: u64,
    /// Status requests being read, by connection: the call's id.
    statuses: HashMap<ConnId, u64>,
    /// `HOST:PID`, the name of this daemon in the cluster's snapshots.
    label: String,
    /// The idle markers this daemon put, by key (see `idle`).
    markers: HashMap<String, idle::Marker>,
    /// `markers` changed since the idle timer was last armed.
    idle_changed: bool,
}

fn kvs(v: &Value) -> Vec<Entry> {
    let mut out = Vec::new();
    for kv in v.get("kvs").and_then(Value::as_array).into_iter().flatten() {
        let key = kv["key"].as_str().and_then(keys::unb64);
        let val = kv
            .get("value")
            .and_then(Value::as_str)
            .and_then(keys::unb64)
            .unwrap_or_default();
        let (Some(key), Some((mode, quantity, since_ms, name))) = (
            key.and_then(|k| String::from_utf8(k).ok()),
            std::str::from_utf8(&val).ok().and_then(keys::parse_value),
        ) else {
            continue;
        };
        out.push(Entry {
            key,
            mode,
            quantity,
            name,
            create_revision: worker::num(&kv["create_revision"]).unwrap_or(0),
            since_ms,
        });
    }
    out.sort_by_key(|e| e.create_revision);
    out
}

impl EtcdStore {
    /// Starts the worker threads of `session`.
    pub fn start(session: Session) -> std::io::Result<EtcdStore> {
        let link = worker::start(
            session.endpoints,
            session.layout.clone(),
            session.lease,
            session.ttl,
            session.granted,
        )?;
        let mut store = EtcdStore {
            recheck_at: None,
            stamp_waits: Vec::new(),
            link,
            layout: session.layout,
            lease: Some(session.lease),
            clients: HashMap::new(),
            queues: HashMap::new(),
            pending: HashMap::new(),
            next_id: 1,
            next_seq: 1,
            statuses: HashMap::new(),
            label: cluster::own_label(),
            markers: HashMap::new(),
            idle_changed: false,
        };
        store.name_daemon(session.lease);
        Ok(store)
    }

    fn call(&mut self, path: &'static str, body: Value, what: Pending) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.pending.insert(id, what);
        let _ = self.link.jobs.send(Job::Call { id, path, body });
        id
    }

    fn range_body(&self, res: &str) -> Value {
        let q = self.layout.queue(res);
        json!({
            "key": b64(q.as_bytes()),
            "range_end": b64(&keys::prefix_end(&q)),
            "sort_order": "ASCEND",
            "sort_target": "CREATE",
        })
    }

    fn read_queue(&mut self, res: &str) {
        let q = self.queues.entry(res.to_string()).or_default();
        if q.reading {
            q.dirty = true;
            return;
        }
        q.reading = true;
        q.dirty = false;
        let body = self.range_body(res);
        self.call(
            "/v3/kv/range",
            body,
            Pending::Range {
                res: res.to_string(),
            },
        );
    }

    /// Deletes `conn`'s keys (a transactional sequence's number rolled back
    /// is recycled in the same txn); it is forgotten.
    fn release(&mut self, conn: ConnId, rollback: bool) {
        let Some(l) = self.clients.remove(&conn).filter(|l| !l.key.is_empty()) else {
            return; // (create=no, still incubated: no key)
        };
        crate::trace!(
            crate::trace::LOCKER,
            "etcd: connection {conn} releases {}",
            l.key
        );
        let del = |k: &str| json!({ "request_delete_range": { "key": b64(k.as_bytes()) } });
        let mut ops = vec![del(&l.key)];
        if let Some(k) = &l.element_key {
            ops.push(del(k));
        }
        if let Some(n) = l
            .number
            .filter(|_| rollback && resource::is_transactional_sequence(&l.req.name))
        {
            let k = format!("{}{n:010}", self.layout.recycled(&l.res));
            ops.insert(0, json!({ "request_put": { "key": b64(k.as_bytes()), "value": b64(n.to_string().as_bytes()) } }));
        }
        if let Some(op) = self.idle_marker(&l.res, l.idle_ms) {
            ops.push(op);
        }
        let body = json!({ "success": ops });
        let _ = self.link.jobs.send(Job::Apply {
            path: "/v3/kv/txn",
            body,
        });
    }

    fn answer(out: &mut Vec<Action>, conn: ConnId, first: bool, rc: i32, element: Option<String>) {
        out.push(Action::Answer {
            conn,
            step: if first {
                STEP_FIRST_ANSWER
            } else {
                STEP_LATER_ANSWER
            },
            rc,
            element,
        });
    }

    /// Applies the queue's verdict to `conn`'s request.
    /// `revision`: the cluster's revision of the read that gave `queue`.
    fn decide(
        &mut self,
        conn: ConnId,
        queue: &[Entry],
        revision: Option<i64>,
        out: &mut Vec<Action>,
    ) {
        let Some(l) = self.clients.get(&conn) else {
            return;
        };
        let first = !l.answered;
        if !matches!(l.state, State::Putting | State::Waiting) {
            return;
        }
        let decision = keys::decide(&l.req.name, l.kind, queue, &l.key);
        if matches!(decision, Decision::Grant) {
            let l = self.clients.get_mut(&conn).expect("present");
            l.token = revision.and_then(|r| u64::try_from(r).ok());
        }
        let Some(l) = self.clients.get(&conn) else {
            return;
        };
        match decision {
            Decision::Grant if l.kind == ResourceType::Set => {
                // A free element, claimed by a create-if-absent txn: first
                // the taken ones are read (see on_claim_reply).
                let l = self.clients.get_mut(&conn).expect("present");
                l.state = State::Claiming;
                let (seq, elements) = (l.seq, self.layout.elements(&l.res));
                let body = json!({
                    "key": b64(elements.as_bytes()),
                    "range_end": b64(&keys::prefix_end(&elements)),
                    "keys_only": true,
                });
                let claim = Pending::Claim {
                    conn,
                    seq,
                    element: String::new(),
                    key: String::new(),
                };
                self.call("/v3/kv/range", body, claim);
            }
            Decision::Grant if l.kind == ResourceType::Timestamp => {
                self.clients.get_mut(&conn).expect("present").state = State::Claiming;
                self.take_stamp(conn);
            }
            Decision::Grant if l.kind == ResourceType::Sequence => {
                self.clients.get_mut(&conn).expect("present").state = State::Claiming;
                self.take_number(conn);
            }
            Decision::Grant => {
                let l = self.clients.get_mut(&conn).expect("present");
                l.state = State::Held;
                crate::trace!(crate::trace::LOCKER, "etcd: {} granted", l.key);
                l.answered = true;
                Self::answer(out, conn, first, rc::OK, None);
            }
            Decision::Wait if first && !l.req.wait => {
                Self::answer(out, conn, true, rc::LOCK_BUSY, None);
                self.release(conn, true);
            }
            Decision::Wait => {
                let l = self.clients.get_mut(&conn).expect("present");
                l.state = State::Waiting;
                if first {
                    l.answered = true;
                    Self::answer(out, conn, true, rc::LOCK_ENQUEUED, None);
                }
            }
            Decision::Never => {
                Self::answer(out, conn, first, rc::LOCK_IMPOSSIBLE, None);
                self.release(conn, true);
            }
            Decision::Gone => {
                crate::syslog::error(&format!(
                    "FLM060E etcd: the key {} of a request is gone; closing its connection",
                    l.key
                ));
                self.clients.remove(&conn);
                out.push(Action::Close { conn });
            }
        }
    }

    fn on_reply(&mut self, id: u64, result: Result<Value, String>, out: &mut Vec<Action>) {
        let Some(what) = self.pending.remove(&id) else {
            return;
        };
        match (what, result) {
            (Pending::Status { conn }, result) => self.on_status_reply(id, conn, result, out),
            (Pending::Put { conn, seq }, Ok(v)) => {
                if !self.clients.get(&conn).is_some_and(|l| l.seq == seq) {
                    return;
                }
                let range = &v["responses"][1]["response_range"];
                let queue = kvs(range);
                let revision = worker::num(&v["header"]["revision"]);
                self.decide(conn, &queue, revision, out);
            }
            (Pending::Put { conn, seq }, Err(why)) => {
                crate::syslog::error(&format!("FLM060E {why}"));
                if self.clients.get(&conn).is_some_and(|l| l.seq == seq) {
                    self.release(conn, true);
                    out.push(Action::Close { conn });
                }
            }
            (Pending::Range { res }, result) => {
                let q = self.queues.entry(res.clone()).or_default();
                q.reading = false;
                let again = q.dirty;
                match result {
                    Ok(v) => {
                        let queue = kvs(&v);
                        let revision = worker::num(&v["header"]["revision"]);
                        let conns: Vec<ConnId> = self
                            .clients
                            .iter()
                            .filter(|(_, l)| l.res == res && l.state == State::Waiting)
                            .map(|(&c, _)| c)
                            .collect();
                        for c in conns {
                            self.decide(c, &queue, revision, out);
                        }
                    }
                    Err(why) => crate::syslog::error(&format!("FLM060E {why}")),
                }
                if again || !self.has_waiters(&res) {
                    if self.has_waiters(&res) {
                        self.read_queue(&res);
                    } else {
                        self.queues.remove(&res);
                    }
                }
            }
            (
                Pending::Claim {
                    conn,
                    seq,
                    element,
                    key,
                },
                Ok(v),
            ) => self.on_claim_reply(conn, seq, element, key, v, out),
            (Pending::Stamp { conn, seq, stage }, Ok(v)) => {
                self.on_stamp_reply(conn, seq, stage, v, Instant::now(), out)
            }
            (Pending::Exists { conn, seq }, Ok(v)) => self.on_exists_reply(conn, seq, v, out),
            (Pending::Number { conn, seq, stage }, Ok(v)) => {
                self.on_number_reply(conn, seq, stage, v, out)
            }
            (
                Pending::Claim { conn, seq, .. }
                | Pending::Number { conn, seq, .. }
                | Pending::Stamp { conn, seq, .. }
                | Pending::Exists { conn, seq },
                Err(why),
            ) => {
                crate::syslog::error(&format!("FLM060E {why}"));
                if self.clients.get(&conn).is_some_and(|l| l.seq == seq) {
                    self.release(conn, true);
                    out.push(Action::Close { conn });
                }
            }
        }
    }

    fn read_waited_queues(&mut self) {
        let mut all: Vec<String> = self
            .clients
            .values()
            .filter(|l| matches!(l.state, State::Waiting | State::Putting))
            .map(|l| l.res.clone())
            .collect();
        all.sort();
        all.dedup();
        for res in all {
            self.read_queue(&res);
        }
    }

    fn arm_recheck(&mut self, now: Now, out: &mut Vec<Action>) {
        let waiting = self.clients.values().any(|l| l.state == State::Waiting);
        if waiting && self.recheck_at.is_none() {
            let at = now.instant + RECHECK;
            self.recheck_at = Some(at);
            out.push(Action::ArmTimer { at });
        }
    }

    /// Puts `conn`'s waiter key and reads its queue, in one txn.
    fn send_put(&mut self, conn: ConnId) {
        let (Some(lease), Some(l)) = (self.lease, self.clients.get(&conn)) else {
            return;
        };
        let key = self.layout.waiter(&l.res, lease, l.seq);
        let quantity = if l.kind.uses_quantity() {
            l.req.quantity.max(1)
        } else {
            1
        };
        let value = keys::value(l.req.mode, quantity, idle::wall_ms(l.since), &l.req.name);
        crate::trace!(
            crate::trace::LOCKER,
            "etcd: connection {conn} puts {key} = {value}"
        );
        let range = self.range_body(&l.res);
        let body = json!({
            "success": [
                { "request_put": { "key": b64(key.as_bytes()), "value": b64(value.as_bytes()), "lease": lease.to_string() } },
                { "request_range": range },
            ]
        });
        let seq = l.seq;
        let l = self.clients.get_mut(&conn).expect("present");
        l.key = key;
        l.state = State::Putting;
        self.call("/v3/kv/txn", body, Pending::Put { conn, seq });
    }

    fn has_waiters(&self, res: &str) -> bool {
        self.clients
            .values()
            .any(|l| l.res == res && l.state == State::Waiting)
    }
}

impl LockStore for EtcdStore {
    fn snapshot(&self, now: Now) -> Snapshot {
        self.own_snapshot(now)
    }

    fn status(&mut self, conn: ConnId, _now: Now) -> Option<Snapshot> {
        self.request_status(conn);
        None
    }

    fn fencing_token(&self, conn: ConnId) -> Option<u64> {
        self.clients
            .get(&conn)
            .filter(|l| l.state == State::Held)
            .and_then(|l| l.token)
    }

    fn store_key(&self, conn: ConnId) -> Option<&str> {
        self.clients
            .get(&conn)
            .map(|l| l.key.as_str())
            .filter(|k| !k.is_empty())
    }

    fn lock(&mut self, client: Client<'_>, request: LockRequest, now: Now, out: &mut Vec<Action>) {
        let conn = client.conn;
        if self.lease.is_none() {
            // Between a lost lease and the next: no lock can be kept.
            crate::syslog::error("FLM060E etcd: no lease (etcd unreachable); request refused");
            out.push(Action::Close { conn });
            return;
        }
        let LockRequest {
            req,
            kind,
            create,
            idle_lifespan_ms,
        } = request;
        let res = keys::escape(resource::routing_key(&req.name, kind));
        let seq = self.next_seq;
        self.next_seq += 1;
        self.clients.insert(
            conn,
            Local {
                seq,
                key: String::new(),
                res: res.clone(),
                req,
                kind,
                state: State::Putting,
                answered: false,
                element: None,
                element_key: None,
                number: None,
                since: now.wall,
                idle_ms: idle_lifespan_ms,
                token: None,
            },
        );
        if create {
            self.send_put(conn);
        } else {
            self.check_exists(conn, seq, &res);
        }
    }

    fn unlock(
        &mut self,
        conn: ConnId,
        _name: &str,
        rollback: bool,
        _now: Now,
        out: &mut Vec<Action>,
    ) {
        match self.clients.get(&conn) {
            Some(l) if l.state == State::Held => self.release(conn, rollback),
            _ => {
                self.release(conn, true);
                out.push(Action::Close { conn });
            }
        }
        self.arm_idle(out);
    }

    fn disconnect(&mut self, conn: ConnId, _now: Now, out: &mut Vec<Action>) {
        self.statuses.remove(&conn);
        self.release(conn, true);
        self.arm_idle(out);
    }

    fn timer(&mut self, now: Now, out: &mut Vec<Action>) {
        self.retry_stamps(now.instant);
        self.expire_idle(now.instant);
        self.arm_idle(out);
        if self.recheck_at.is_some_and(|at| at <= now.instant) {
            self.recheck_at = None;
            self.read_waited_queues();
            self.arm_recheck(now, out);
        }
    }

    fn is_empty(&self) -> bool {
        self.clients.is_empty() && self.pending.is_empty() && self.markers.is_empty()
    }

    fn wake_fd(&self) -> Option<RawFd> {
        Some(self.link.fd)
    }

    fn woken(&mut self, now: Now, out: &mut Vec<Action>) {
        self.link.clear();
        while let Ok(ev) = self.link.events.try_recv() {
            match ev {
                Event::Reply { id, result } => self.on_reply(id, result, out),
                Event::Deleted(res) => {
                    // A request whose put is under way may have read the
                    // queue before this delete: read it again after the put
                    // (the worker answers in order).
                    let concerned = self.clients.values().any(|l| {
                        l.res == res && matches!(l.state, State::Waiting | State::Putting)
                    });
                    if concerned {
                        self.read_queue(&res);
                    }
                }
                Event::WatchReset => self.read_waited_queues(),
                Event::Put(res) => {
                    let born: Vec<ConnId> = self
                        .clients
                        .iter()
                        .filter(|(_, l)| l.res == res && l.state == State::Incubated)
                        .map(|(&c, _)| c)
                        .collect();
                    for c in born {
                        self.send_put(c);
                    }
                }
                Event::LeaseLost(why) => {
                    crate::syslog::error(&format!(
                        "FLM061E etcd: the daemon's lease is lost ({why}): closing {} connection(s) whose locks it held",
                        self.clients.len()
                    ));
                    self.lease = None;
                    self.markers.clear();
                    for (conn, _) in self.clients.drain() {
                        out.push(Action::Close { conn });
                    }
                }
                Event::NewLease(id) => {
                    crate::syslog::notice(&format!("FLM062N etcd: new lease {id:x}"));
                    self.lease = Some(id);
                    self.name_daemon(id);
                }
            }
        }
        self.arm_recheck(now, out);
        self.arm_idle(out);
    }
}
