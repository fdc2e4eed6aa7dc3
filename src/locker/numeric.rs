//! Numeric resources (`NAME[N]`): a pool of N units; a request for q units is
//! granted while at least q units are free, and can never be granted when q
//! exceeds N (or N is 0).

use super::{Check, Holder, Policy, Request};
use std::time::Instant;

pub struct NumericPolicy {
    capacity: u64,
    locked: u64,
}

impl NumericPolicy {
    pub fn new(capacity: u64) -> NumericPolicy {
        NumericPolicy {
            capacity,
            locked: 0,
        }
    }

    /// Units currently held.
    pub fn locked(&self) -> u64 {
        self.locked
    }
}

impl Policy for NumericPolicy {
    fn check(&self, _holders: &[Holder], req: &Request, _now: Instant) -> Check {
        if self.capacity == 0 || req.quantity > self.capacity {
            Check::Never
        } else if self.capacity - self.locked >= req.quantity {
            Check::Grantable
        } else {
            Check::NotNow
        }
    }

    fn grant(
        &mut self,
        _holders: &[Holder],
        req: &Request,
        _now: Instant,
    ) -> (Option<String>, u64) {
        self.locked += req.quantity;
        (None, req.quantity)
    }

    fn release(&mut self, holder: &Holder, _rollback: bool) {
        self.locked -= holder.req.quantity;
    }

    fn saturated(&self, _holders: &[Holder], _now: Instant) -> bool {
        // A request that fits in an empty pool is granted at once, so every
        // queued request asks for at least one unit.
        self.locked >= self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Grant, Locker, Outcome, QueueOrder, Request};
    use crate::resource::{LockMode, ResourceType};
    use std::time::Instant;

    fn req(quantity: u64, wait: bool) -> Request {
        Request {
            name: "pool[3]".into(),
            mode: LockMode::Exclusive,
            quantity,
            wait,
        }
    }

    fn locker(name: &str) -> Locker {
        Locker::new(name, ResourceType::Numeric, 0).unwrap()
    }

    #[test]
    fn vector_06_pool_of_three() {
        let now = Instant::now();
        let mut l = locker("pool[3]");
        assert_eq!(l.lock(1, req(2, true), now), Outcome::Granted(None));
        assert_eq!(l.lock(2, req(2, true), now), Outcome::Enqueued);
        assert_eq!(l.lock(3, req(4, false), now), Outcome::Impossible);
        assert_eq!(l.lock(4, req(4, true), now), Outcome::Impossible);
        let mut g = Vec::new();
        assert!(l.unlock(1, false, now, &mut g));
        assert_eq!(
            g,
            vec![Grant {
                conn: 2,
                element: None
            }]
        );
        g.clear();
        l.unlock(2, false, now, &mut g);
        assert!(g.is_empty() && l.is_unused());
    }

    #[test]
    fn uc10_two_holders_then_wait() {
        let now = Instant::now();
        let mut l = locker("foo[2]");
        assert_eq!(l.lock(1, req(1, true), now), Outcome::Granted(None));
        assert_eq!(l.lock(2, req(1, true), now), Outcome::Granted(None));
        assert_eq!(l.lock(3, req(1, false), now), Outcome::Busy);
        assert_eq!(l.lock(4, req(2, true), now), Outcome::Enqueued);
        let mut g = Vec::new();
        l.unlock(1, false, now, &mut g);
        assert!(g.is_empty());
        l.disconnect(2, now, &mut g);
        assert_eq!(
            g,
            vec![Grant {
                conn: 4,
                element: None
            }]
        );
    }

    #[test]
    fn small_request_overtakes_queued_large_one() {
        let now = Instant::now();
        let mut l = locker("foo[3]");
        assert_eq!(l.lock(1, req(2, true), now), Outcome::Granted(None));
        assert_eq!(l.lock(2, req(3, true), now), Outcome::Enqueued);
        assert_eq!(l.lock(3, req(1, true), now), Outcome::Granted(None));
        assert_eq!(l.lock(4, req(1, true), now), Outcome::Enqueued);
        let mut g = Vec::new();
        // One unit frees: the large head request still does not fit, the
        // small one behind it does.
        l.unlock(3, false, now, &mut g);
        assert_eq!(
            g,
            vec![Grant {
                conn: 4,
                element: None
            }]
        );
        g.clear();
        l.unlock(1, false, now, &mut g);
        l.unlock(4, false, now, &mut g);
        assert_eq!(
            g,
            vec![Grant {
                conn: 2,
                element: None
            }]
        );
    }

    #[test]
    fn zero_capacity_is_always_impossible() {
        let now = Instant::now();
        let mut l = locker("a[0]");
        assert_eq!(l.lock(1, req(1, true), now), Outcome::Impossible);
        assert_eq!(l.lock(2, req(1, false), now), Outcome::Impossible);
        assert!(l.is_unused());
        let mut l = locker("a[007]");
        assert_eq!(l.lock(1, req(7, false), now), Outcome::Granted(None));
        assert_eq!(l.lock(2, req(8, true), now), Outcome::Impossible);
    }

    #[test]
    fn strict_fifo_small_request_waits_behind_queued_large_one() {
        let now = Instant::now();
        let mut l = locker("foo[3]");
        l.set_queue_order(QueueOrder::StrictFifo);
        assert_eq!(l.lock(1, req(2, true), now), Outcome::Granted(None));
        assert_eq!(l.lock(2, req(3, true), now), Outcome::Enqueued);
        // One unit is free, but the large request came first.
        assert_eq!(l.lock(3, req(1, true), now), Outcome::Enqueued);
        assert_eq!(l.lock(4, req(1, false), now), Outcome::Busy);
        // Still impossible, whatever the queue.
        assert_eq!(l.lock(5, req(4, true), now), Outcome::Impossible);
        let mut g = Vec::new();
        l.unlock(1, false, now, &mut g);
        let conns: Vec<_> = g.iter().map(|g| g.conn).collect();
        assert_eq!(conns, vec![2]);
        g.clear();
        l.unlock(2, false, now, &mut g);
        let conns: Vec<_> = g.iter().map(|g| g.conn).collect();
        assert_eq!(conns, vec![3]);
    }
}
