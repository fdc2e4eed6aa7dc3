//! Simple resources (`_RESOURCE`, `NAME`): holders with DLM lock modes, a
//! request is grantable when its mode is compatible with every held mode.

use super::{Check, Holder, Policy, Request};
use crate::resource::LockMode;
use std::time::Instant;

/// Counts of holders per lock mode, so a check costs six comparisons.
#[derive(Default)]
pub struct SimplePolicy {
    held: [u32; 6],
}

impl Policy for SimplePolicy {
    fn check(&self, _holders: &[Holder], req: &Request, _now: Instant) -> Check {
        let ok = LockMode::ALL
            .iter()
            .all(|m| self.held[*m as usize] == 0 || m.compatible_with(req.mode));
        if ok {
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
        self.held[req.mode as usize] += 1;
        (None, 0)
    }

    fn release(&mut self, holder: &Holder, _rollback: bool) {
        self.held[holder.req.mode as usize] -= 1;
    }

    fn saturated(&self, _holders: &[Holder], _now: Instant) -> bool {
        // Only NL is compatible with EX, and NL requests never wait.
        self.held[LockMode::Exclusive as usize] > 0
    }

    fn queued_before(&self, _earlier: &Request, later: &Request) -> bool {
        // A null lock conflicts with nothing: it never waits, strict or not.
        later.mode != LockMode::NullLock
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Grant, Locker, Outcome, QueueOrder, Request};
    use crate::resource::{LockMode, ResourceType};
    use std::time::Instant;

    fn req(mode: LockMode, wait: bool) -> Request {
        Request {
            name: "R".into(),
            mode,
            quantity: 1,
            wait,
        }
    }

    #[test]
    fn ex_serialises_and_queue_is_fifo() {
        let now = Instant::now();
        let mut l = Locker::new("R", ResourceType::Simple, 0).unwrap();
        assert_eq!(
            l.lock(1, req(LockMode::Exclusive, true), now),
            Outcome::Granted(None)
        );
        assert_eq!(
            l.lock(2, req(LockMode::Exclusive, true), now),
            Outcome::Enqueued
        );
        assert_eq!(
            l.lock(3, req(LockMode::Exclusive, false), now),
            Outcome::Busy
        );
        assert_eq!(
            l.lock(4, req(LockMode::Exclusive, true), now),
            Outcome::Enqueued
        );
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
        l.disconnect(2, now, &mut g);
        assert_eq!(
            g,
            vec![Grant {
                conn: 4,
                element: None
            }]
        );
        g.clear();
        l.disconnect(4, now, &mut g);
        assert!(g.is_empty());
        assert!(l.is_unused());
    }

    #[test]
    fn compatible_request_overtakes_queue() {
        // UC5 (1/9): PR held, PW queued, new PR granted at once.
        let now = Instant::now();
        let mut l = Locker::new("R", ResourceType::Simple, 0).unwrap();
        assert_eq!(
            l.lock(1, req(LockMode::ProtectedRead, true), now),
            Outcome::Granted(None)
        );
        assert_eq!(
            l.lock(2, req(LockMode::ProtectedWrite, true), now),
            Outcome::Enqueued
        );
        assert_eq!(
            l.lock(3, req(LockMode::ProtectedRead, true), now),
            Outcome::Granted(None)
        );
        let mut g = Vec::new();
        l.unlock(1, false, now, &mut g);
        assert!(g.is_empty());
        l.unlock(3, false, now, &mut g);
        assert_eq!(
            g,
            vec![Grant {
                conn: 2,
                element: None
            }]
        );
    }

    #[test]
    fn release_grants_every_compatible_waiter_in_order() {
        let now = Instant::now();
        let mut l = Locker::new("R", ResourceType::Simple, 0).unwrap();
        l.lock(1, req(LockMode::Exclusive, true), now);
        l.lock(2, req(LockMode::ConcurrentRead, true), now);
        l.lock(3, req(LockMode::Exclusive, true), now);
        l.lock(4, req(LockMode::ConcurrentWrite, true), now);
        let mut g = Vec::new();
        l.unlock(1, false, now, &mut g);
        let conns: Vec<_> = g.iter().map(|g| g.conn).collect();
        assert_eq!(conns, vec![2, 4]);
    }

    fn strict(name: &str) -> Locker {
        let mut l = Locker::new(name, ResourceType::Simple, 0).unwrap();
        l.set_queue_order(QueueOrder::StrictFifo);
        l
    }

    fn conns(g: &[Grant]) -> Vec<u32> {
        g.iter().map(|g| g.conn).collect()
    }

    #[test]
    fn strict_fifo_reader_waits_behind_queued_writer() {
        let now = Instant::now();
        let mut l = strict("R");
        let ok = Outcome::Granted(None);
        assert_eq!(l.lock(1, req(LockMode::ProtectedRead, true), now), ok);
        assert_eq!(
            l.lock(2, req(LockMode::ProtectedWrite, true), now),
            Outcome::Enqueued
        );
        // Compatible with the holder, but the writer came first.
        assert_eq!(
            l.lock(3, req(LockMode::ProtectedRead, true), now),
            Outcome::Enqueued
        );
        assert_eq!(
            l.lock(4, req(LockMode::ProtectedRead, false), now),
            Outcome::Busy
        );
        // A null lock conflicts with nothing and never waits.
        assert_eq!(l.lock(5, req(LockMode::NullLock, false), now), ok);
        let mut g = Vec::new();
        l.unlock(1, false, now, &mut g);
        assert_eq!(conns(&g), vec![2]);
        g.clear();
        l.unlock(2, false, now, &mut g);
        assert_eq!(conns(&g), vec![3]);
    }

    #[test]
    fn strict_fifo_grants_the_compatible_head_together_and_stops() {
        let now = Instant::now();
        let mut l = strict("R");
        l.lock(1, req(LockMode::Exclusive, true), now);
        l.lock(2, req(LockMode::ConcurrentRead, true), now);
        l.lock(3, req(LockMode::ProtectedRead, true), now);
        l.lock(4, req(LockMode::Exclusive, true), now);
        // Compatible with CR and PR, but behind the EX at 4.
        l.lock(5, req(LockMode::ConcurrentRead, true), now);
        let mut g = Vec::new();
        l.unlock(1, false, now, &mut g);
        assert_eq!(conns(&g), vec![2, 3]);
    }

    #[test]
    fn strict_fifo_waiter_leaving_lets_the_next_ones_go() {
        let now = Instant::now();
        let mut l = strict("R");
        l.lock(1, req(LockMode::ProtectedRead, true), now);
        l.lock(2, req(LockMode::Exclusive, true), now);
        l.lock(3, req(LockMode::ProtectedRead, true), now);
        l.lock(4, req(LockMode::ConcurrentRead, true), now);
        let mut g = Vec::new();
        // The writer gives up (timeout, crash): the readers behind it join
        // the reader holding the lock.
        l.disconnect(2, now, &mut g);
        assert_eq!(conns(&g), vec![3, 4]);
    }

    #[test]
    fn default_order_does_not_grant_on_a_waiter_leaving() {
        let now = Instant::now();
        let mut l = Locker::new("R", ResourceType::Simple, 0).unwrap();
        l.lock(1, req(LockMode::Exclusive, true), now);
        l.lock(2, req(LockMode::Exclusive, true), now);
        let mut g = Vec::new();
        l.disconnect(2, now, &mut g);
        assert!(g.is_empty());
        assert_eq!(l.holders().len(), 1);
    }
}
