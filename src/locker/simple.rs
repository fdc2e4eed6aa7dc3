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
}

#[cfg(test)]
mod tests {
    use super::super::{Grant, Locker, Outcome, Request};
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
}
