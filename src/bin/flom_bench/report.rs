//! One result per scenario, printed as a text line, a JSON line or a table row.

use crate::net::ProcStat;
use crate::stats::Summary;
use std::fmt::Write as _;

#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    I(i64),
    F(f64),
    S(String),
}

impl Val {
    fn text(&self) -> String {
        match self {
            Val::I(i) => i.to_string(),
            Val::F(f) => fmt_f(*f),
            Val::S(s) => s.clone(),
        }
    }
    fn json(&self) -> String {
        match self {
            Val::I(i) => i.to_string(),
            Val::F(f) if f.is_finite() => format!("{}", round3(*f)),
            Val::F(_) => "null".into(),
            Val::S(s) => json_str(s),
        }
    }
}

fn round3(f: f64) -> f64 {
    (f * 1000.0).round() / 1000.0
}

/// A number for humans: 3 significant decimals below 10, 1 below 1000, none above.
pub fn fmt_f(f: f64) -> String {
    if !f.is_finite() {
        "-".into()
    } else if f.abs() < 10.0 {
        format!("{f:.3}")
    } else if f.abs() < 1000.0 {
        format!("{f:.1}")
    } else {
        format!("{f:.0}")
    }
}

pub fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    flom::report::json_string(&mut out, s);
    out
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    pub scenario: String,
    /// Short parameter summary, e.g. "c=4 t=2s".
    pub params: String,
    pub ops: u64,
    pub secs: f64,
    pub lat: Option<Summary>,
    pub proc: Option<ProcStat>,
    pub errors: u64,
    pub extras: Vec<(&'static str, Val)>,
}

impl Report {
    pub fn new(scenario: &str, params: String) -> Report {
        Report {
            scenario: scenario.into(),
            params,
            ..Report::default()
        }
    }

    pub fn ops_per_s(&self) -> f64 {
        if self.secs > 0.0 {
            self.ops as f64 / self.secs
        } else {
            f64::NAN
        }
    }

    pub fn push(&mut self, key: &'static str, v: Val) {
        self.extras.push((key, v));
    }

    pub fn get(&self, key: &str) -> Option<&Val> {
        self.extras.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    pub fn get_f(&self, key: &str) -> Option<f64> {
        match self.get(key)? {
            Val::F(f) => Some(*f),
            Val::I(i) => Some(*i as f64),
            _ => None,
        }
    }

    pub fn text(&self) -> String {
        let mut s = format!("{:<8} {}", self.scenario, self.params);
        let _ = write!(
            s,
            " ops={} secs={} ops/s={}",
            self.ops,
            fmt_f(self.secs),
            fmt_f(self.ops_per_s())
        );
        if let Some(l) = &self.lat {
            let _ = write!(
                s,
                " p50={}us p99={}us max={}us",
                fmt_f(l.p50_us),
                fmt_f(l.p99_us),
                fmt_f(l.max_us)
            );
        }
        if let Some(p) = &self.proc {
            let _ = write!(s, " rss={}KiB threads={}", p.rss_kib, p.threads);
        }
        let _ = write!(s, " errors={}", self.errors);
        for (k, v) in &self.extras {
            let _ = write!(s, " {k}={}", v.text());
        }
        s
    }

    pub fn json(&self) -> String {
        let mut s = String::from("{");
        let _ = write!(
            s,
            "\"scenario\":{},\"params\":{},\"ops\":{},\"secs\":{},\"ops_per_s\":{}",
            json_str(&self.scenario),
            json_str(&self.params),
            self.ops,
            Val::F(self.secs).json(),
            Val::F(self.ops_per_s()).json()
        );
        if let Some(l) = &self.lat {
            let _ = write!(
                s,
                ",\"p50_us\":{},\"p99_us\":{},\"max_us\":{},\"mean_us\":{}",
                Val::F(l.p50_us).json(),
                Val::F(l.p99_us).json(),
                Val::F(l.max_us).json(),
                Val::F(l.mean_us).json()
            );
        }
        if let Some(p) = &self.proc {
            let _ = write!(s, ",\"rss_kib\":{},\"threads\":{}", p.rss_kib, p.threads);
        }
        let _ = write!(s, ",\"errors\":{}", self.errors);
        for (k, v) in &self.extras {
            let _ = write!(s, ",{}:{}", json_str(k), v.json());
        }
        s.push('}');
        s
    }
}

/// The `all` table: one row per report, then its notes (the extras).
pub fn table(reports: &[Report]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<8} {:<16} {:>10} {:>9} {:>9} {:>10} {:>9} {:>7} {:>6}",
        "scenario", "params", "ops/s", "p50 us", "p99 us", "max us", "RSS KiB", "threads", "errors"
    );
    for r in reports {
        let (p50, p99, max) = match &r.lat {
            Some(l) => (fmt_f(l.p50_us), fmt_f(l.p99_us), fmt_f(l.max_us)),
            None => ("-".into(), "-".into(), "-".into()),
        };
        let (rss, thr) = match &r.proc {
            Some(p) => (p.rss_kib.to_string(), p.threads.to_string()),
            None => ("-".into(), "-".into()),
        };
        let _ = writeln!(
            out,
            "{:<8} {:<16} {:>10} {:>9} {:>9} {:>10} {:>9} {:>7} {:>6}",
            r.scenario,
            r.params,
            fmt_f(r.ops_per_s()),
            p50,
            p99,
            max,
            rss,
            thr,
            r.errors
        );
        if !r.extras.is_empty() {
            let notes: Vec<String> = r
                .extras
                .iter()
                .map(|(k, v)| format!("{k}={}", v.text()))
                .collect();
            let _ = writeln!(out, "{:<8} {}", "", notes.join(" "));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        let mut r = Report::new("cycle", "c=1 t=2s".into());
        r.ops = 1000;
        r.secs = 2.0;
        r.lat = Some(Summary {
            n: 1000,
            mean_us: 21.5,
            p50_us: 20.0,
            p99_us: 40.25,
            max_us: 1234.5678,
        });
        r.proc = Some(ProcStat {
            rss_kib: 900,
            threads: 1,
        });
        r.push("note", Val::S("a\"b".into()));
        r.push("ratio", Val::F(f64::NAN));
        r
    }

    #[test]
    fn text_line() {
        let t = sample().text();
        assert!(
            t.starts_with("cycle    c=1 t=2s ops=1000 secs=2.000 ops/s=500.0"),
            "{t}"
        );
        assert!(t.contains(" p50=20.0us p99=40.2us max=1235us"), "{t}");
        assert!(
            t.contains(" rss=900KiB threads=1 errors=0 note=a\"b ratio=-"),
            "{t}"
        );
    }

    #[test]
    fn json_line() {
        let j = sample().json();
        assert_eq!(
            j,
            "{\"scenario\":\"cycle\",\"params\":\"c=1 t=2s\",\"ops\":1000,\"secs\":2,\"ops_per_s\":500,\
             \"p50_us\":20,\"p99_us\":40.25,\"max_us\":1234.568,\"mean_us\":21.5,\"rss_kib\":900,\
             \"threads\":1,\"errors\":0,\"note\":\"a\\\"b\",\"ratio\":null}"
        );
        assert_eq!(json_str("x\n\u{1}"), "\"x\\n\\u0001\"");
    }

    #[test]
    fn table_rows() {
        let t = table(&[sample()]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[1].starts_with("cycle    c=1 t=2s"));
        assert!(lines[2].contains("note=a\"b ratio=-"));
    }
}
