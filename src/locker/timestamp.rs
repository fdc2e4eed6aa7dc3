//! Timestamp resources (`_t_FORMAT[N]`): at most N holders, and each grant
//! hands out the local time formatted by FORMAT (strftime, plus `#f`…`#ffffff`
//! for fractions of a second). The time grain of the format (the finest
//! field it shows) makes every issued value unique: a grant needs the clock
//! to be in a later grain than the previous grant; a request waiting only for
//! that is granted by the timer at the next grain boundary.

use super::{Check, Holder, InitError, Policy, Request, WallClock};
use std::ffi::CString;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The longest output of a value (C FLoM's buffer holds 999 chars + NUL).
const MAX_VALUE: usize = 1000;

pub struct TimestampPolicy {
    format: String,
    capacity: u64,
    in_use: u64,
    /// Grain length in microseconds.
    grain_us: i64,
    /// Grain bucket (`micros since the epoch / grain`) of the last grant.
    last_bucket: Option<i64>,
    clock: WallClock,
}

/// The grain of a format, in microseconds, or `None` when the format shows
/// nothing that changes at least once an hour.
pub fn grain_micros(format: &str) -> Option<i64> {
    for k in (1..=6).rev() {
        if format.contains(&fraction_marker(k)) {
            return Some(10i64.pow(6 - k as u32));
        }
    }
    let has = |specs: &[&str]| specs.iter().any(|s| format.contains(s));
    if has(&["%c", "%r", "%s", "%S", "%T", "%X"]) {
        Some(1_000_000)
    } else if has(&["%M", "%R"]) {
        Some(60_000_000)
    } else if has(&["%H", "%I"]) {
        Some(3_600_000_000)
    } else {
        None
    }
}

/// `#` followed by `k` `f`s.
fn fraction_marker(k: usize) -> String {
    let mut s = String::with_capacity(k + 1);
    s.push('#');
    s.extend(std::iter::repeat('f').take(k));
    s
}

/// Microseconds since the epoch (negative before 1970).
fn epoch_micros(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_micros() as i64,
        Err(e) => -(e.duration().as_micros() as i64),
    }
}

/// Formats the local time `micros` (since the epoch) with `format`: each
/// `#f`…`#ffffff` run (longest first) becomes `.` and the first k digits of
/// the six-digit microseconds, then strftime does the rest.
pub fn format_value(format: &str, micros: i64) -> String {
    let secs = micros.div_euclid(1_000_000);
    let digits = format!("{:06}", micros.rem_euclid(1_000_000));
    let mut fmt = format.to_string();
    for k in (1..=6).rev() {
        let marker = fraction_marker(k);
        if fmt.contains(&marker) {
            fmt = fmt.replace(&marker, &format!(".{}", &digits[..k]));
        }
    }
    strftime_local(&fmt, secs)
}

pub(crate) fn strftime_local(format: &str, secs: i64) -> String {
    let Ok(cfmt) = CString::new(format) else {
        return String::new();
    };
    let t = secs as libc::time_t;
    // SAFETY: `tm` is plain data; localtime_r fills it or returns NULL.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    if unsafe { libc::localtime_r(&t, &mut tm) }.is_null() {
        return String::new();
    }
    let mut buf = [0u8; MAX_VALUE];
    // SAFETY: the buffer length is passed; the format is NUL-terminated.
    let n = unsafe { libc::strftime(buf.as_mut_ptr().cast(), buf.len(), cfmt.as_ptr(), &tm) };
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

impl TimestampPolicy {
    pub fn new(
        format: &str,
        capacity: u64,
        clock: WallClock,
    ) -> Result<TimestampPolicy, InitError> {
        let grain_us = grain_micros(format).ok_or(InitError::Invalid)?;
        Ok(TimestampPolicy {
            format: format.to_string(),
            capacity,
            in_use: 0,
            grain_us,
            last_bucket: None,
            clock,
        })
    }

    fn micros(&self, now: Instant) -> i64 {
        epoch_micros((self.clock)(now))
    }

    /// The clock is in a later grain than the last grant.
    fn fresh_grain(&self, micros: i64) -> bool {
        match self.last_bucket {
            None => true,
            Some(last) => micros.div_euclid(self.grain_us) > last,
        }
    }
}

impl Policy for TimestampPolicy {
    fn check(&self, _holders: &[Holder], _req: &Request, now: Instant) -> Check {
        if self.in_use < self.capacity && self.fresh_grain(self.micros(now)) {
            Check::Grantable
        } else {
            Check::NotNow
        }
    }

    fn grant(
        &mut self,
        _holders: &[Holder],
        _req: &Request,
        now: Instant,
    ) -> (Option<String>, u64) {
        let micros = self.micros(now);
        self.last_bucket = Some(micros.div_euclid(self.grain_us));
        self.in_use += 1;
        (Some(format_value(&self.format, micros)), micros as u64)
    }

    fn release(&mut self, _holder: &Holder, _rollback: bool) {
        self.in_use -= 1;
    }

    fn saturated(&self, _holders: &[Holder], now: Instant) -> bool {
        self.in_use >= self.capacity || !self.fresh_grain(self.micros(now))
    }

    fn wakeup(&self, now: Instant) -> Option<Instant> {
        // With every slot taken only a release can help.
        if self.in_use >= self.capacity {
            return None;
        }
        let last = self.last_bucket?;
        let boundary = (last + 1) * self.grain_us;
        let wait = boundary - self.micros(now);
        Some(now + Duration::from_micros(wait.max(0) as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Grant, InitError, Locker, Outcome, Request, WallClock};
    use super::{format_value, grain_micros};
    use crate::resource::{resource_type, LockMode, ResourceType};
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

    /// 2026-11-22 09:44:51.210000 UTC.
    const T0_MICROS: u64 = 1_795_340_691_210_000;

    /// A clock that maps `base + d` onto `T0 + d`.
    fn test_clock(base: Instant) -> WallClock {
        let wall = UNIX_EPOCH + Duration::from_micros(T0_MICROS);
        Box::new(move |now: Instant| wall + now.duration_since(base))
    }

    fn locker(name: &str, base: Instant) -> Locker {
        assert_eq!(resource_type(name), Some(ResourceType::Timestamp), "{name}");
        Locker::with_wall_clock(name, ResourceType::Timestamp, 0, test_clock(base)).unwrap()
    }

    fn req(name: &str, wait: bool) -> Request {
        Request {
            name: name.into(),
            mode: LockMode::Exclusive,
            quantity: 1,
            wait,
        }
    }

    fn granted(e: &str) -> Outcome {
        Outcome::Granted(Some(e.to_string()))
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn grains() {
        assert_eq!(grain_micros("%S#f"), Some(100_000));
        assert_eq!(grain_micros("#ff"), Some(10_000));
        assert_eq!(grain_micros("%H#fff"), Some(1_000));
        assert_eq!(grain_micros("a#ffff"), Some(100));
        assert_eq!(grain_micros("#fffff#f"), Some(10));
        assert_eq!(grain_micros("#fffffff"), Some(1));
        for f in ["a%S", "%c", "%r", "%s", "%T", "%X", "%M%S"] {
            assert_eq!(grain_micros(f), Some(1_000_000), "{f}");
        }
        assert_eq!(grain_micros("%M"), Some(60_000_000));
        assert_eq!(grain_micros("%R%H"), Some(60_000_000));
        assert_eq!(grain_micros("%H"), Some(3_600_000_000));
        assert_eq!(grain_micros("%I"), Some(3_600_000_000));
        let slow = "%a%A%b%B%d%D%e%E%F%G%g%h%j%m%p%P%u%U%V%w%W%x%y%Y%z%Z";
        assert_eq!(grain_micros(slow), None);
        assert_eq!(grain_micros(&format!("{slow}#f")), Some(100_000));
        let base = Instant::now();
        let name = format!("_t_{slow}[1]");
        assert!(
            Locker::with_wall_clock(&name, ResourceType::Timestamp, 0, test_clock(base)).is_err()
        );
        assert_eq!(
            Locker::new("_t_%Y%m%d[1]", ResourceType::Timestamp, 0).err(),
            Some(InitError::Invalid)
        );
        assert!(Locker::new("_t_a%S[1]", ResourceType::Timestamp, 0).is_ok());
    }

    #[test]
    fn fraction_substitution() {
        let t = T0_MICROS as i64 + 419;
        assert_eq!(format_value("tm%S#fff", t), "tm51.210");
        assert_eq!(format_value("tmstmp%S#f", t), "tmstmp51.2");
        assert_eq!(format_value("%S#ffffff", t), "51.210419");
        assert_eq!(format_value("#ff:#ffff", t), ".21:.2104");
        assert_eq!(format_value("#fffffff", t), ".210419f");
        assert_eq!(format_value("%s#ff", t), "1795340691.21");
        assert_eq!(format_value("x%%S", t), "x%S");
    }

    #[test]
    fn vector_10_one_second_grain_queues_until_next_second() {
        let base = Instant::now();
        let n = "_t_ts%S[2]";
        let mut l = locker(n, base);
        assert_eq!(l.lock(1, req(n, true), base), granted("ts51"));
        let mut g = Vec::new();
        l.unlock(1, false, base + ms(5), &mut g);
        // Same second, a free slot: queued (wait) or busy (no wait).
        assert_eq!(l.lock(3, req(n, false), base + ms(10)), Outcome::Busy);
        assert_eq!(l.lock(2, req(n, true), base + ms(10)), Outcome::Enqueued);
        assert_eq!(l.lock(4, req(n, true), base + ms(20)), Outcome::Enqueued);
        // The timer is due at the next second: 51.210 + 0.790.
        let due = l.next_wakeup(base + ms(20)).unwrap();
        assert_eq!(due, base + ms(790));
        l.on_timer(due - Duration::from_micros(1), &mut g);
        assert!(g.is_empty());
        l.on_timer(due, &mut g);
        // One grant per grain.
        assert_eq!(
            g,
            vec![Grant {
                conn: 2,
                element: Some("ts52".into())
            }]
        );
        g.clear();
        assert_eq!(l.next_wakeup(due), Some(base + ms(1790)));
        l.on_timer(base + ms(1790), &mut g);
        assert_eq!(
            g,
            vec![Grant {
                conn: 4,
                element: Some("ts53".into())
            }]
        );
        assert_eq!(l.next_wakeup(base + ms(1790)), None);
    }

    #[test]
    fn vector_10_millisecond_grain_and_full_slots() {
        let base = Instant::now();
        let n = "_t_ts%S#fff[1]";
        let mut l = locker(n, base);
        assert_eq!(l.lock(3, req(n, true), base), granted("ts51.210"));
        assert_eq!(l.lock(4, req(n, true), base + ms(300)), Outcome::Enqueued);
        // All slots taken: no timer, only the release grants.
        assert_eq!(l.next_wakeup(base + ms(300)), None);
        let mut g = Vec::new();
        l.unlock(3, false, base + ms(1003), &mut g);
        assert_eq!(
            g,
            vec![Grant {
                conn: 4,
                element: Some("ts52.213".into())
            }]
        );
    }

    #[test]
    fn sub_second_grain_within_and_across_seconds() {
        let base = Instant::now();
        let n = "_t_%S#f[3]";
        let mut l = locker(n, base);
        assert_eq!(l.lock(1, req(n, true), base), granted("51.2"));
        assert_eq!(l.lock(2, req(n, true), base + ms(89)), Outcome::Enqueued);
        assert_eq!(l.next_wakeup(base + ms(89)), Some(base + ms(90)));
        assert_eq!(l.lock(3, req(n, true), base + ms(90)), granted("51.3"));
        let mut g = Vec::new();
        l.on_timer(base + ms(90), &mut g);
        assert!(g.is_empty());
        l.on_timer(base + ms(790), &mut g);
        assert_eq!(
            g,
            vec![Grant {
                conn: 2,
                element: Some("52.0".into())
            }]
        );
    }

    #[test]
    fn values_are_unique_and_increasing() {
        let base = Instant::now();
        let n = "_t_%s#ff[2]";
        let mut l = locker(n, base);
        let mut seen = std::collections::HashSet::new();
        let mut g = Vec::new();
        let mut t = base;
        for conn in 0..500u32 {
            t += Duration::from_micros(3_333);
            match l.lock(conn, req(n, false), t) {
                Outcome::Granted(Some(e)) => {
                    assert!(seen.insert(e));
                    l.unlock(conn, false, t, &mut g);
                }
                Outcome::Busy => {}
                o => panic!("{o:?}"),
            }
        }
        assert!(seen.len() > 100);
        let mut sorted: Vec<_> = seen.into_iter().collect();
        sorted.sort();
        assert_eq!(sorted.first().map(String::as_str), Some("1795340691.21"));
    }

    #[test]
    fn real_clock_grants_and_formats() {
        let now = Instant::now();
        let mut l = Locker::new("_t_%s#ffffff[1]", ResourceType::Timestamp, 0).unwrap();
        let Outcome::Granted(Some(e)) = l.lock(1, req("_t_%s#ffffff[1]", true), now) else {
            panic!()
        };
        let secs: u64 = e.split('.').next().unwrap().parse().unwrap();
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(secs <= wall && wall - secs < 5, "{e}");
    }
}
