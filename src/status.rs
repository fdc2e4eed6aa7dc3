//! The status table behind the VFS (`-m DIR`): what the daemon's lockers,
//! their holders and waiters, and the incubator look like, kept up to date
//! by the daemon loop and read by the FUSE thread (`vfs.rs`).
//!
//! The loop calls one update method per event (each O(log n)); the FUSE
//! thread locks the table only to copy out the few bytes a request needs
//! (one attribute set, one file's content, one page of a directory), so the
//! loop never waits longer than such a copy, whatever the readers do.
//!
//! The tree the table describes (daemon.md §12):
//!
//! ```text
//! status/incubator/<conn>/{peer_name,resource_name,resource_type}
//! status/lockers/<locker>/{resource_name,resource_type,holders/,waitings/}
//! status/lockers/<locker>/{holders,waitings}/<conn>/{peer_name,lock_mode,
//!     quantity,sequence_value,timestamp_value}   (as the type calls for)
//! ```

use crate::locker::Outcome;
use crate::resource::{LockMode, ResourceType};
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

/// The two lists of a locker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum List {
    Holders,
    Waitings,
}

/// The files of an incubator entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IncubatorFile {
    PeerName,
    ResourceName,
    ResourceType,
}

/// The files of a locker directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LockerFile {
    ResourceName,
    ResourceType,
}

/// The files of a holder or waiter directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnFile {
    PeerName,
    LockMode,
    Quantity,
    SequenceValue,
    TimestampValue,
}

/// A path of the tree, relative to the mount point. Uids are the daemon's
/// connection and locker numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Node {
    Root,
    Status,
    Incubator,
    Lockers,
    /// `status/incubator/<conn>`
    Incubated(u64),
    IncubatedFile(u64, IncubatorFile),
    /// `status/lockers/<locker>`
    Locker(u64),
    LockerFile(u64, LockerFile),
    /// `status/lockers/<locker>/holders|waitings`
    List(u64, List),
    /// `status/lockers/<locker>/<list>/<conn>`
    Conn(u64, List, u64),
    ConnFile(u64, List, u64, ConnFile),
}

impl IncubatorFile {
    const ALL: [IncubatorFile; 3] = [
        IncubatorFile::PeerName,
        IncubatorFile::ResourceName,
        IncubatorFile::ResourceType,
    ];
    fn name(self) -> &'static str {
        match self {
            IncubatorFile::PeerName => "peer_name",
            IncubatorFile::ResourceName => "resource_name",
            IncubatorFile::ResourceType => "resource_type",
        }
    }
}

impl ConnFile {
    const ALL: [ConnFile; 5] = [
        ConnFile::PeerName,
        ConnFile::LockMode,
        ConnFile::Quantity,
        ConnFile::SequenceValue,
        ConnFile::TimestampValue,
    ];
    fn name(self) -> &'static str {
        match self {
            ConnFile::PeerName => "peer_name",
            ConnFile::LockMode => "lock_mode",
            ConnFile::Quantity => "quantity",
            ConnFile::SequenceValue => "sequence_value",
            ConnFile::TimestampValue => "timestamp_value",
        }
    }
}

impl List {
    fn name(self) -> &'static str {
        match self {
            List::Holders => "holders",
            List::Waitings => "waitings",
        }
    }
}

impl Node {
    pub fn is_dir(&self) -> bool {
        !matches!(
            self,
            Node::IncubatedFile(..) | Node::LockerFile(..) | Node::ConnFile(..)
        )
    }

    /// The directory holding this node (the root for the root).
    pub fn parent(&self) -> Node {
        match *self {
            Node::Root | Node::Status => Node::Root,
            Node::Incubator | Node::Lockers => Node::Status,
            Node::Incubated(_) => Node::Incubator,
            Node::IncubatedFile(c, _) => Node::Incubated(c),
            Node::Locker(_) => Node::Lockers,
            Node::LockerFile(l, _) | Node::List(l, _) => Node::Locker(l),
            Node::Conn(l, list, _) => Node::List(l, list),
            Node::ConnFile(l, list, c, _) => Node::Conn(l, list, c),
        }
    }

    /// The node's file name in its directory.
    pub fn name(&self) -> String {
        match *self {
            Node::Root => String::new(),
            Node::Status => "status".into(),
            Node::Incubator => "incubator".into(),
            Node::Lockers => "lockers".into(),
            Node::Incubated(uid) | Node::Locker(uid) | Node::Conn(_, _, uid) => uid.to_string(),
            Node::IncubatedFile(_, f) => f.name().into(),
            Node::LockerFile(_, LockerFile::ResourceName) => "resource_name".into(),
            Node::LockerFile(_, LockerFile::ResourceType) => "resource_type".into(),
            Node::List(_, list) => list.name().into(),
            Node::ConnFile(_, _, _, f) => f.name().into(),
        }
    }
}

/// What `stat` shows of a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attr {
    pub dir: bool,
    pub ctime: SystemTime,
    pub mtime: SystemTime,
    /// Content length for files, 0 for directories.
    pub size: u64,
}

/// One holder or waiter.
#[derive(Clone, Debug)]
struct ConnEntry {
    peer_name: String,
    mode: LockMode,
    quantity: u64,
    /// The element shown for sequence / timestamp holders.
    value: Option<String>,
    /// When the directory (and its first files) appeared.
    ctime: SystemTime,
    /// When it appeared or last moved.
    mtime: SystemTime,
    /// When `value` was set (the grant).
    value_time: SystemTime,
}

#[derive(Clone, Debug)]
struct LockerEntry {
    name: String,
    kind: ResourceType,
    ctime: SystemTime,
    holders: BTreeMap<u64, ConnEntry>,
    holders_mtime: SystemTime,
    waitings: BTreeMap<u64, ConnEntry>,
    waitings_mtime: SystemTime,
}

impl LockerEntry {
    fn list(&self, list: List) -> &BTreeMap<u64, ConnEntry> {
        match list {
            List::Holders => &self.holders,
            List::Waitings => &self.waitings,
        }
    }

    fn list_mtime(&self, list: List) -> SystemTime {
        match list {
            List::Holders => self.holders_mtime,
            List::Waitings => self.waitings_mtime,
        }
    }

    /// Whether a holder / waiter of this locker has file `f`.
    fn has_file(&self, list: List, conn: &ConnEntry, f: ConnFile) -> bool {
        match f {
            ConnFile::PeerName => true,
            ConnFile::LockMode => self.kind.uses_lock_mode(),
            ConnFile::Quantity => self.kind.uses_quantity(),
            ConnFile::SequenceValue => {
                self.kind == ResourceType::Sequence && list == List::Holders && conn.value.is_some()
            }
            ConnFile::TimestampValue => {
                self.kind == ResourceType::Timestamp
                    && list == List::Holders
                    && conn.value.is_some()
            }
        }
    }
}

#[derive(Clone, Debug)]
struct IncubatedEntry {
    peer_name: String,
    resource_name: String,
    kind: ResourceType,
    ctime: SystemTime,
}

/// The daemon's state as the VFS shows it.
pub struct StatusTable {
    created: SystemTime,
    incubator_mtime: SystemTime,
    lockers_mtime: SystemTime,
    incubator: BTreeMap<u64, IncubatedEntry>,
    lockers: BTreeMap<u64, LockerEntry>,
    clock: fn() -> SystemTime,
}

impl Default for StatusTable {
    fn default() -> Self {
        StatusTable::with_clock(SystemTime::now)
    }
}

impl StatusTable {
    /// An empty table whose times come from `clock`.
    pub fn with_clock(clock: fn() -> SystemTime) -> StatusTable {
        let now = clock();
        StatusTable {
            created: now,
            incubator_mtime: now,
            lockers_mtime: now,
            incubator: BTreeMap::new(),
            lockers: BTreeMap::new(),
            clock,
        }
    }

    // ------------------------------------------------ updates (daemon loop)

    /// A locker for `name` (the name of the request that created it) exists.
    pub fn locker_created(&mut self, uid: u64, name: &str, kind: ResourceType) {
        let now = (self.clock)();
        self.lockers.insert(
            uid,
            LockerEntry {
                name: name.to_string(),
                kind,
                ctime: now,
                holders: BTreeMap::new(),
                holders_mtime: now,
                waitings: BTreeMap::new(),
                waitings_mtime: now,
            },
        );
        self.lockers_mtime = now;
    }

    /// The locker is gone (with whatever it still listed).
    pub fn locker_destroyed(&mut self, uid: u64) {
        if self.lockers.remove(&uid).is_some() {
            self.lockers_mtime = (self.clock)();
        }
    }

    /// The answer to a lock request handed to a locker: a grant lists the
    /// connection under `holders`, a queued request under `waitings`;
    /// busy / impossible leave no trace.
    pub fn conn_locked(
        &mut self,
        locker: u64,
        conn: u64,
        peer_name: &str,
        mode: LockMode,
        quantity: u64,
        outcome: &Outcome,
    ) {
        match outcome {
            Outcome::Granted(element) => {
                self.conn_holding(locker, conn, peer_name, mode, quantity, element.as_deref())
            }
            Outcome::Enqueued => self.conn_waiting(locker, conn, peer_name, mode, quantity),
            Outcome::Busy | Outcome::Impossible => {}
        }
    }

    /// `conn` holds the lock at once; `element` is the granted element.
    pub fn conn_holding(
        &mut self,
        locker: u64,
        conn: u64,
        peer_name: &str,
        mode: LockMode,
        quantity: u64,
        element: Option<&str>,
    ) {
        let now = (self.clock)();
        if let Some(l) = self.lockers.get_mut(&locker) {
            l.holders.insert(
                conn,
                ConnEntry {
                    peer_name: peer_name.to_string(),
                    mode,
                    quantity,
                    value: element.map(str::to_string),
                    ctime: now,
                    mtime: now,
                    value_time: now,
                },
            );
            l.holders_mtime = now;
        }
    }

    /// `conn` is queued.
    pub fn conn_waiting(
        &mut self,
        locker: u64,
        conn: u64,
        peer_name: &str,
        mode: LockMode,
        quantity: u64,
    ) {
        let now = (self.clock)();
        if let Some(l) = self.lockers.get_mut(&locker) {
            l.waitings.insert(
                conn,
                ConnEntry {
                    peer_name: peer_name.to_string(),
                    mode,
                    quantity,
                    value: None,
                    ctime: now,
                    mtime: now,
                    value_time: now,
                },
            );
            l.waitings_mtime = now;
        }
    }

    /// The queued request of `conn` has been granted (`element`): its
    /// directory moves from `waitings` to `holders`, same uid, new mtime.
    pub fn conn_granted(&mut self, locker: u64, conn: u64, element: Option<&str>) {
        let now = (self.clock)();
        if let Some(l) = self.lockers.get_mut(&locker) {
            if let Some(mut c) = l.waitings.remove(&conn) {
                l.waitings_mtime = now;
                c.mtime = now;
                c.value = element.map(str::to_string);
                c.value_time = now;
                l.holders.insert(conn, c);
                l.holders_mtime = now;
            }
        }
    }

    /// `conn` left the locker (unlock, cancelled wait or disconnect).
    pub fn conn_released(&mut self, locker: u64, conn: u64) {
        let now = (self.clock)();
        if let Some(l) = self.lockers.get_mut(&locker) {
            if l.holders.remove(&conn).is_some() {
                l.holders_mtime = now;
            } else if l.waitings.remove(&conn).is_some() {
                l.waitings_mtime = now;
            }
        }
    }

    /// `conn` is parked waiting for a locker of `resource_name` to exist.
    pub fn incubated(
        &mut self,
        conn: u64,
        peer_name: &str,
        resource_name: &str,
        kind: ResourceType,
    ) {
        let now = (self.clock)();
        self.incubator.insert(
            conn,
            IncubatedEntry {
                peer_name: peer_name.to_string(),
                resource_name: resource_name.to_string(),
                kind,
                ctime: now,
            },
        );
        self.incubator_mtime = now;
    }

    /// `conn` left the incubator: adopted by a new locker, or gone.
    pub fn incubator_left(&mut self, conn: u64) {
        if self.incubator.remove(&conn).is_some() {
            self.incubator_mtime = (self.clock)();
        }
    }

    // ------------------------------------------------- queries (FUSE thread)

    /// The child of `dir` called `name`, if it exists.
    pub fn child(&self, dir: &Node, name: &str) -> Option<Node> {
        let node = match *dir {
            Node::Root => (name == "status").then_some(Node::Status)?,
            Node::Status => match name {
                "incubator" => Node::Incubator,
                "lockers" => Node::Lockers,
                _ => return None,
            },
            Node::Incubator => Node::Incubated(parse_uid(name)?),
            Node::Lockers => Node::Locker(parse_uid(name)?),
            Node::Incubated(c) => {
                Node::IncubatedFile(c, *IncubatorFile::ALL.iter().find(|f| f.name() == name)?)
            }
            Node::Locker(l) => match name {
                "resource_name" => Node::LockerFile(l, LockerFile::ResourceName),
                "resource_type" => Node::LockerFile(l, LockerFile::ResourceType),
                "holders" => Node::List(l, List::Holders),
                "waitings" => Node::List(l, List::Waitings),
                _ => return None,
            },
            Node::List(l, list) => Node::Conn(l, list, parse_uid(name)?),
            Node::Conn(l, list, c) => Node::ConnFile(
                l,
                list,
                c,
                *ConnFile::ALL.iter().find(|f| f.name() == name)?,
            ),
            Node::IncubatedFile(..) | Node::LockerFile(..) | Node::ConnFile(..) => return None,
        };
        self.exists(&node).then_some(node)
    }

    /// Whether `node` is in the tree now.
    pub fn exists(&self, node: &Node) -> bool {
        match *node {
            Node::Root | Node::Status | Node::Incubator | Node::Lockers => true,
            Node::Incubated(c) | Node::IncubatedFile(c, _) => self.incubator.contains_key(&c),
            Node::Locker(l) | Node::LockerFile(l, _) | Node::List(l, _) => {
                self.lockers.contains_key(&l)
            }
            Node::Conn(l, list, c) => self
                .lockers
                .get(&l)
                .is_some_and(|e| e.list(list).contains_key(&c)),
            Node::ConnFile(l, list, c, f) => self.lockers.get(&l).is_some_and(|e| {
                e.list(list)
                    .get(&c)
                    .is_some_and(|conn| e.has_file(list, conn, f))
            }),
        }
    }

    /// The attributes of `node`, if it exists.
    pub fn attr(&self, node: &Node) -> Option<Attr> {
        let dir = |ctime, mtime| Attr {
            dir: true,
            ctime,
            mtime,
            size: 0,
        };
        let file = |time, len: usize| Attr {
            dir: false,
            ctime: time,
            mtime: time,
            size: len as u64,
        };
        Some(match *node {
            Node::Root | Node::Status => dir(self.created, self.created),
            Node::Incubator => dir(self.created, self.incubator_mtime),
            Node::Lockers => dir(self.created, self.lockers_mtime),
            Node::Incubated(c) => {
                let e = self.incubator.get(&c)?;
                dir(e.ctime, e.ctime)
            }
            Node::Locker(l) => {
                let e = self.lockers.get(&l)?;
                dir(e.ctime, e.ctime)
            }
            Node::List(l, list) => {
                let e = self.lockers.get(&l)?;
                dir(e.ctime, e.list_mtime(list))
            }
            Node::Conn(l, list, c) => {
                let e = self.lockers.get(&l)?.list(list).get(&c)?;
                dir(e.ctime, e.mtime)
            }
            Node::IncubatedFile(c, _) => {
                let time = self.incubator.get(&c)?.ctime;
                file(time, self.content_len(node)?)
            }
            Node::LockerFile(l, _) => {
                let time = self.lockers.get(&l)?.ctime;
                file(time, self.content_len(node)?)
            }
            Node::ConnFile(l, list, c, f) => {
                let e = self.lockers.get(&l)?.list(list).get(&c)?;
                let time = match f {
                    ConnFile::SequenceValue | ConnFile::TimestampValue => e.value_time,
                    _ => e.ctime,
                };
                file(time, self.content_len(node)?)
            }
        })
    }

    fn content_len(&self, node: &Node) -> Option<usize> {
        let mut buf = Vec::new();
        self.read(node, &mut buf).then_some(buf.len())
    }

    /// Appends the content of file `node` to `out`; false when it does not
    /// exist (or is a directory).
    pub fn read(&self, node: &Node, out: &mut Vec<u8>) -> bool {
        if !self.exists(node) {
            return false;
        }
        let line = |out: &mut Vec<u8>, s: &str| {
            out.extend_from_slice(s.as_bytes());
            out.push(b'\n');
        };
        match *node {
            Node::IncubatedFile(c, f) => {
                let Some(e) = self.incubator.get(&c) else {
                    return false;
                };
                match f {
                    IncubatorFile::PeerName => line(out, &e.peer_name),
                    IncubatorFile::ResourceName => line(out, &e.resource_name),
                    IncubatorFile::ResourceType => line(out, e.kind.as_str()),
                }
            }
            Node::LockerFile(l, f) => {
                let Some(e) = self.lockers.get(&l) else {
                    return false;
                };
                match f {
                    LockerFile::ResourceName => line(out, &e.name),
                    LockerFile::ResourceType => line(out, e.kind.as_str()),
                }
            }
            Node::ConnFile(l, list, c, f) => {
                let Some(e) = self.lockers.get(&l).and_then(|e| e.list(list).get(&c)) else {
                    return false;
                };
                match f {
                    ConnFile::PeerName => line(out, &e.peer_name),
                    // The C daemon writes the mode name without a newline.
                    ConnFile::LockMode => out.extend_from_slice(e.mode.long_name().as_bytes()),
                    ConnFile::Quantity => line(out, &e.quantity.to_string()),
                    ConnFile::SequenceValue | ConnFile::TimestampValue => {
                        line(out, e.value.as_deref().unwrap_or(""))
                    }
                }
            }
            _ => return false,
        }
        true
    }

    /// Lists the children of directory `dir` whose cookie is above `after`
    /// (0: from the start), in cookie order, at most `max` of them, into
    /// `out` as (cookie, node). Cookies are positive and stable: a child
    /// keeps its cookie while it exists, so a listing resumed after changes
    /// neither repeats nor skips the children that stayed. Returns false
    /// when `dir` is not an existing directory.
    pub fn list(&self, dir: &Node, after: u64, max: usize, out: &mut Vec<(u64, Node)>) -> bool {
        if !dir.is_dir() || !self.exists(dir) {
            return false;
        }
        let mut fixed = |nodes: &[Node]| {
            for (i, n) in nodes.iter().enumerate() {
                let cookie = i as u64 + 1;
                if cookie > after && out.len() < max && self.exists(n) {
                    out.push((cookie, *n));
                }
            }
        };
        let range = (Bound::Excluded(after), Bound::Unbounded);
        match *dir {
            Node::Root => fixed(&[Node::Status]),
            Node::Status => fixed(&[Node::Incubator, Node::Lockers]),
            Node::Incubated(c) => fixed(&IncubatorFile::ALL.map(|f| Node::IncubatedFile(c, f))),
            Node::Locker(l) => fixed(&[
                Node::LockerFile(l, LockerFile::ResourceName),
                Node::LockerFile(l, LockerFile::ResourceType),
                Node::List(l, List::Holders),
                Node::List(l, List::Waitings),
            ]),
            Node::Conn(l, list, c) => fixed(&ConnFile::ALL.map(|f| Node::ConnFile(l, list, c, f))),
            Node::Incubator => out.extend(
                self.incubator
                    .range(range)
                    .take(max.saturating_sub(out.len()))
                    .map(|(&c, _)| (c, Node::Incubated(c))),
            ),
            Node::Lockers => out.extend(
                self.lockers
                    .range(range)
                    .take(max.saturating_sub(out.len()))
                    .map(|(&l, _)| (l, Node::Locker(l))),
            ),
            Node::List(l, list) => {
                if let Some(e) = self.lockers.get(&l) {
                    out.extend(
                        e.list(list)
                            .range(range)
                            .take(max.saturating_sub(out.len()))
                            .map(|(&c, _)| (c, Node::Conn(l, list, c))),
                    )
                }
            }
            Node::IncubatedFile(..) | Node::LockerFile(..) | Node::ConnFile(..) => return false,
        }
        true
    }
}

/// A uid written as the tree writes it (decimal, no sign, no leading zero).
fn parse_uid(name: &str) -> Option<u64> {
    if name.is_empty() || (name.len() > 1 && name.starts_with('0')) {
        return None;
    }
    if !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    name.parse().ok()
}

/// The status table shared by the daemon loop and the FUSE thread.
#[derive(Clone, Default)]
pub struct Status(Arc<Mutex<StatusTable>>);

impl Status {
    pub fn new() -> Status {
        Status::default()
    }

    /// Locks the table. Holders of the lock only copy small pieces in or
    /// out, never do I/O, so this waits at most for such a copy.
    pub fn table(&self) -> MutexGuard<'_, StatusTable> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;
