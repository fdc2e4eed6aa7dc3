//! `flom --status` of a daemon keeping its locks in etcd: the whole
//! cluster's requests, read in one txn (every queue, every claimed set
//! element, every daemon's name, all at one revision) and laid out as a
//! snapshot. This daemon's own requests keep what only it knows (peer,
//! element, fencing token, state); another daemon's are told held or
//! waiting by the same grant rule that daemon applies, and named by their
//! daemon and key.

use super::keys::{self, b64, Decision, Entry, Layout};
use super::worker::Job;
use super::{kvs, EtcdStore, Local, Pending, State};
use crate::locker::ConnId;
use crate::resource::{self, ResourceType};
use crate::snapshot::{Entry as SnapshotEntry, Incubated, Origin, Peer, ResourceState, Snapshot};
use crate::store::{Action, Now};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The connection id of a request kept by another daemon (no connection
/// of this daemon has it, so the loop fills in no peer).
pub const REMOTE: ConnId = ConnId::MAX;

/// `HOST:PID` of this process, as the cluster's snapshots name daemons.
pub fn own_label() -> String {
    let mut buf = [0u8; 256];
    let host = nix::unistd::gethostname(&mut buf)
        .ok()
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_string();
    format!("{host}:{}", std::process::id())
}

/// The txn reading the cluster: queues, set elements, daemons.
pub fn read_body(layout: &Layout) -> Value {
    let range = |p: String| json!({ "request_range": { "key": b64(p.as_bytes()), "range_end": b64(&keys::prefix_end(&p)) } });
    json!({ "success": [
        range(format!("{}r/", layout.prefix)),
        range(format!("{}e/", layout.prefix)),
        range(layout.daemons()),
        range(layout.idles()),
    ] })
}

/// The keys and values of a range answer, as text.
pub fn pairs(range: &Value) -> impl Iterator<Item = (String, String)> + '_ {
    let text = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .and_then(keys::unb64)
            .and_then(|b| String::from_utf8(b).ok())
    };
    range
        .get("kvs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(move |kv| {
            Some((
                text(kv.get("key"))?,
                text(kv.get("value")).unwrap_or_default(),
            ))
        })
}

/// The lease (hex, as in the key) of a waiter key `…/<lease>-<seq>`.
fn lease_of(key: &str) -> &str {
    let last = key.rsplit('/').next().unwrap_or("");
    last.split('-').next().unwrap_or("")
}

fn from_millis(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// The snapshot of the cluster read by `read_body` (`reply`), with this
/// daemon's requests (`locals`) as it knows them.
pub fn build(
    layout: &Layout,
    reply: &Value,
    locals: &HashMap<ConnId, Local>,
    own: &str,
    taken: SystemTime,
) -> Snapshot {
    let responses = &reply["responses"];
    let queued = kvs(&responses[0]["response_range"]);
    let element_prefix = format!("{}e/", layout.prefix);
    let elements: HashMap<String, String> = pairs(&responses[1]["response_range"])
        .filter_map(|(k, holder)| {
            let (_, element) = k.strip_prefix(&element_prefix)?.split_once('/')?;
            Some((holder, element.to_string()))
        })
        .collect();
    let daemon_prefix = layout.daemons();
    let daemons: HashMap<String, String> = pairs(&responses[2]["response_range"])
        .filter_map(|(k, label)| Some((k.strip_prefix(&daemon_prefix)?.to_string(), label)))
        .collect();
    let by_key: HashMap<&str, (ConnId, &Local)> = locals
        .iter()
        .filter(|(_, l)| !l.key.is_empty())
        .map(|(&c, l)| (l.key.as_str(), (c, l)))
        .collect();

    let mut queues: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
    for e in queued {
        if let Some(res) = layout.resource_of(&e.key) {
            queues.entry(res.to_string()).or_default().push(e);
        }
    }
    let mut resources: BTreeMap<String, ResourceState> = BTreeMap::new();
    let mut seen: HashSet<ConnId> = HashSet::new();
    for (res, queue) in &queues {
        let name = keys::unescape(res);
        let Some(kind) =
            resource::resource_type(&queue[0].name).or_else(|| resource::resource_type(&name))
        else {
            continue;
        };
        let r = resources
            .entry(name.clone())
            .or_insert_with(|| empty(name, kind));
        for e in queue {
            let local = by_key.get(e.key.as_str());
            let held = match local {
                Some((_, l)) => matches!(l.state, State::Held | State::Claiming),
                None => keys::decide(&e.name, kind, queue, &e.key) == Decision::Grant,
            };
            let entry = match local {
                Some(&(conn, l)) => {
                    seen.insert(conn);
                    local_entry(conn, l, own, held)
                }
                None => SnapshotEntry {
                    peer: Peer {
                        conn: REMOTE,
                        ..Peer::default()
                    },
                    name: e.name.clone(),
                    mode: kind.uses_lock_mode().then_some(e.mode),
                    quantity: kind.uses_quantity().then_some(e.quantity),
                    element: elements.get(&e.key).filter(|_| held).cloned(),
                    since: from_millis(e.since_ms),
                    token: None,
                    origin: Some(Origin {
                        daemon: daemons.get(lease_of(&e.key)).cloned().unwrap_or_default(),
                        key: e.key.clone(),
                    }),
                },
            };
            r.last_token = r.last_token.max(entry.token.unwrap_or(0));
            if held {
                r.holders.push(entry);
            } else {
                r.waiters.push(entry);
            }
        }
    }
    // Resources nobody holds or waits for, kept by an idle marker.
    let idle_prefix = layout.idles();
    let taken_ms = super::idle::wall_ms(taken);
    for (key, until) in pairs(&responses[3]["response_range"]) {
        let Some(res) = key.strip_prefix(&idle_prefix) else {
            continue;
        };
        let name = keys::unescape(res);
        if queues.contains_key(res) || !super::idle::alive(&until, taken_ms) {
            continue;
        }
        if let Some(kind) = resource::resource_type(&name) {
            resources
                .entry(name.clone())
                .or_insert_with(|| empty(name, kind));
        }
    }
    // This daemon's requests not in etcd (yet): incubated, or being put.
    let mut incubator = Vec::new();
    let mut rest: Vec<(&ConnId, &Local)> =
        locals.iter().filter(|(c, _)| !seen.contains(c)).collect();
    rest.sort_by_key(|(&c, _)| c);
    for (&conn, l) in rest {
        let entry = local_entry(conn, l, own, false);
        if l.state == State::Incubated {
            incubator.push(Incubated {
                kind: l.kind,
                request: entry,
            });
        } else if !l.key.is_empty() {
            let name = keys::unescape(&l.res);
            let r = resources
                .entry(name.clone())
                .or_insert_with(|| empty(name, l.kind));
            r.waiters.push(entry);
        }
    }
    Snapshot {
        taken,
        daemon_id: String::new(),
        resources: resources.into_values().collect(),
        incubator,
        cluster: true,
        note: None,
    }
}

fn empty(name: String, kind: ResourceType) -> ResourceState {
    ResourceState {
        name,
        kind,
        last_token: 0,
        holders: Vec::new(),
        waiters: Vec::new(),
    }
}

/// One of this daemon's requests as `--status` shows it (a waiter has no
/// element and no token yet).
pub fn local_entry(conn: ConnId, l: &Local, own: &str, held: bool) -> SnapshotEntry {
    SnapshotEntry {
        peer: Peer {
            conn,
            ..Peer::default()
        },
        name: l.req.name.clone(),
        mode: l.kind.uses_lock_mode().then_some(l.req.mode),
        quantity: l.kind.uses_quantity().then_some(l.req.quantity),
        element: l.element.clone().filter(|_| held),
        since: l.since,
        token: l.token.filter(|_| held && l.state == State::Held),
        origin: Some(Origin {
            daemon: own.to_string(),
            key: l.key.clone(),
        }),
    }
}

impl EtcdStore {
    /// Puts the key naming this daemon, attached to `lease` (for the
    /// cluster's `--status`).
    pub(super) fn name_daemon(&mut self, lease: i64) {
        let key = self.layout.daemon(lease);
        let body = json!({ "key": b64(key.as_bytes()), "value": b64(self.label.as_bytes()), "lease": lease.to_string() });
        let _ = self.link.jobs.send(Job::Apply {
            path: "/v3/kv/put",
            body,
        });
    }

    /// Reads the whole cluster for `conn`'s `--status` (answered by
    /// `on_status_reply`).
    pub(super) fn request_status(&mut self, conn: ConnId) {
        let body = read_body(&self.layout);
        let id = self.call("/v3/kv/txn", body, Pending::Status { conn });
        self.statuses.insert(conn, id);
    }

    /// The answer to a status request whose cluster read ended.
    pub(super) fn on_status_reply(
        &mut self,
        id: u64,
        conn: ConnId,
        result: Result<Value, String>,
        out: &mut Vec<Action>,
    ) {
        if self.statuses.get(&conn) != Some(&id) {
            return; // (the connection is gone)
        }
        self.statuses.remove(&conn);
        let now = Now::read();
        let snapshot = match result {
            Ok(v) => build(&self.layout, &v, &self.clients, &self.label, now.wall),
            Err(why) => {
                crate::syslog::error(&format!("FLM060E {why}"));
                Snapshot {
                    note: Some(format!(
                        "etcd could not be read ({why}): only this daemon's own clients are listed"
                    )),
                    ..self.own_snapshot(now)
                }
            }
        };
        out.push(Action::Status {
            conn,
            snapshot: Box::new(snapshot),
        });
    }

    /// This daemon's own clients only, each since its request arrived
    /// (`status` lists the whole cluster).
    pub(super) fn own_snapshot(&self, now: Now) -> Snapshot {
        let mut by_name: std::collections::BTreeMap<&str, ResourceState> =
            std::collections::BTreeMap::new();
        let mut incubator = Vec::new();
        let mut conns: Vec<&ConnId> = self.clients.keys().collect();
        conns.sort();
        for &conn in conns {
            let l = &self.clients[&conn];
            let held = l.state == State::Held;
            let entry = local_entry(conn, l, &self.label, held);
            if l.state == State::Incubated {
                incubator.push(Incubated {
                    kind: l.kind,
                    request: entry,
                });
                continue;
            }
            let r = by_name
                .entry(l.req.name.as_str())
                .or_insert_with(|| ResourceState {
                    name: l.req.name.clone(),
                    kind: l.kind,
                    last_token: 0,
                    holders: Vec::new(),
                    waiters: Vec::new(),
                });
            if held {
                r.holders.push(entry);
            } else {
                r.waiters.push(entry);
            }
        }
        Snapshot {
            taken: now.wall,
            daemon_id: String::new(),
            resources: by_name.into_values().collect(),
            incubator,
            cluster: false,
            note: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(key: &str, value: &str, rev: i64) -> Value {
        json!({ "key": b64(key.as_bytes()), "value": b64(value.as_bytes()), "create_revision": rev.to_string() })
    }

    #[test]
    fn other_daemons_requests_are_held_or_waiting_by_the_grant_rule() {
        let layout = Layout {
            prefix: "/flom/".into(),
        };
        let (a, b) = (layout.waiter("db", 0xa, 1), layout.waiter("db", 0xb, 1));
        let set = layout.waiter("x.y", 0xb, 2);
        let reply = json!({ "responses": [
            { "response_range": { "kvs": [
                kv(&a, "EX 1 1700000000000 db", 5),
                kv(&b, "EX 1 1700000001000 db", 6),
                kv(&set, "EX 1 1700000002000 x.y", 7),
            ] } },
            { "response_range": { "kvs": [ kv(&layout.element("x.y", "y"), &set, 8) ] } },
            { "response_range": { "kvs": [ kv(&layout.daemon(0xa), "node1:10", 2), kv(&layout.daemon(0xb), "node2:20", 3) ] } },
        ] });
        let s = build(&layout, &reply, &HashMap::new(), "me:1", UNIX_EPOCH);
        assert!(s.cluster);
        let names: Vec<&str> = s.resources.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["db", "x.y"]);
        let db = &s.resources[0];
        assert_eq!(db.holders.len(), 1);
        assert_eq!(db.holders[0].origin.as_ref().unwrap().daemon, "node1:10");
        assert_eq!(db.holders[0].since, from_millis(1_700_000_000_000));
        assert_eq!(db.holders[0].peer.conn, REMOTE);
        assert_eq!(db.waiters.len(), 1);
        assert_eq!(db.waiters[0].origin.as_ref().unwrap().key, b);
        let xy = &s.resources[1];
        assert_eq!(xy.kind, ResourceType::Set);
        assert_eq!(xy.holders[0].element.as_deref(), Some("y"));
        assert_eq!(xy.holders[0].origin.as_ref().unwrap().daemon, "node2:20");
    }
}
