//! `flom-bench`: a load generator for FLoM daemons. It speaks the level-3
//! wire protocol itself, over a UNIX socket or loopback TCP, so it drives any
//! compatible daemon (this crate's or C FLoM 1.7.2), and prints one line of
//! figures per scenario (or a table for `all`). See `flom-bench --help`.

#[path = "flom_bench/load.rs"]
mod load;
#[path = "flom_bench/net.rs"]
mod net;
#[path = "flom_bench/opts.rs"]
mod opts;
#[path = "flom_bench/report.rs"]
mod report;
#[path = "flom_bench/scenarios.rs"]
mod scenarios;
#[path = "flom_bench/stats.rs"]
mod stats;
#[path = "flom_bench/watch.rs"]
mod watch;

use opts::{Options, Parsed, Scenario};
use report::{fmt_f, json_str, Report};
use scenarios::Ctx;
use std::time::Duration;

/// Prints a report as soon as it is known (text line or JSON line).
/// Marks a report of a run over TLS (`tls=1`).
fn mark(ctx: &Ctx, mut r: Report) -> Report {
    if ctx.o.tls.is_some() {
        r.push("tls", report::Val::I(1));
    }
    r
}

fn emit(ctx: &Ctx, r: &Report) {
    if ctx.o.json {
        println!("{}", r.json());
    } else {
        println!("{}", r.text());
    }
}

fn run_one(ctx: &Ctx) -> Result<Report, String> {
    let o = &ctx.o;
    match o.scenario {
        Scenario::Cycle => scenarios::cycle(ctx, o.clients.unwrap_or(1), o.time, o.count),
        Scenario::Floor => scenarios::floor(ctx, o.clients.unwrap_or(1), o.time, o.count),
        Scenario::Contend => scenarios::contend(ctx, o.clients.unwrap_or(64), o.time, o.count),
        Scenario::Hold => scenarios::hold(ctx, o.count.unwrap_or(1000)),
        Scenario::Idle => scenarios::idle(
            ctx,
            o.count.unwrap_or(10_000),
            o.idle_lifespan_ms.unwrap_or(600_000),
            o.clients.unwrap_or(1),
        ),
        Scenario::Queue => scenarios::queue(ctx, o.count.unwrap_or(1000)),
        Scenario::Cli => scenarios::cli(ctx, o.count.unwrap_or(200)),
        Scenario::All => unreachable!("all is run by run_all"),
    }
}

/// One checked target of the issue: a measured figure against its goal.
struct Check {
    what: &'static str,
    value: f64,
    goal: &'static str,
    ok: bool,
}

fn find<'a>(rs: &'a [Report], scenario: &str, params_start: &str) -> Option<&'a Report> {
    rs.iter()
        .find(|r| r.scenario == scenario && r.params.starts_with(params_start) && r.errors == 0)
}

fn checks(rs: &[Report]) -> Vec<Check> {
    let mut v = Vec::new();
    if let (Some(c), Some(f)) = (find(rs, "cycle", "c=1 "), find(rs, "floor", "c=1 ")) {
        if let (Some(cl), Some(fl)) = (&c.lat, &f.lat) {
            let x = stats::ratio(cl.p50_us, fl.p50_us);
            v.push(Check {
                what: "cycle c=1 p50 / floor c=1 p50",
                value: x,
                goal: "<= 1.5",
                ok: x <= 1.5,
            });
        }
        let x = stats::ratio(f.ops_per_s(), c.ops_per_s());
        v.push(Check {
            what: "cycle c=1 time / floor c=1 time",
            value: x,
            goal: "<= 1.5",
            ok: x <= 1.5,
        });
    }
    if let Some(c) = find(rs, "contend", "c=64 ") {
        let x = c.get_f("spread").unwrap_or(f64::NAN);
        v.push(Check {
            what: "contend c=64 max/min grants",
            value: x,
            goal: "<= 2",
            ok: x <= 2.0,
        });
    }
    if let Some(h) = find(rs, "hold", "") {
        if let Some(b) = h.get_f("rss_per_res_b") {
            let tls = h.get_f("tls").is_some();
            v.push(Check {
                what: if tls {
                    "hold RSS bytes per held TLS connection"
                } else {
                    "hold RSS bytes per held resource"
                },
                value: b,
                goal: if tls { "< 8192" } else { "< 1024" },
                ok: b < if tls { 8192.0 } else { 1024.0 },
            });
        }
        if let Some(p) = &h.proc {
            let t = p.threads as f64;
            v.push(Check {
                what: "hold daemon threads",
                value: t,
                goal: "1",
                ok: p.threads == 1,
            });
        }
        if let Some(x) = h.get_f("probe_slowdown") {
            v.push(Check {
                what: "cycle during hold / idle cycle (time)",
                value: x,
                goal: "<= 1.2",
                ok: x <= 1.2,
            });
        }
    }
    if let Some(i) = find(rs, "idle", "") {
        if let Some(b) = i.get_f("rss_per_res_b") {
            v.push(Check {
                what: "idle RSS bytes per resource",
                value: b,
                goal: "< 512",
                ok: b < 512.0,
            });
        }
        if let Some(x) = i.get_f("expiry_p99_ratio") {
            v.push(Check {
                what: "cycle p99 during expiry / idle p99",
                value: x,
                goal: "<= 2",
                ok: x <= 2.0,
            });
        }
    }
    let q: Vec<&Report> = rs
        .iter()
        .filter(|r| r.scenario == "queue" && r.errors == 0)
        .collect();
    if let (Some(a), Some(b)) = (q.first(), q.get(1)) {
        if let (Some(x), Some(y)) = (a.get_f("per_waiter_us"), b.get_f("per_waiter_us")) {
            let x = stats::ratio(y, x);
            v.push(Check {
                what: "queue per-waiter time, large / small",
                value: x,
                goal: "~1 (linear)",
                ok: x <= 1.5,
            });
        }
    }
    if let Some(c) = find(rs, "cli", "") {
        let x = c.get_f("flom_vs_flock").unwrap_or(f64::NAN);
        v.push(Check {
            what: "cli flom / flock (mean time)",
            value: x,
            goal: "<= 1.3",
            ok: x <= 1.3,
        });
    }
    v
}

/// `all`: a short default set, then a table and the targets of the issue.
fn run_all(ctx: &Ctx) -> bool {
    let t = ctx.o.time.unwrap_or(2.0);
    let lifespan = ctx.o.idle_lifespan_ms.unwrap_or(60_000);
    let baseline = net::proc_status(ctx.o.daemon_pid);
    let mut reports: Vec<Report> = Vec::new();
    let mut ok = true;
    let mut step = |label: String, f: &dyn Fn() -> Result<Report, String>| -> Option<f64> {
        // Let the daemon get rid of what the previous scenario left (C FLoM's
        // locker threads) before measuring the next one.
        scenarios::settle(ctx, baseline);
        if !ctx.o.json {
            eprintln!("flom-bench: running {label}...");
        }
        match f().map(|r| mark(ctx, r)) {
            Ok(r) => {
                ok &= r.errors == 0;
                if ctx.o.json {
                    emit(ctx, &r);
                } else {
                    // Progress, and the figures so far should a later scenario stall.
                    eprintln!("{}", r.text());
                }
                let per_waiter = r.get_f("per_waiter_us");
                reports.push(r);
                per_waiter
            }
            Err(e) => {
                ok = false;
                eprintln!("flom-bench: {label}: {e}");
                None
            }
        }
    };
    step("floor c=1".into(), &|| {
        scenarios::floor(ctx, 1, Some(t), None)
    });
    step("cycle c=1".into(), &|| {
        scenarios::cycle(ctx, 1, Some(t), None)
    });
    step("floor c=4".into(), &|| {
        scenarios::floor(ctx, 4, Some(t), None)
    });
    step("cycle c=4".into(), &|| {
        scenarios::cycle(ctx, 4, Some(t), None)
    });
    step("cycle c=64".into(), &|| {
        scenarios::cycle(ctx, 64, Some(t), None)
    });
    step("contend c=64".into(), &|| {
        scenarios::contend(ctx, 64, Some(t), None)
    });
    let small = step("queue n=1000".into(), &|| scenarios::queue(ctx, 1000));
    // The large queue shows whether the chain is linear in N; a daemon that
    // is quadratic (C FLoM) would take minutes at 10,000, so it gets a size
    // that a quadratic daemon finishes in about a minute.
    let mut big = 10_000u64.min(net::max_connections(ctx.nofile));
    if let Some(us) = small {
        while big > 2000 && us * 1e-6 * (big as f64 / 1000.0) * big as f64 > 60.0 {
            big /= 2;
        }
    }
    step(format!("queue n={big}"), &|| scenarios::queue(ctx, big));
    step("hold n=1000".into(), &|| scenarios::hold(ctx, 1000));
    // 5,000: C FLoM needs a thread and a pipe per resource and stalls near
    // 10,000 under a 20,000 fd limit; the per-resource figure is the same.
    step(format!("idle n=5000 i={lifespan}"), &|| {
        scenarios::idle(ctx, 5000, lifespan, 2)
    });
    if ctx.o.flom.is_some() {
        step("cli n=100".into(), &|| scenarios::cli(ctx, 100));
    }
    let cs = checks(&reports);
    if ctx.o.json {
        for c in &cs {
            println!(
                "{{\"scenario\":\"target\",\"what\":{},\"value\":{},\"goal\":{},\"ok\":{}}}",
                json_str(c.what),
                if c.value.is_finite() {
                    format!("{:.3}", c.value)
                } else {
                    "null".into()
                },
                json_str(c.goal),
                c.ok
            );
        }
    } else {
        print!("{}", report::table(&reports));
        println!();
        for c in &cs {
            println!(
                "target  {:<40} {:>10}  goal {:<12} {}",
                c.what,
                fmt_f(c.value),
                c.goal,
                if c.ok { "ok" } else { "MISSED" }
            );
        }
    }
    ok
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let default_prefix = format!("fb{}", std::process::id());
    let o: Options = match opts::parse(&args, &default_prefix) {
        Ok(Parsed::Help) => {
            print!("{}", opts::USAGE);
            return;
        }
        Ok(Parsed::Run(o)) => *o,
        Err(e) => {
            eprintln!("flom-bench: {e}\n\n{}", opts::USAGE);
            std::process::exit(2);
        }
    };
    watch::start(
        Duration::from_millis(o.io_timeout_ms),
        Duration::from_secs_f64(o.max_time),
    );
    if let (Some([cert, key, ca]), Some(target)) = (&o.tls, &o.target) {
        let files = flom::tls::TlsFiles {
            certificate: cert.clone(),
            private_key: key.clone(),
            ca_certificate: ca.clone(),
        };
        if let Err(e) = net::use_tls(target, &files) {
            eprintln!("flom-bench: --tls: {e}");
            std::process::exit(2);
        }
    }
    let nofile = net::raise_nofile();
    let ctx = Ctx {
        o,
        peerid: net::peer_id(),
        nofile,
    };
    watch::arm(true);
    let ok = if ctx.o.scenario == Scenario::All {
        run_all(&ctx)
    } else {
        match run_one(&ctx).map(|r| mark(&ctx, r)) {
            Ok(r) => {
                emit(&ctx, &r);
                r.errors == 0
            }
            Err(e) => {
                eprintln!("flom-bench: {}: {e}", ctx.o.scenario.name());
                false
            }
        }
    };
    watch::arm(false);
    std::process::exit(if ok { 0 } else { 1 });
}

#[cfg(test)]
mod tests {
    use super::*;
    use report::Val;
    use stats::Summary;

    fn rep(scenario: &str, params: &str, ops: u64, p50: f64) -> Report {
        let mut r = Report::new(scenario, params.into());
        r.ops = ops;
        r.secs = 1.0;
        r.lat = Some(Summary {
            n: ops as usize,
            mean_us: p50,
            p50_us: p50,
            p99_us: p50 * 2.0,
            max_us: p50 * 3.0,
        });
        r
    }

    #[test]
    fn targets_from_reports() {
        let mut contend = rep("contend", "c=64 t=2s", 100, 10.0);
        contend.push("spread", Val::F(3.0));
        let mut q1 = rep("queue", "n=1000", 999, 1.0);
        q1.push("per_waiter_us", Val::F(10.0));
        let mut q2 = rep("queue", "n=10000", 9999, 1.0);
        q2.push("per_waiter_us", Val::F(11.0));
        let rs = vec![
            rep("floor", "c=1 t=2s", 1000, 50.0),
            rep("cycle", "c=1 t=2s", 800, 60.0),
            contend,
            q1,
            q2,
        ];
        let cs = checks(&rs);
        let get = |w: &str| cs.iter().find(|c| c.what.starts_with(w)).unwrap();
        assert!((get("cycle c=1 p50").value - 1.2).abs() < 1e-9 && get("cycle c=1 p50").ok);
        assert!((get("cycle c=1 time").value - 1.25).abs() < 1e-9);
        assert!(!get("contend").ok);
        assert!((get("queue").value - 1.1).abs() < 1e-9 && get("queue").ok);
        assert!(cs
            .iter()
            .all(|c| !c.what.starts_with("hold") && !c.what.starts_with("cli")));
    }

    #[test]
    fn failed_runs_are_not_checked() {
        let mut c = rep("cycle", "c=1 t=2s", 10, 60.0);
        c.errors = 1;
        assert!(checks(&[rep("floor", "c=1 t=2s", 1000, 50.0), c]).is_empty());
    }
}
