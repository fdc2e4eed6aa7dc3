//! The lock-store boundary: the daemon's routing hands lock, unlock,
//! disconnect and timer events to a `LockStore` and gets back `Action`s
//! (answer a connection, arm a timer, close or half-close a connection).
//! The store owns everything about resources; the loop owns the sockets and
//! never looks inside. `memory::MemoryStore` (the in-memory lockers) is the
//! first implementation.

pub mod etcd;
pub mod memory;

use crate::locker::{ConnId, Request};
use crate::resource::ResourceType;
use crate::snapshot::Snapshot;
use std::cell::Cell;
use std::os::unix::io::RawFd;
use std::rc::Rc;
use std::time::{Instant, SystemTime};

pub use memory::MemoryStore;

/// The time of one event, read once by the loop and passed to every
/// locker call the event causes (so a check and the grant that follows see
/// the same instant and the same wall time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Now {
    pub instant: Instant,
    pub wall: SystemTime,
}

impl Now {
    /// Reads the monotonic and the wall clock (the loop's one read per event).
    pub fn read() -> Now {
        Now {
            instant: Instant::now(),
            wall: SystemTime::now(),
        }
    }
}

/// The unique ids the VFS shows (listeners, connections and lockers share
/// one sequence, as C FLoM's objects do); cloned handles count together.
#[derive(Clone, Debug)]
pub struct Uids(Rc<Cell<u64>>);

impl Default for Uids {
    fn default() -> Self {
        Uids(Rc::new(Cell::new(1)))
    }
}

impl Uids {
    pub fn next(&self) -> u64 {
        let uid = self.0.get();
        self.0.set(uid + 1);
        uid
    }
}

/// A connection as the store knows it.
#[derive(Clone, Copy)]
pub struct Client<'a> {
    pub conn: ConnId,
    /// Its VFS uid.
    pub uid: u64,
    /// Its VFS peer name, computed only when the store shows one.
    pub peer_name: &'a dyn Fn() -> String,
}

/// A validated lock request (routing has already checked the name, the
/// mode and the quantity).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockRequest {
    pub req: Request,
    pub kind: ResourceType,
    /// Create the resource when it does not exist (else wait for it, or not).
    pub create: bool,
    /// The idle lifespan a resource created by this request gets, in ms.
    pub idle_lifespan_ms: u64,
}

/// What the store asks the loop to do, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send a lock answer to `conn`.
    Answer {
        conn: ConnId,
        step: i32,
        rc: i32,
        element: Option<String>,
    },
    /// Call `LockStore::timer` at `at` (or soon after).
    ArmTimer { at: Instant },
    /// Half-close `conn` after its last answer; it takes no more requests.
    HalfClose { conn: ConnId },
    /// Close `conn` (which the loop then reports with `disconnect`).
    Close { conn: ConnId },
    /// Send the status answer `snapshot` to `conn` (a `status` request
    /// answered later; peers carry only their connection id).
    Status {
        conn: ConnId,
        snapshot: Box<Snapshot>,
    },
}

/// Where locks live. Every event may append actions to `out`.
pub trait LockStore {
    /// A first lock request of `client`.
    fn lock(&mut self, client: Client<'_>, request: LockRequest, now: Now, out: &mut Vec<Action>);
    /// An unlock of the resource `name` by `conn`.
    fn unlock(&mut self, conn: ConnId, name: &str, rollback: bool, now: Now, out: &mut Vec<Action>);
    /// `conn` is gone: whatever it held or waited for is released.
    fn disconnect(&mut self, conn: ConnId, now: Now, out: &mut Vec<Action>);
    /// An armed timer is due (at most a bounded amount of work per call; the
    /// store arms a timer again when more is due).
    fn timer(&mut self, now: Now, out: &mut Vec<Action>);
    /// No resource exists and no request is parked (the daemon's lifespan runs).
    fn is_empty(&self) -> bool;
    /// Every resource, holder, waiter and incubated request (`flom
    /// --status`), taken at `now`; peers carry only their connection id
    /// (the daemon fills in the rest).
    fn snapshot(&self, now: Now) -> Snapshot;
    /// A status request of `conn`: the snapshot now, or None when the store
    /// must read it first (etcd: the whole cluster) and answers later with
    /// `Action::Status` (dropped if `conn` disconnects meanwhile).
    fn status(&mut self, _conn: ConnId, now: Now) -> Option<Snapshot> {
        Some(self.snapshot(now))
    }
    /// The fencing token of `conn`'s grant, while it holds a lock. Every
    /// grant of a resource gets a token above all earlier ones of that
    /// resource, for the daemon's life (`--fencing`).
    fn fencing_token(&self, conn: ConnId) -> Option<u64>;
    /// The key `conn`'s request is kept under in an external store (etcd),
    /// while it has one (`--verbose` shows it).
    fn store_key(&self, _conn: ConnId) -> Option<&str> {
        None
    }
    /// A descriptor the loop watches for the store (etcd: the worker's
    /// eventfd); when it is readable the loop calls `woken`.
    fn wake_fd(&self) -> Option<RawFd> {
        None
    }
    /// The descriptor of `wake_fd` is readable.
    fn woken(&mut self, _now: Now, _out: &mut Vec<Action>) {}
}
