//! Resource sets (`A.B.C`): each holder owns one element exclusively. The
//! element is chosen by scanning cyclically from a cursor for the first free
//! one; after every grant the cursor moves one step from where it was.

use super::{Check, Holder, Policy, Request};
use std::time::Instant;

pub struct SetPolicy {
    elements: Vec<String>,
    busy: Vec<bool>,
    in_use: usize,
    cursor: usize,
}

impl SetPolicy {
    /// The elements are the `.`-separated names of the resource (a repeated
    /// name is a separate slot).
    pub fn new(name: &str) -> SetPolicy {
        let elements: Vec<String> = name.split('.').map(str::to_string).collect();
        let busy = vec![false; elements.len()];
        SetPolicy {
            elements,
            busy,
            in_use: 0,
            cursor: 0,
        }
    }

    pub fn elements(&self) -> &[String] {
        &self.elements
    }
}

impl Policy for SetPolicy {
    fn check(&self, _holders: &[Holder], _req: &Request, _now: Instant) -> Check {
        if self.in_use < self.elements.len() {
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
        let n = self.elements.len();
        let index = (0..n)
            .map(|i| (self.cursor + i) % n)
            .find(|&i| !self.busy[i])
            .expect("grant called with a free element");
        self.busy[index] = true;
        self.in_use += 1;
        self.cursor = (self.cursor + 1) % n;
        (Some(self.elements[index].clone()), index as u64)
    }

    fn release(&mut self, holder: &Holder, _rollback: bool) {
        let index = holder.value as usize;
        debug_assert!(self.busy[index]);
        self.busy[index] = false;
        self.in_use -= 1;
    }

    fn saturated(&self, _holders: &[Holder], _now: Instant) -> bool {
        self.in_use == self.elements.len()
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Grant, Locker, Outcome, Request};
    use crate::resource::{LockMode, ResourceType};
    use std::time::Instant;

    const RGB: &str = "red.green.blue";

    fn req(wait: bool) -> Request {
        Request {
            name: RGB.into(),
            mode: LockMode::Exclusive,
            quantity: 1,
            wait,
        }
    }

    fn granted(e: &str) -> Outcome {
        Outcome::Granted(Some(e.to_string()))
    }

    #[test]
    fn uc12_uc13_and_vector_07() {
        let now = Instant::now();
        let mut l = Locker::new(RGB, ResourceType::Set, 0).unwrap();
        assert_eq!(l.lock(1, req(true), now), granted("red"));
        assert_eq!(l.lock(2, req(true), now), granted("green"));
        assert_eq!(l.lock(3, req(true), now), granted("blue"));
        assert_eq!(l.lock(4, req(false), now), Outcome::Busy);
        assert_eq!(l.lock(5, req(true), now), Outcome::Enqueued);
        assert_eq!(l.lock(6, req(true), now), Outcome::Enqueued);
        let mut g = Vec::new();
        l.unlock(1, false, now, &mut g);
        assert_eq!(
            g,
            vec![Grant {
                conn: 5,
                element: Some("red".into())
            }]
        );
        g.clear();
        // Cursor is now at green (busy), blue (busy), then red again.
        l.unlock(5, false, now, &mut g);
        assert_eq!(
            g,
            vec![Grant {
                conn: 6,
                element: Some("red".into())
            }]
        );
    }

    #[test]
    fn uc13_released_middle_element_is_reused() {
        let now = Instant::now();
        let mut l = Locker::new(RGB, ResourceType::Set, 0).unwrap();
        l.lock(1, req(true), now);
        l.lock(2, req(true), now);
        l.lock(3, req(true), now);
        let mut g = Vec::new();
        l.unlock(2, false, now, &mut g);
        assert_eq!(l.lock(4, req(true), now), granted("green"));
    }

    #[test]
    fn cursor_advances_from_its_old_value() {
        let now = Instant::now();
        let mut l = Locker::new("a.b.c.d", ResourceType::Set, 0).unwrap();
        let mut g = Vec::new();
        assert_eq!(l.lock(1, req(true), now), granted("a")); // cursor 0 -> 1
        l.unlock(1, false, now, &mut g);
        assert_eq!(l.lock(2, req(true), now), granted("b")); // cursor 1 -> 2
        assert_eq!(l.lock(3, req(true), now), granted("c")); // cursor 2 -> 3
        assert_eq!(l.lock(4, req(true), now), granted("d")); // cursor 3 -> 0
        assert_eq!(l.lock(5, req(true), now), granted("a")); // cursor 0 -> 1
        l.unlock(2, false, now, &mut g);
        l.unlock(5, false, now, &mut g);
        // Cursor 1: b is free again.
        assert_eq!(l.lock(6, req(true), now), granted("b")); // cursor 1 -> 2
                                                             // Cursor 2: c, d busy, a free.
        assert_eq!(l.lock(7, req(true), now), granted("a")); // cursor 2 -> 3
    }

    #[test]
    fn duplicate_names_are_separate_slots() {
        let now = Instant::now();
        let mut l = Locker::new("x.x", ResourceType::Set, 0).unwrap();
        assert_eq!(l.lock(1, req(true), now), granted("x"));
        assert_eq!(l.lock(2, req(true), now), granted("x"));
        assert_eq!(l.lock(3, req(false), now), Outcome::Busy);
        let values: Vec<u64> = l.holders().iter().map(|h| h.value).collect();
        assert_eq!(values, vec![0, 1]);
    }
}
