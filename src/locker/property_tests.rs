//! Randomised tests of every locker type: random lock / unlock / disconnect /
//! timer events, with the invariants of each type checked after every event
//! against an independent model, then a drain that must leave no waiter.
//! Every type runs in both queue orders (C's, and strict FIFO).

use super::timestamp::format_value;
use super::{Check, ConnId, Grant, Locker, Outcome, QueueOrder, Request, WallClock};
use crate::resource::{path_components, resource_type, LockMode, ResourceType};
use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant, UNIX_EPOCH};

/// xorshift64*: small, deterministic, good enough to pick events.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

const CONNS: u32 = 14;
const COMPONENTS: [&str; 3] = ["x", "y", "z"];
const STEPS: usize = 4000;
const SEEDS: [u64; 5] = [1, 42, 1234, 0xDEAD_BEEF, 987_654_321];
/// 2026-11-22 09:44:51.210000 UTC.
const T0_MICROS: u64 = 1_795_340_691_210_000;

struct Harness {
    rng: Rng,
    name: String,
    kind: ResourceType,
    locker: Locker,
    base: Instant,
    now: Instant,
    // Type parameters.
    capacity: u64,
    elements: Vec<String>,
    transactional: bool,
    grain_us: u64,
    // Models.
    set_cursor: usize,
    seq_next: u32,
    seq_recycled: VecDeque<u32>,
    seq_issued: HashSet<u32>,
    ts_last: Option<u64>,
    ts_issued: HashSet<String>,
    /// Strict FIFO: when each waiting conn was queued (a counter).
    strict: bool,
    queued_at: HashMap<ConnId, u64>,
    tick: u64,
    // Coverage: the runs must actually exercise queueing.
    enqueued: u64,
    queue_grants: u64,
    timer_grants: u64,
}

impl Harness {
    fn new(name: &str, seed: u64, strict: bool) -> Harness {
        let kind = resource_type(name).expect("valid test name");
        let base = Instant::now();
        let wall = UNIX_EPOCH + Duration::from_micros(T0_MICROS);
        let clock: WallClock = Box::new(move |now: Instant| wall + now.duration_since(base));
        let mut locker = Locker::with_wall_clock(name, kind, 0, clock).unwrap();
        if strict {
            locker.set_queue_order(QueueOrder::StrictFifo);
        }
        let grain_us = match kind {
            ResourceType::Timestamp => {
                super::timestamp::grain_micros(crate::resource::timestamp_format(name).unwrap())
                    .unwrap() as u64
            }
            _ => 0,
        };
        Harness {
            rng: Rng::new(seed),
            name: name.to_string(),
            kind,
            locker,
            base,
            now: base,
            capacity: crate::resource::capacity(name),
            elements: name.split('.').map(str::to_string).collect(),
            transactional: crate::resource::is_transactional_sequence(name),
            grain_us,
            set_cursor: 0,
            seq_next: 1,
            seq_recycled: VecDeque::new(),
            seq_issued: HashSet::new(),
            ts_last: None,
            ts_issued: HashSet::new(),
            strict,
            queued_at: HashMap::new(),
            tick: 0,
            enqueued: 0,
            queue_grants: 0,
            timer_grants: 0,
        }
    }

    fn wall_micros(&self, t: Instant) -> u64 {
        T0_MICROS + t.duration_since(self.base).as_micros() as u64
    }

    fn random_request(&mut self) -> Request {
        let mode = match self.kind {
            ResourceType::Simple | ResourceType::Hierarchical => self.rng.pick(&LockMode::ALL),
            _ => LockMode::Exclusive,
        };
        let name = if self.kind == ResourceType::Hierarchical {
            let mut p = "/r".to_string();
            for _ in 0..self.rng.below(4) {
                p.push('/');
                p.push_str(self.rng.pick(&COMPONENTS));
            }
            p
        } else {
            self.name.clone()
        };
        let quantity = if self.kind == ResourceType::Numeric {
            self.rng.below(self.capacity + 2)
        } else {
            1
        };
        Request {
            name,
            mode,
            quantity,
            wait: self.rng.below(4) != 0,
        }
    }

    /// Strict FIFO: whether the queued `earlier` keeps `later` waiting (a
    /// request for the same resource; null locks conflict with nothing).
    fn blocks(&self, earlier: &Request, later: &Request) -> bool {
        match self.kind {
            ResourceType::Simple => later.mode != LockMode::NullLock,
            ResourceType::Hierarchical => {
                later.mode != LockMode::NullLock && same_line(&earlier.name, &later.name)
            }
            _ => true,
        }
    }

    /// What a new request deserves: the holders' verdict, and under strict
    /// FIFO no waiter it must queue behind.
    fn oracle(&self, req: &Request) -> Check {
        let check = self.oracle_holders(req);
        let behind = self
            .locker
            .waiting()
            .iter()
            .any(|w| self.blocks(&w.req, req));
        if check == Check::Grantable && self.strict && behind {
            Check::NotNow
        } else {
            check
        }
    }

    /// What the request deserves given the holders (independent of the
    /// locker's policy code).
    fn oracle_holders(&self, req: &Request) -> Check {
        let holders = self.locker.holders();
        let yes = |ok: bool| if ok { Check::Grantable } else { Check::NotNow };
        match self.kind {
            ResourceType::Simple => {
                yes(holders.iter().all(|h| h.req.mode.compatible_with(req.mode)))
            }
            ResourceType::Hierarchical => yes(holders.iter().all(|h| {
                !same_line(&h.req.name, &req.name) || h.req.mode.compatible_with(req.mode)
            })),
            ResourceType::Numeric => {
                if self.capacity == 0 || req.quantity > self.capacity {
                    Check::Never
                } else {
                    let used: u64 = holders.iter().map(|h| h.req.quantity).sum();
                    yes(used + req.quantity <= self.capacity)
                }
            }
            ResourceType::Set => yes(holders.len() < self.elements.len()),
            ResourceType::Sequence => yes((holders.len() as u64) < self.capacity),
            ResourceType::Timestamp => {
                let fresh = match self.ts_last {
                    None => true,
                    Some(last) => self.wall_micros(self.now) / self.grain_us > last / self.grain_us,
                };
                yes((holders.len() as u64) < self.capacity && fresh)
            }
        }
    }

    /// Checks a grant (immediate or from the queue) against the models.
    fn granted(&mut self, conn: ConnId, element: &Option<String>) {
        let holder = self
            .locker
            .holders()
            .iter()
            .find(|h| h.conn == conn)
            .expect("granted conn holds")
            .clone();
        assert_eq!(&holder.element, element);
        match self.kind {
            ResourceType::Simple | ResourceType::Hierarchical | ResourceType::Numeric => {
                assert!(element.is_none())
            }
            ResourceType::Set => {
                // First free element scanning cyclically from the cursor,
                // which then moves one step from where it was.
                let n = self.elements.len();
                let busy: HashSet<u64> = self
                    .locker
                    .holders()
                    .iter()
                    .filter(|h| h.conn != conn)
                    .map(|h| h.value)
                    .collect();
                let want = (0..n)
                    .map(|i| (self.set_cursor + i) % n)
                    .find(|&i| !busy.contains(&(i as u64)))
                    .unwrap();
                self.set_cursor = (self.set_cursor + 1) % n;
                assert_eq!(holder.value, want as u64);
                assert_eq!(element.as_deref(), Some(self.elements[want].as_str()))
            }
            ResourceType::Sequence => {
                let want = self.seq_recycled.pop_front().unwrap_or_else(|| {
                    let v = self.seq_next;
                    self.seq_next += 1;
                    assert!(self.seq_issued.insert(v), "fresh value {v} issued twice");
                    v
                });
                assert_eq!(element.as_deref(), Some(want.to_string().as_str()));
                assert_eq!(holder.value, u64::from(want));
            }
            ResourceType::Timestamp => {
                let micros = holder.value;
                assert_eq!(micros, self.wall_micros(self.now));
                if let Some(last) = self.ts_last {
                    assert!(
                        micros / self.grain_us > last / self.grain_us,
                        "same grain issued twice"
                    );
                }
                self.ts_last = Some(micros);
                let e = element.clone().unwrap();
                assert_eq!(
                    e,
                    format_value(
                        crate::resource::timestamp_format(&self.name).unwrap(),
                        micros as i64
                    )
                );
                assert!(self.ts_issued.insert(e), "timestamp string issued twice");
            }
        }
    }

    fn queue_grants(&mut self, grants: Vec<Grant>) {
        for g in grants {
            self.queue_grants += 1;
            self.granted(g.conn, &g.element);
            if self.strict {
                // Never granted past an earlier waiter for its resource.
                let at = self.queued_at[&g.conn];
                let req = &self
                    .locker
                    .holders()
                    .iter()
                    .find(|h| h.conn == g.conn)
                    .unwrap()
                    .req;
                for w in self.locker.waiting() {
                    assert!(
                        self.queued_at[&w.conn] > at || !self.blocks(&w.req, req),
                        "{}: conn {} granted before the earlier waiter {}",
                        self.name,
                        g.conn,
                        w.conn
                    );
                }
            }
        }
    }

    /// The model side of a release (before the locker sees it).
    fn releasing(&mut self, conn: ConnId, rollback: bool) {
        if self.kind == ResourceType::Sequence && self.transactional && rollback {
            if let Some(h) = self.locker.holders().iter().find(|h| h.conn == conn) {
                self.seq_recycled.push_back(h.value as u32);
            }
        }
    }

    /// Moves the clock on, running the timer like the daemon would.
    fn advance(&mut self, by: Duration) {
        let target = self.now + by;
        let mut rounds = 0;
        while let Some(due) = self.locker.next_wakeup(self.now) {
            if due > target {
                break;
            }
            assert!(due >= self.now, "wakeup in the past");
            self.now = due;
            let mut g = Vec::new();
            self.locker.on_timer(due, &mut g);
            self.timer_grants += g.len() as u64;
            self.queue_grants(g);
            self.check();
            rounds += 1;
            assert!(rounds < 10_000, "timer loops");
        }
        self.now = target;
    }

    fn step(&mut self) {
        let delta = match self.kind {
            ResourceType::Timestamp if self.rng.below(2) == 0 => {
                Duration::from_micros(self.rng.below(self.grain_us * 3 / 2 + 1))
            }
            _ => Duration::ZERO,
        };
        self.advance(delta);
        let conn = self.rng.below(u64::from(CONNS)) as ConnId;
        let is_holder = self.locker.holders().iter().any(|h| h.conn == conn);
        let is_waiting = self.locker.waiting().iter().any(|w| w.conn == conn);
        let mut g = Vec::new();
        match self.rng.below(100) {
            0..=49 => {
                if is_holder || is_waiting {
                    return;
                }
                let req = self.random_request();
                let want = self.oracle(&req);
                let wait = req.wait;
                let got = self.locker.lock(conn, req, self.now);
                match (want, &got) {
                    (Check::Grantable, Outcome::Granted(e)) => self.granted(conn, &e.clone()),
                    (Check::Never, Outcome::Impossible) => {}
                    (Check::NotNow, Outcome::Enqueued) if wait => {
                        self.enqueued += 1;
                        self.tick += 1;
                        self.queued_at.insert(conn, self.tick);
                    }
                    (Check::NotNow, Outcome::Busy) if !wait => {}
                    _ => panic!("{}: oracle {want:?} but locker {got:?}", self.name),
                }
            }
            50..=74 => {
                let rollback = self.rng.below(2) == 0;
                self.releasing(conn, rollback);
                let was = self.locker.unlock(conn, rollback, self.now, &mut g);
                assert_eq!(was, is_holder);
            }
            75..=89 => {
                self.releasing(conn, true);
                self.locker.disconnect(conn, self.now, &mut g);
                assert!(!self.locker.holders().iter().any(|h| h.conn == conn));
                assert!(!self.locker.waiting().iter().any(|w| w.conn == conn));
            }
            _ => {
                // A spurious timer must not grant anything out of turn.
                self.locker.on_timer(self.now, &mut g);
            }
        }
        self.queue_grants(g);
        self.check();
    }

    fn check(&self) {
        let holders = self.locker.holders();
        let mut conns = HashSet::new();
        for c in holders
            .iter()
            .map(|h| h.conn)
            .chain(self.locker.waiting().iter().map(|w| w.conn))
        {
            assert!(conns.insert(c), "conn {c} twice");
        }
        match self.kind {
            ResourceType::Simple | ResourceType::Hierarchical => {
                for (i, a) in holders.iter().enumerate() {
                    for b in &holders[i + 1..] {
                        if same_line(&a.req.name, &b.req.name) {
                            assert!(
                                a.req.mode.compatible_with(b.req.mode),
                                "{} {:?} with {} {:?}",
                                a.req.name,
                                a.req.mode,
                                b.req.name,
                                b.req.mode
                            );
                        }
                    }
                }
            }
            ResourceType::Numeric => {
                assert!(holders.iter().map(|h| h.req.quantity).sum::<u64>() <= self.capacity);
            }
            ResourceType::Set => {
                let used: HashSet<u64> = holders.iter().map(|h| h.value).collect();
                assert_eq!(used.len(), holders.len(), "set element shared");
            }
            ResourceType::Sequence => {
                assert!(holders.len() as u64 <= self.capacity);
                let values: HashSet<u64> = holders.iter().map(|h| h.value).collect();
                assert_eq!(values.len(), holders.len(), "sequence value held twice");
            }
            ResourceType::Timestamp => {
                assert!(holders.len() as u64 <= self.capacity);
            }
        }
        // No waiter left behind (under strict FIFO: unless an earlier
        // waiter for its resource holds it back), and the queue in order.
        let waiting = self.locker.waiting();
        for (i, w) in waiting.iter().enumerate() {
            let held_back =
                self.strict && waiting.iter().take(i).any(|e| self.blocks(&e.req, &w.req));
            assert!(
                self.oracle_holders(&w.req) == Check::NotNow || held_back,
                "{}: waiter {} is grantable",
                self.name,
                w.conn
            );
            if self.strict && i > 0 {
                assert!(self.queued_at[&waiting[i - 1].conn] < self.queued_at[&w.conn]);
            }
        }
        // A timestamp waiter held back by the grain has a timer.
        if self.kind == ResourceType::Timestamp
            && !self.locker.waiting().is_empty()
            && (holders.len() as u64) < self.capacity
        {
            let due = self.locker.next_wakeup(self.now).expect("timer armed");
            assert!(due > self.now);
        }
    }

    /// Releases every holder (waiters get their turn) until nothing is left.
    fn drain(&mut self) {
        let mut rounds = 0;
        while !self.locker.is_unused() {
            rounds += 1;
            assert!(rounds < 100_000, "drain does not end");
            if let Some(h) = self.locker.holders().first() {
                let conn = h.conn;
                let rollback = self.rng.below(2) == 0;
                self.releasing(conn, rollback);
                let mut g = Vec::new();
                assert!(self.locker.unlock(conn, rollback, self.now, &mut g));
                self.queue_grants(g);
                self.check();
            } else {
                let due = self
                    .locker
                    .next_wakeup(self.now)
                    .expect("waiters without holders need a timer");
                self.advance(due - self.now);
            }
        }
        assert!(self.locker.waiting().is_empty() && self.locker.holders().is_empty());
    }
}

/// One path is an ancestor of the other (or they are equal).
fn same_line(a: &str, b: &str) -> bool {
    path_components(a)
        .zip(path_components(b))
        .all(|(x, y)| x == y)
}

fn run(name: &str) {
    run_in(name, false);
    run_in(name, true);
}

fn run_in(name: &str, strict: bool) {
    for seed in SEEDS {
        let mut h = Harness::new(name, seed, strict);
        for _ in 0..STEPS {
            h.step();
        }
        assert!(
            h.capacity >= u64::from(CONNS) || (h.enqueued > 50 && h.queue_grants > 50),
            "{name} (strict {strict}): too few queued ({} {})",
            h.enqueued,
            h.queue_grants
        );
        if h.kind == ResourceType::Timestamp {
            assert!(
                h.timer_grants > 0,
                "{name}: too few timer grants ({})",
                h.timer_grants
            );
        }
        h.drain();
    }
}

#[test]
fn simple() {
    run("R");
}

#[test]
fn numeric() {
    run("pool[5]");
    run("one[1]");
}

#[test]
fn set() {
    run("a.b.a.c");
}

#[test]
fn hierarchical() {
    run("/r");
}

#[test]
fn sequence() {
    run("_s_q[3]");
    run("_S_q[3]");
    run("_S_one[1]");
    // Room for everybody: recycled numbers pile up (FIFO order matters).
    run("_S_big[14]");
}

#[test]
fn timestamp() {
    run("_t_%s#ff[2]");
    run("_t_x%s[1]");
    run("_t_%s#ffffff[3]");
}

#[test]
fn same_line_is_prefix_by_component() {
    assert!(same_line("/r", "/r/x/y"));
    assert!(same_line("/r/x", "/r/x"));
    assert!(!same_line("/r/x", "/r/y"));
    assert!(!same_line("/r/x", "/r/xy"));
}

#[test]
fn locker_can_move_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Locker>();
}
