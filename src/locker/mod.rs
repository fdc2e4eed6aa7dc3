//! Lockers: one per resource instance in the daemon. A locker is a plain state
//! machine: it holds the current holders and the FIFO of waiting requests, and
//! delegates to a per-type policy the questions "can this request be granted
//! now?" and "what element does the grant carry?". The lock store
//! (`store::memory`) drives it with lock / unlock / disconnect / timer
//! events, each with the event's time; a locker never reads a clock.

pub mod hierarchical;
pub mod numeric;
pub mod sequence;
pub mod set;
pub mod simple;
pub mod timestamp;

#[cfg(test)]
mod property_tests;

use crate::resource::{self, LockMode, ResourceType};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

/// Turns the monotonic instant of an event into wall-clock time (timestamp
/// resources format local time). The daemon's lockers use an `EventWall`
/// clock; tests map instants onto a fixed wall time so they need not sleep.
pub type WallClock = Box<dyn Fn(Instant) -> SystemTime + Send + Sync>;

/// The wall time of the event being handled: the daemon's loop reads the
/// clocks once per event and sets it; locker code never reads a clock. An
/// instant maps to the event's wall time plus (or minus) its distance from
/// the event's instant, so a check and the grant that follows agree.
#[derive(Clone)]
pub struct EventWall(Arc<Mutex<(Instant, SystemTime)>>);

impl EventWall {
    /// Starts at the event at `instant`, wall time `wall`.
    pub fn new(instant: Instant, wall: SystemTime) -> EventWall {
        EventWall(Arc::new(Mutex::new((instant, wall))))
    }

    /// The event now being handled happened at `instant`, wall time `wall`.
    pub fn set(&self, instant: Instant, wall: SystemTime) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = (instant, wall);
    }

    /// A wall clock that follows the events set here.
    pub fn clock(&self) -> WallClock {
        let anchor = self.0.clone();
        Box::new(move |at: Instant| {
            let (instant, wall) = *anchor.lock().unwrap_or_else(|e| e.into_inner());
            if at >= instant {
                wall + (at - instant)
            } else {
                wall - (instant - at)
            }
        })
    }
}

/// The daemon's handle for a client connection (its slab index).
pub type ConnId = u32;

/// A lock request as the locker sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The full requested name (for hierarchical resources, the path).
    pub name: String,
    pub mode: LockMode,
    pub quantity: u64,
    pub wait: bool,
}

/// A granted request.
#[derive(Clone, Debug)]
pub struct Holder {
    pub conn: ConnId,
    pub req: Request,
    /// The element handed out (set element, sequence number, timestamp).
    pub element: Option<String>,
    /// Type-specific number: set element index, sequence value, …
    pub value: u64,
}

/// A queued request.
#[derive(Clone, Debug)]
pub struct Waiter {
    pub conn: ConnId,
    pub req: Request,
}

/// What a policy says of a request, looking only at the holders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    Grantable,
    NotNow,
    /// The request can never be granted (numeric: quantity above capacity).
    Never,
}

/// How a locker weighs a new request against the requests already queued.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum QueueOrder {
    /// C FLoM's: a request compatible with the holders is granted at once,
    /// passing queued ones (a stream of readers can starve a writer).
    #[default]
    PassCompatible,
    /// `--strict-fifo`: a request is granted only when it is compatible with
    /// the holders and no earlier request for the same resource still waits.
    StrictFifo,
}

/// The answer to a lock request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Granted(Option<String>),
    Enqueued,
    Busy,
    Impossible,
}

/// A request out of the waiting queue that has just been granted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub conn: ConnId,
    pub element: Option<String>,
}

/// The per-type rules of a resource.
pub trait Policy {
    /// Can `req` be granted now, given the current holders?
    fn check(&self, holders: &[Holder], req: &Request, now: Instant) -> Check;
    /// Records the grant of `req` (called only after `check` said Grantable);
    /// returns the element handed to the client and the holder's value.
    fn grant(&mut self, holders: &[Holder], req: &Request, now: Instant) -> (Option<String>, u64);
    /// Records the release of `holder` (already removed from the holders).
    fn release(&mut self, holder: &Holder, rollback: bool);
    /// True when no queued request could be granted now: the queue scan
    /// stops early (keeps a release O(1) on a long EX queue).
    fn saturated(&self, _holders: &[Holder], _now: Instant) -> bool {
        false
    }
    /// When a queued request may become grantable without any release
    /// (timestamps: the next time grain).
    fn wakeup(&self, _now: Instant) -> Option<Instant> {
        None
    }
    /// Under strict FIFO, whether the queued request `earlier` must be
    /// granted before `later` (they are requests for the same resource).
    /// Every request of a locker is, but for hierarchical paths, where only
    /// overlapping paths (one an ancestor of, or equal to, the other) are.
    fn queued_before(&self, _earlier: &Request, _later: &Request) -> bool {
        true
    }
    /// True when `queued_before` can be false (the queue holds requests for
    /// unrelated resources): a strict scan then goes on past a request
    /// left waiting.
    fn partitions_queue(&self) -> bool {
        false
    }
}

/// The policy of each resource type.
pub enum ResourcePolicy {
    Simple(simple::SimplePolicy),
    Numeric(numeric::NumericPolicy),
    Set(set::SetPolicy),
    Hierarchical(Box<hierarchical::HierarchicalPolicy>),
    Sequence(sequence::SequencePolicy),
    Timestamp(Box<timestamp::TimestampPolicy>),
}

impl ResourcePolicy {
    fn get(&self) -> &dyn Policy {
        match self {
            ResourcePolicy::Simple(p) => p,
            ResourcePolicy::Numeric(p) => p,
            ResourcePolicy::Set(p) => p,
            ResourcePolicy::Hierarchical(p) => &**p,
            ResourcePolicy::Sequence(p) => p,
            ResourcePolicy::Timestamp(p) => &**p,
        }
    }
    fn get_mut(&mut self) -> &mut dyn Policy {
        match self {
            ResourcePolicy::Simple(p) => p,
            ResourcePolicy::Numeric(p) => p,
            ResourcePolicy::Set(p) => p,
            ResourcePolicy::Hierarchical(p) => &mut **p,
            ResourcePolicy::Sequence(p) => p,
            ResourcePolicy::Timestamp(p) => &mut **p,
        }
    }
}

/// Why a locker could not be created; the daemon closes the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitError {
    /// e.g. a timestamp format without a time grain.
    Invalid,
}

/// One resource instance.
pub struct Locker {
    /// The name of the request that created the locker.
    pub name: String,
    pub kind: ResourceType,
    /// Idle lifespan carried by the creating request, in ms.
    pub idle_lifespan_ms: u64,
    policy: ResourcePolicy,
    holders: Vec<Holder>,
    waiting: VecDeque<Waiter>,
    order: QueueOrder,
    /// How many queued requests ask for each distinct thing, so a scan of
    /// the queue stops once every distinct request was found not grantable.
    waiting_kinds: HashMap<RequestKind, u32>,
}

/// What decides a request's check: two queued requests with the same
/// kind are both grantable or both not.
#[derive(Clone, PartialEq, Eq, Hash)]
struct RequestKind {
    name: String,
    mode: LockMode,
    quantity: u64,
}

impl RequestKind {
    fn of(req: &Request) -> RequestKind {
        RequestKind {
            name: req.name.clone(),
            mode: req.mode,
            quantity: req.quantity,
        }
    }
}

impl Locker {
    /// A locker (for tests) whose wall clock is the system's at creation,
    /// advanced by the instants of the events.
    #[cfg(test)]
    pub fn new(name: &str, kind: ResourceType, idle_lifespan_ms: u64) -> Result<Locker, InitError> {
        let wall = EventWall::new(Instant::now(), SystemTime::now());
        Self::with_wall_clock(name, kind, idle_lifespan_ms, wall.clock())
    }

    /// A locker for the resource `name` of type `kind` (as told by
    /// `resource::resource_type`), created by a request with that name,
    /// with the wall clock a timestamp resource reads (other types ignore it).
    pub fn with_wall_clock(
        name: &str,
        kind: ResourceType,
        idle_lifespan_ms: u64,
        clock: WallClock,
    ) -> Result<Locker, InitError> {
        let policy = match kind {
            ResourceType::Simple => ResourcePolicy::Simple(simple::SimplePolicy::default()),
            ResourceType::Numeric => {
                ResourcePolicy::Numeric(numeric::NumericPolicy::new(resource::capacity(name)))
            }
            ResourceType::Set => ResourcePolicy::Set(set::SetPolicy::new(name)),
            ResourceType::Hierarchical => ResourcePolicy::Hierarchical(Box::default()),
            ResourceType::Sequence => ResourcePolicy::Sequence(sequence::SequencePolicy::new(
                resource::capacity(name),
                resource::is_transactional_sequence(name),
            )),
            ResourceType::Timestamp => {
                let format = resource::timestamp_format(name).ok_or(InitError::Invalid)?;
                ResourcePolicy::Timestamp(Box::new(timestamp::TimestampPolicy::new(
                    format,
                    resource::capacity(name),
                    clock,
                )?))
            }
        };
        Ok(Locker {
            name: name.to_string(),
            kind,
            idle_lifespan_ms,
            policy,
            holders: Vec::new(),
            waiting: VecDeque::new(),
            order: QueueOrder::default(),
            waiting_kinds: HashMap::new(),
        })
    }

    /// Sets how new requests are weighed against queued ones (default C's).
    pub fn set_queue_order(&mut self, order: QueueOrder) {
        self.order = order;
    }

    pub fn holders(&self) -> &[Holder] {
        &self.holders
    }

    pub fn waiting(&self) -> &VecDeque<Waiter> {
        &self.waiting
    }

    /// No holder and no waiter: the idle lifespan runs.
    pub fn is_unused(&self) -> bool {
        self.holders.is_empty() && self.waiting.is_empty()
    }

    /// A new lock request from `conn`. Compared with the holders only (a
    /// compatible request overtakes queued ones), and under strict FIFO with
    /// the queue too (it waits behind any earlier request for its resource).
    pub fn lock(&mut self, conn: ConnId, req: Request, now: Instant) -> Outcome {
        let mut check = self.policy.get().check(&self.holders, &req, now);
        if check == Check::Grantable && self.order == QueueOrder::StrictFifo {
            let policy = self.policy.get();
            if self
                .waiting
                .iter()
                .any(|w| policy.queued_before(&w.req, &req))
            {
                check = Check::NotNow;
            }
        }
        match check {
            Check::Grantable => {
                let element = self.grant(conn, req, now);
                Outcome::Granted(element)
            }
            Check::Never => Outcome::Impossible,
            Check::NotNow if req.wait => {
                *self.waiting_kinds.entry(RequestKind::of(&req)).or_insert(0) += 1;
                self.waiting.push_back(Waiter { conn, req });
                Outcome::Enqueued
            }
            Check::NotNow => Outcome::Busy,
        }
    }

    fn grant(&mut self, conn: ConnId, req: Request, now: Instant) -> Option<String> {
        let (element, value) = self.policy.get_mut().grant(&self.holders, &req, now);
        self.holders.push(Holder {
            conn,
            req,
            element: element.clone(),
            value,
        });
        element
    }

    /// An unlock from `conn`; returns false when `conn` held nothing.
    pub fn unlock(
        &mut self,
        conn: ConnId,
        rollback: bool,
        now: Instant,
        grants: &mut Vec<Grant>,
    ) -> bool {
        let Some(i) = self.holders.iter().position(|h| h.conn == conn) else {
            return false;
        };
        let holder = self.holders.swap_remove(i);
        self.policy.get_mut().release(&holder, rollback);
        self.grant_waiting(now, grants);
        self.release_unused_buffers();
        true
    }

    /// An idle locker may live long (its idle lifespan): give back the
    /// holder and queue buffers so it costs only its own few words.
    fn release_unused_buffers(&mut self) {
        if self.holders.is_empty() && self.holders.capacity() > 0 {
            self.holders = Vec::new();
        }
        if self.waiting.is_empty() && self.waiting.capacity() > 0 {
            self.waiting = VecDeque::new();
            self.waiting_kinds = HashMap::new();
        }
    }

    /// `conn` went away: a held lock is released as a rollback, a queued
    /// request leaves the queue (under strict FIFO the requests it held
    /// back may then be granted).
    pub fn disconnect(&mut self, conn: ConnId, now: Instant, grants: &mut Vec<Grant>) {
        if !self.unlock(conn, true, now, grants) {
            if let Some(i) = self.waiting.iter().position(|w| w.conn == conn) {
                let w = self.waiting.remove(i).expect("index in range");
                self.forget_waiting_kind(&w.req);
                if self.order == QueueOrder::StrictFifo {
                    self.grant_waiting(now, grants);
                }
                self.release_unused_buffers();
            }
        }
    }

    /// Time passed (see `next_wakeup`): grant what has become grantable.
    pub fn on_timer(&mut self, now: Instant, grants: &mut Vec<Grant>) {
        self.grant_waiting(now, grants);
    }

    /// When `on_timer` should run next, if the locker needs a timer.
    pub fn next_wakeup(&self, now: Instant) -> Option<Instant> {
        if self.waiting.is_empty() {
            None
        } else {
            self.policy.get().wakeup(now)
        }
    }

    fn forget_waiting_kind(&mut self, req: &Request) {
        let kind = RequestKind::of(req);
        if let Some(n) = self.waiting_kinds.get_mut(&kind) {
            *n -= 1;
            if *n == 0 {
                self.waiting_kinds.remove(&kind);
            }
        }
    }

    /// Scans the queue head to tail and grants, in order, every request that
    /// is grantable given the grants made earlier in the same scan; under
    /// strict FIFO, none behind a request for its resource left waiting.
    /// A grant only adds a holder (and a request left waiting only holds
    /// back more), so a request not granted stays so until the scan ends:
    /// once every distinct kind of queued request was left waiting the scan
    /// stops (10,000 identical waiters cost one check per release, not a
    /// rescan of the queue).
    fn grant_waiting(&mut self, now: Instant, grants: &mut Vec<Grant>) {
        let strict = self.order == QueueOrder::StrictFifo;
        // Strict FIFO: the queue positions left waiting by this scan.
        let mut held_back: Vec<usize> = Vec::new();
        let mut refused: HashSet<RequestKind> = HashSet::new();
        let mut i = 0;
        while i < self.waiting.len() && refused.len() < self.waiting_kinds.len() {
            let policy = self.policy.get();
            // `saturated` assumes that what is queued waits for the holders;
            // under strict FIFO a single queue stops at its first waiter
            // left waiting instead (as cheap, and right for requests that
            // only wait for their turn, e.g. of 0 units).
            if (!strict || policy.partitions_queue()) && policy.saturated(&self.holders, now) {
                break;
            }
            let req = &self.waiting[i].req;
            let kind = RequestKind::of(req);
            if refused.contains(&kind) {
                // Like an earlier one left waiting, which already holds
                // back what this one would.
                i += 1;
                continue;
            }
            let grantable = policy.check(&self.holders, req, now) == Check::Grantable
                && !held_back
                    .iter()
                    .any(|&j| policy.queued_before(&self.waiting[j].req, req));
            if !grantable && strict && !policy.partitions_queue() {
                break;
            }
            if grantable {
                let w = self.waiting.remove(i).expect("index in range");
                self.forget_waiting_kind(&w.req);
                let element = self.grant(w.conn, w.req, now);
                grants.push(Grant {
                    conn: w.conn,
                    element,
                });
            } else {
                if strict {
                    held_back.push(i);
                }
                refused.insert(kind);
                i += 1;
            }
        }
    }
}
