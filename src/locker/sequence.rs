//! Sequences (`_s_NAME[N]`, transactional `_S_NAME[N]`): at most N holders,
//! each grant hands out the next number (1, 2, …; 0 is never issued). A
//! transactional sequence recycles the number of a holder that releases with
//! rollback (or disconnects): later grants take recycled numbers first,
//! oldest first.

use super::{Check, Holder, Policy, Request};
use std::collections::VecDeque;
use std::time::Instant;

pub struct SequencePolicy {
    capacity: u64,
    transactional: bool,
    /// The next fresh number. The counter is 32 bits wide like C FLoM's,
    /// wrapping to 1 (0 is skipped).
    next: u32,
    recycled: VecDeque<u32>,
}

impl SequencePolicy {
    pub fn new(capacity: u64, transactional: bool) -> SequencePolicy {
        SequencePolicy {
            capacity,
            transactional,
            next: 1,
            recycled: VecDeque::new(),
        }
    }

    pub fn is_transactional(&self) -> bool {
        self.transactional
    }
}

impl Policy for SequencePolicy {
    fn check(&self, holders: &[Holder], _req: &Request, _now: Instant) -> Check {
        if (holders.len() as u64) < self.capacity {
            Check::Grantable
        } else {
            Check::NotNow
        }
    }

    fn grant(
        &mut self,
        _holders: &[Holder],
        _req: &Request,
        _now: Instant,
    ) -> (Option<String>, u64) {
        let value = match self.recycled.pop_front() {
            Some(v) => v,
            None => {
                let v = self.next;
                self.next = match self.next.wrapping_add(1) {
                    0 => 1,
                    n => n,
                };
                v
            }
        };
        (Some(value.to_string()), u64::from(value))
    }

    fn release(&mut self, holder: &Holder, rollback: bool) {
        if self.transactional && rollback {
            self.recycled.push_back(holder.value as u32);
        }
    }

    fn saturated(&self, holders: &[Holder], _now: Instant) -> bool {
        holders.len() as u64 >= self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Grant, Locker, Outcome, Request};
    use super::SequencePolicy;
    use crate::resource::{LockMode, ResourceType};
    use std::time::Instant;

    fn req(name: &str, wait: bool) -> Request {
        Request {
            name: name.into(),
            mode: LockMode::Exclusive,
            quantity: 1,
            wait,
        }
    }

    fn granted(v: u32) -> Outcome {
        Outcome::Granted(Some(v.to_string()))
    }

    fn grant(conn: u32, v: u32) -> Grant {
        Grant {
            conn,
            element: Some(v.to_string()),
        }
    }

    /// Runs commands one after the other on a `[1]` sequence, like the
    /// `flom -i 1000 -r NAME -- CMD` lines of UC18 (3/6) and (4/6): `true`
    /// commits, `echo` prints the value and commits, `false` rolls back.
    fn uc18_runs(name: &str) -> Vec<u32> {
        let now = Instant::now();
        let mut l = Locker::new(name, ResourceType::Sequence, 1000).unwrap();
        let script = [
            "true", "true", "true", "echo", "true", "true", "echo", "false", "echo", "false",
            "echo", "true", "echo",
        ];
        let mut printed = Vec::new();
        let mut g = Vec::new();
        for (conn, cmd) in script.iter().enumerate() {
            let conn = conn as u32;
            let Outcome::Granted(Some(e)) = l.lock(conn, req(name, true), now) else {
                panic!("not granted")
            };
            if *cmd == "echo" {
                printed.push(e.parse().unwrap());
            }
            assert!(l.unlock(conn, *cmd == "false", now, &mut g));
        }
        assert!(g.is_empty());
        printed
    }

    #[test]
    fn uc18_3_transactional() {
        assert_eq!(uc18_runs("_S_a[1]"), vec![4, 7, 8, 9, 11]);
    }

    #[test]
    fn uc18_4_non_transactional() {
        assert_eq!(uc18_runs("_s_a[1]"), vec![4, 7, 9, 11, 13]);
    }

    #[test]
    fn uc18_2_and_5_waiters_get_the_next_numbers() {
        let now = Instant::now();
        let n = "_s_a[3]";
        let mut l = Locker::new(n, ResourceType::Sequence, 0).unwrap();
        assert_eq!(l.lock(1, req(n, true), now), granted(1));
        assert_eq!(l.lock(2, req(n, true), now), granted(2));
        assert_eq!(l.lock(3, req(n, true), now), granted(3));
        assert_eq!(l.lock(4, req(n, true), now), Outcome::Enqueued);
        let mut g = Vec::new();
        l.unlock(2, true, now, &mut g); // rollback is meaningless for _s_
        assert_eq!(g, vec![grant(4, 4)]);
        l.unlock(4, false, now, &mut g);
        l.unlock(1, false, now, &mut g);
        l.unlock(3, false, now, &mut g);
        assert_eq!(l.lock(5, req(n, true), now), granted(5));
    }

    #[test]
    fn uc18_6_transactional_with_waiters() {
        let now = Instant::now();
        let n = "_S_a[3]";
        let mut l = Locker::new(n, ResourceType::Sequence, 0).unwrap();
        let mut printed = Vec::new();
        let mut g = Vec::new();
        assert_eq!(l.lock(1, req(n, true), now), granted(1));
        assert_eq!(l.lock(2, req(n, true), now), granted(2));
        assert_eq!(l.lock(3, req(n, true), now), granted(3));
        assert_eq!(l.lock(4, req(n, true), now), Outcome::Enqueued);
        // Client 2 exits 1: 2 is recycled and handed to waiting client 4.
        printed.push(2);
        l.unlock(2, true, now, &mut g);
        assert_eq!(g, vec![grant(4, 2)]);
        g.clear();
        assert_eq!(l.lock(5, req(n, true), now), Outcome::Enqueued);
        // Client 4 exits 0: 2 is committed, client 5 gets a fresh 4.
        printed.push(2);
        l.unlock(4, false, now, &mut g);
        assert_eq!(g, vec![grant(5, 4)]);
        g.clear();
        printed.push(1);
        l.unlock(1, false, now, &mut g);
        printed.push(4);
        l.unlock(5, false, now, &mut g);
        // Client 3 exits 1: 3 is recycled for client 6.
        printed.push(3);
        l.unlock(3, true, now, &mut g);
        assert!(g.is_empty());
        assert_eq!(l.lock(6, req(n, true), now), granted(3));
        printed.push(3);
        assert_eq!(printed, vec![2, 2, 1, 4, 3, 3]);
    }

    #[test]
    fn api_case0004_disconnect_recycles() {
        // First run: _S_ 1, rollback, 1, unlock, 2, abort while holding 2.
        let now = Instant::now();
        let n = "_S_transactional[1]";
        let mut l = Locker::new(n, ResourceType::Sequence, 60000).unwrap();
        let mut g = Vec::new();
        assert_eq!(l.lock(1, req(n, true), now), granted(1));
        l.unlock(1, true, now, &mut g);
        assert_eq!(l.lock(1, req(n, true), now), granted(1));
        l.unlock(1, false, now, &mut g);
        assert_eq!(l.lock(1, req(n, true), now), granted(2));
        l.disconnect(1, now, &mut g);
        // Second run: 2 (recycled), rollback, 2, unlock, 3.
        assert_eq!(l.lock(2, req(n, true), now), granted(2));
        l.unlock(2, true, now, &mut g);
        assert_eq!(l.lock(2, req(n, true), now), granted(2));
        l.unlock(2, false, now, &mut g);
        assert_eq!(l.lock(2, req(n, true), now), granted(3));
    }

    #[test]
    fn recycled_numbers_are_reused_oldest_first() {
        let now = Instant::now();
        let n = "_S_r[5]";
        let mut l = Locker::new(n, ResourceType::Sequence, 0).unwrap();
        let mut g = Vec::new();
        for conn in 1..=4 {
            assert_eq!(l.lock(conn, req(n, true), now), granted(conn));
        }
        l.unlock(3, true, now, &mut g);
        l.disconnect(1, now, &mut g);
        l.unlock(2, false, now, &mut g);
        assert_eq!(l.lock(5, req(n, true), now), granted(3));
        assert_eq!(l.lock(6, req(n, true), now), granted(1));
        assert_eq!(l.lock(7, req(n, true), now), granted(5));
    }

    #[test]
    fn zero_capacity_is_busy_not_impossible() {
        let now = Instant::now();
        let mut l = Locker::new("_s_z[0]", ResourceType::Sequence, 0).unwrap();
        assert_eq!(l.lock(1, req("_s_z[0]", false), now), Outcome::Busy);
        assert_eq!(l.lock(2, req("_s_z[0]", true), now), Outcome::Enqueued);
    }

    #[test]
    fn counter_wraps_to_one() {
        use super::super::Policy;
        let now = Instant::now();
        let mut p = SequencePolicy::new(1, false);
        p.next = u32::MAX;
        let r = req("_s_w[1]", true);
        assert_eq!(p.grant(&[], &r, now).0.as_deref(), Some("4294967295"));
        assert_eq!(p.grant(&[], &r, now).0.as_deref(), Some("1"));
    }
}
