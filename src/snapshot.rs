//! The daemon's state as `flom --status` shows it: a plain snapshot of every
//! resource (type, holders, waiters, last fencing token) and of the
//! incubator. The lock store takes it (`LockStore::snapshot`, connections
//! named by id), the daemon fills in each connection's peer, and it travels
//! as the status answer: one management message (verb 5, step 16) whose
//! elements, in order, are
//!
//! ```text
//! <session peerid="D"/><status version="1" time="MS"/>
//! <locker name="B64" type="T" token="N"/>      one per resource, followed by
//!   <holder .../> <waiter .../>                its holders and waiters
//! <incubated type="T" .../>                    the incubator
//! ```
//!
//! Entry attributes: `peer` (Base64), `pid`, `uid` (UNIX-socket peers),
//! `name` (Base64), `mode` (0..5), `quantity`, `element` (Base64), `since`
//! (ms since the epoch, daemon clock), `token`; absent when they do not
//! apply. Names and peers are Base64 so that no value needs escaping.
//!
//! A daemon keeping its locks in etcd lists the whole cluster: its status
//! element says `scope="cluster"`, and each entry names the daemon that
//! keeps it (`daemon`, Base64 `HOST:PID`) and its etcd key (`key`, Base64).
//! When the cluster cannot be read it lists its own clients and says why
//! (`note`, Base64). Older readers skip these attributes.

use crate::locker::ConnId;
use crate::protocol::{self, base64_decode, base64_encode_into, ParseError, STATUS_VERSION};
use crate::resource::{LockMode, ResourceType};
use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Who a holder or waiter is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Peer {
    /// The daemon's connection id (meaningful inside the daemon only).
    pub conn: ConnId,
    /// `localhost/` for a UNIX-socket peer, `ADDRESS/PORT` for TCP (as the
    /// VFS's `peer_name`).
    pub address: String,
    /// The process and user of a UNIX-socket peer (SO_PEERCRED).
    pub pid: Option<i32>,
    pub uid: Option<u32>,
}

/// A holder, a waiter or an incubated request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub peer: Peer,
    /// The requested name (a hierarchical path may be below the resource's).
    pub name: String,
    /// Simple and hierarchical resources.
    pub mode: Option<LockMode>,
    /// Numeric resources.
    pub quantity: Option<u64>,
    /// Holders: the element handed out (set, sequence, timestamp).
    pub element: Option<String>,
    /// Holders: held since; waiters and incubated requests: waiting since.
    pub since: SystemTime,
    /// Holders: the fencing token of their grant.
    pub token: Option<u64>,
    /// Where a lock kept in etcd lives (None for the in-memory store).
    pub origin: Option<Origin>,
}

/// The daemon and the etcd key of one request of a cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    /// `HOST:PID` of the daemon whose lease carries the key ("" when that
    /// daemon did not say).
    pub daemon: String,
    pub key: String,
}

/// One resource (a locker of the daemon).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceState {
    pub name: String,
    pub kind: ResourceType,
    /// The last fencing token granted (0: none yet).
    pub last_token: u64,
    pub holders: Vec<Entry>,
    /// In queue order.
    pub waiters: Vec<Entry>,
}

/// A create=no request waiting for its resource to exist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incubated {
    pub kind: ResourceType,
    pub request: Entry,
}

/// The whole state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The daemon's wall time when taken (ages are counted from it).
    pub taken: SystemTime,
    /// The daemon's unique id (its session element).
    pub daemon_id: String,
    /// By name.
    pub resources: Vec<ResourceState>,
    /// In arrival order.
    pub incubator: Vec<Incubated>,
    /// The resources are the whole etcd cluster's, not this daemon's only.
    pub cluster: bool,
    /// Why the snapshot is less than it should be (the cluster unreadable).
    pub note: Option<String>,
}

impl Snapshot {
    /// Every connection the snapshot names, for the daemon to fill in.
    pub fn peers_mut(&mut self) -> impl Iterator<Item = &mut Peer> {
        self.resources
            .iter_mut()
            .flat_map(|r| r.holders.iter_mut().chain(r.waiters.iter_mut()))
            .chain(self.incubator.iter_mut().map(|i| &mut i.request))
            .map(|e| &mut e.peer)
    }
}

fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn from_millis(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

fn kind_of(name: &str) -> Option<ResourceType> {
    use ResourceType::*;
    [Simple, Numeric, Set, Hierarchical, Sequence, Timestamp]
        .into_iter()
        .find(|k| k.as_str() == name)
}

// ------------------------------------------------------------ encoding

fn b64_attr(out: &mut String, key: &str, value: &str) {
    let _ = write!(out, " {key}=\"");
    base64_encode_into(value.as_bytes(), out);
    out.push('"');
}

fn encode_entry(out: &mut String, tag: &str, kind: Option<ResourceType>, e: &Entry) {
    let _ = write!(out, "<{tag}");
    if let Some(k) = kind {
        let _ = write!(out, " type=\"{}\"", k.as_str());
    }
    b64_attr(out, "peer", &e.peer.address);
    if let Some(pid) = e.peer.pid {
        let _ = write!(out, " pid=\"{pid}\"");
    }
    if let Some(uid) = e.peer.uid {
        let _ = write!(out, " uid=\"{uid}\"");
    }
    b64_attr(out, "name", &e.name);
    if let Some(m) = e.mode {
        let _ = write!(out, " mode=\"{}\"", m.code());
    }
    if let Some(q) = e.quantity {
        let _ = write!(out, " quantity=\"{q}\"");
    }
    if let Some(el) = &e.element {
        b64_attr(out, "element", el);
    }
    let _ = write!(out, " since=\"{}\"", millis(e.since));
    if let Some(t) = e.token {
        let _ = write!(out, " token=\"{t}\"");
    }
    if let Some(o) = &e.origin {
        b64_attr(out, "daemon", &o.daemon);
        b64_attr(out, "key", &o.key);
    }
    out.push_str("/>");
}

/// The status answer (verb 5, step 16) carrying `s`.
pub fn encode_answer(out: &mut String, s: &Snapshot) {
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\" ?>");
    let _ = write!(
        out,
        "<msg level=\"{}\" verb=\"{}\" step=\"{}\"><session peerid=\"{}\"/><status version=\"{STATUS_VERSION}\" time=\"{}\"",
        protocol::LEVEL,
        protocol::VERB_MNGMNT,
        protocol::STEP_FIRST_ANSWER,
        s.daemon_id,
        millis(s.taken)
    );
    if s.cluster {
        out.push_str(" scope=\"cluster\"");
    }
    if let Some(note) = &s.note {
        b64_attr(out, "note", note);
    }
    out.push_str("/>");
    for r in &s.resources {
        out.push_str("<locker");
        b64_attr(out, "name", &r.name);
        let _ = write!(
            out,
            " type=\"{}\" token=\"{}\"/>",
            r.kind.as_str(),
            r.last_token
        );
        for h in &r.holders {
            encode_entry(out, "holder", None, h);
        }
        for w in &r.waiters {
            encode_entry(out, "waiter", None, w);
        }
    }
    for i in &s.incubator {
        encode_entry(out, "incubated", Some(i.kind), &i.request);
    }
    out.push_str("</msg>");
}

// ------------------------------------------------------------ decoding

type Attrs = [(String, String)];

fn attr<'a>(attrs: &'a Attrs, key: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn number<T: std::str::FromStr>(attrs: &Attrs, key: &str) -> Result<Option<T>, ParseError> {
    attr(attrs, key)
        .map(|v| v.parse().map_err(|_| ParseError::Invalid))
        .transpose()
}

fn text(attrs: &Attrs, key: &str) -> Result<Option<String>, ParseError> {
    attr(attrs, key)
        .map(|v| {
            base64_decode(v)
                .and_then(|raw| String::from_utf8(raw).ok())
                .ok_or(ParseError::Invalid)
        })
        .transpose()
}

fn decode_entry(attrs: &Attrs) -> Result<Entry, ParseError> {
    let mode = match number::<i64>(attrs, "mode")? {
        Some(m) => Some(LockMode::from_code(m).ok_or(ParseError::Invalid)?),
        None => None,
    };
    Ok(Entry {
        peer: Peer {
            conn: 0,
            address: text(attrs, "peer")?.unwrap_or_default(),
            pid: number(attrs, "pid")?,
            uid: number(attrs, "uid")?,
        },
        name: text(attrs, "name")?.unwrap_or_default(),
        mode,
        quantity: number(attrs, "quantity")?,
        element: text(attrs, "element")?,
        since: from_millis(number(attrs, "since")?.unwrap_or(0)),
        token: number(attrs, "token")?,
        origin: match (text(attrs, "daemon")?, text(attrs, "key")?) {
            (None, None) => None,
            (daemon, key) => Some(Origin {
                daemon: daemon.unwrap_or_default(),
                key: key.unwrap_or_default(),
            }),
        },
    })
}

/// Reads a status answer. Elements it does not know are skipped (a later
/// daemon may say more).
pub fn decode_answer(bytes: &[u8]) -> Result<Snapshot, ParseError> {
    let (verb, step, elements) = protocol::parse_elements(bytes)?;
    if verb != protocol::VERB_MNGMNT || step != protocol::STEP_FIRST_ANSWER {
        return Err(ParseError::Invalid);
    }
    let mut s = Snapshot {
        taken: UNIX_EPOCH,
        daemon_id: String::new(),
        resources: Vec::new(),
        incubator: Vec::new(),
        cluster: false,
        note: None,
    };
    let mut seen_status = false;
    for (tag, attrs) in &elements {
        match tag.as_str() {
            "session" => s.daemon_id = attr(attrs, "peerid").unwrap_or_default().to_string(),
            "status" => {
                if number::<u32>(attrs, "version")? != Some(STATUS_VERSION) {
                    return Err(ParseError::Invalid);
                }
                s.taken = from_millis(number(attrs, "time")?.unwrap_or(0));
                s.cluster = attr(attrs, "scope") == Some("cluster");
                s.note = text(attrs, "note")?;
                seen_status = true;
            }
            "locker" => s.resources.push(ResourceState {
                name: text(attrs, "name")?.unwrap_or_default(),
                kind: attr(attrs, "type")
                    .and_then(kind_of)
                    .ok_or(ParseError::Invalid)?,
                last_token: number(attrs, "token")?.unwrap_or(0),
                holders: Vec::new(),
                waiters: Vec::new(),
            }),
            "holder" | "waiter" => {
                let r = s.resources.last_mut().ok_or(ParseError::Invalid)?;
                let e = decode_entry(attrs)?;
                if tag == "holder" {
                    r.holders.push(e);
                } else {
                    r.waiters.push(e);
                }
            }
            "incubated" => s.incubator.push(Incubated {
                kind: attr(attrs, "type")
                    .and_then(kind_of)
                    .ok_or(ParseError::Invalid)?,
                request: decode_entry(attrs)?,
            }),
            _ => {}
        }
    }
    if !seen_status {
        return Err(ParseError::Invalid);
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str) -> Entry {
        Entry {
            peer: Peer {
                conn: 0,
                address: "localhost/".into(),
                pid: Some(42),
                uid: Some(1000),
            },
            name: name.into(),
            mode: Some(LockMode::ProtectedRead),
            quantity: None,
            element: None,
            since: from_millis(1_700_000_000_123),
            token: None,
            origin: None,
        }
    }

    #[test]
    fn the_answer_round_trips() {
        let mut held = entry("/a/b");
        held.token = Some(7);
        held.element = Some("red \"x\" <y>".into());
        let mut tcp = entry("/a");
        tcp.peer = Peer {
            conn: 0,
            address: "198.18.0.2/40000".into(),
            pid: None,
            uid: None,
        };
        tcp.mode = Some(LockMode::Exclusive);
        let mut pool = entry("pool[3]");
        pool.mode = None;
        pool.quantity = Some(2);
        let s = Snapshot {
            taken: from_millis(1_700_000_001_000),
            daemon_id: "abc".into(),
            resources: vec![
                ResourceState {
                    name: "/a".into(),
                    kind: ResourceType::Hierarchical,
                    last_token: 7,
                    holders: vec![held],
                    waiters: vec![tcp],
                },
                ResourceState {
                    name: "idle".into(),
                    kind: ResourceType::Simple,
                    last_token: 0,
                    holders: vec![],
                    waiters: vec![],
                },
            ],
            incubator: vec![Incubated {
                kind: ResourceType::Numeric,
                request: pool,
            }],
            cluster: false,
            note: None,
        };
        let mut out = String::new();
        encode_answer(&mut out, &s);
        assert!(out.ends_with("</msg>"));
        assert!(!out.contains("scope") && !out.contains("daemon="), "{out}");
        assert_eq!(decode_answer(out.as_bytes()), Ok(s));
    }

    #[test]
    fn a_cluster_answer_round_trips() {
        let mut held = entry("db");
        held.origin = Some(Origin {
            daemon: "node2:4242".into(),
            key: "/flom/r/db/00000000000000ab-00000001".into(),
        });
        let s = Snapshot {
            taken: from_millis(1_700_000_001_000),
            daemon_id: "abc".into(),
            resources: vec![ResourceState {
                name: "db".into(),
                kind: ResourceType::Simple,
                last_token: 0,
                holders: vec![held],
                waiters: vec![],
            }],
            incubator: vec![],
            cluster: true,
            note: Some("etcd did not answer".into()),
        };
        let mut out = String::new();
        encode_answer(&mut out, &s);
        assert!(out.contains(" scope=\"cluster\""), "{out}");
        assert_eq!(decode_answer(out.as_bytes()), Ok(s));
    }

    #[test]
    fn a_wrong_version_or_verb_is_refused() {
        let bad =
            "<msg level=\"3\" verb=\"5\" step=\"16\"><status version=\"9\" time=\"0\"/></msg>";
        assert!(decode_answer(bad.as_bytes()).is_err());
        let lock = "<msg level=\"3\" verb=\"1\" step=\"16\"><answer rc=\"0\"/></msg>";
        assert!(decode_answer(lock.as_bytes()).is_err());
        let ok = "<msg level=\"3\" verb=\"5\" step=\"16\"><status version=\"1\" time=\"5\"/><future x=\"1\"/></msg>";
        assert_eq!(decode_answer(ok.as_bytes()).unwrap().taken, from_millis(5));
    }
}
