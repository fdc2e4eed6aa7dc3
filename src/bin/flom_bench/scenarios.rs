//! The scenarios: each one runs against the daemon and returns one report.

use crate::load::{run_load, Floor, LoadResult, LoadSpec, Names};
use crate::net::{self, LockOutcome, ProcStat, Stream};
use crate::opts::{Options, Target};
use crate::report::{Report, Val};
use crate::stats::{ratio, Summary};
use crate::watch;
use std::io::{Read, Write};
use std::os::unix::io::{AsRawFd, FromRawFd, OwnedFd};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What every scenario needs to know.
pub struct Ctx {
    pub o: Options,
    pub peerid: String,
    /// The soft RLIMIT_NOFILE after raising it to the hard limit.
    pub nofile: u64,
}

impl Ctx {
    fn target(&self) -> Result<&Target, String> {
        self.o
            .target
            .as_ref()
            .ok_or_else(|| "no daemon given (--socket or --tcp)".to_string())
    }

    fn name(&self, tag: &str) -> String {
        format!("{}{tag}", self.o.prefix)
    }

    fn stat(&self) -> Option<ProcStat> {
        net::proc_status(self.o.daemon_pid)
    }

    /// Caps a connection count to what the fd limit allows.
    fn cap(&self, n: u64, r: &mut Report) -> u64 {
        let max = net::max_connections(self.nofile);
        if n > max {
            eprintln!(
                "flom-bench: {}: {n} connections exceed the fd limit ({}); using {max}",
                r.scenario, self.nofile
            );
            r.push("capped_from", Val::I(n as i64));
            max
        } else {
            n
        }
    }
}

/// How long a timed run lasts: -t, or -n cycles, or the scenario default.
fn span(o: &Options, default_secs: f64) -> (Option<Duration>, Option<u64>, String) {
    match (o.time, o.count) {
        (None, Some(n)) => (None, Some(n), format!("n={n}")),
        (t, _) => {
            let t = t.unwrap_or(default_secs);
            (Some(Duration::from_secs_f64(t)), None, format!("t={}s", t))
        }
    }
}

fn from_load(scenario: &str, params: String, mut l: LoadResult) -> Report {
    let mut r = Report::new(scenario, params);
    r.ops = l.ops;
    r.secs = l.secs;
    r.lat = (!l.lat.is_empty()).then(|| Summary::of(&mut l.lat));
    r.proc = l.max_proc;
    r.errors = l.errors;
    if l.queued > 0 {
        r.push("queued", Val::I(l.queued as i64));
    }
    if let Some(e) = l.first_error {
        r.push("error", Val::S(e));
    }
    r
}

/// `cycle`: C clients each cycling on its own resource.
pub fn cycle(
    ctx: &Ctx,
    clients: usize,
    time: Option<f64>,
    count: Option<u64>,
) -> Result<Report, String> {
    let mut o = ctx.o.clone();
    o.time = time;
    o.count = count;
    let (duration, count, sp) = span(&o, 5.0);
    let spec = LoadSpec {
        target: ctx.target()?.clone(),
        clients,
        names: Names::PerClient((0..clients).map(|i| ctx.name(&format!("c{i}"))).collect()),
        lifespan_ms: 0,
        duration,
        count,
        daemon_pid: ctx.o.daemon_pid,
        peerid: ctx.peerid.clone(),
    };
    Ok(from_load(
        "cycle",
        format!("c={clients} {sp}"),
        run_load(&spec),
    ))
}

/// `floor`: the cycle exchange against the tool's own trivial responder.
pub fn floor(
    ctx: &Ctx,
    clients: usize,
    time: Option<f64>,
    count: Option<u64>,
) -> Result<Report, String> {
    let mut o = ctx.o.clone();
    o.time = time;
    o.count = count;
    let (duration, count, sp) = span(&o, 5.0);
    let f = Floor::start(clients, &ctx.peerid).map_err(|e| format!("floor responder: {e}"))?;
    let spec = LoadSpec {
        target: f.target(),
        clients,
        names: Names::PerClient((0..clients).map(|i| ctx.name(&format!("f{i}"))).collect()),
        lifespan_ms: 0,
        duration,
        count,
        daemon_pid: None,
        peerid: ctx.peerid.clone(),
    };
    let l = run_load(&spec);
    f.stop();
    Ok(from_load("floor", format!("c={clients} {sp}"), l))
}

/// `contend`: C clients on one exclusive resource; handoff rate and fairness.
pub fn contend(
    ctx: &Ctx,
    clients: usize,
    time: Option<f64>,
    count: Option<u64>,
) -> Result<Report, String> {
    let mut o = ctx.o.clone();
    o.time = time;
    o.count = count;
    let (duration, count, sp) = span(&o, 10.0);
    let name = ctx.name("x");
    let spec = LoadSpec {
        target: ctx.target()?.clone(),
        clients,
        names: Names::PerClient(vec![name; clients]),
        lifespan_ms: 0,
        duration,
        count,
        daemon_pid: ctx.o.daemon_pid,
        peerid: ctx.peerid.clone(),
    };
    let l = run_load(&spec);
    let min = l.per_client.iter().copied().min().unwrap_or(0);
    let max = l.per_client.iter().copied().max().unwrap_or(0);
    let mut r = from_load("contend", format!("c={clients} {sp}"), l);
    r.push("grants_min", Val::I(min as i64));
    r.push("grants_max", Val::I(max as i64));
    r.push("spread", Val::F(ratio(max as f64, min as f64)));
    Ok(r)
}

/// A short single-client cycle run used as a reference by hold and idle.
fn probe(ctx: &Ctx, secs: f64) -> Result<Option<(f64, Summary, u64)>, String> {
    if secs <= 0.0 {
        return Ok(None);
    }
    let spec = LoadSpec {
        target: ctx.target()?.clone(),
        clients: 1,
        names: Names::PerClient(vec![ctx.name("p")]),
        lifespan_ms: 0,
        duration: Some(Duration::from_secs_f64(secs)),
        count: None,
        daemon_pid: None,
        peerid: ctx.peerid.clone(),
    };
    let mut l = run_load(&spec);
    if let Some(e) = l.first_error {
        return Err(format!("probe cycle: {e}"));
    }
    let ops = ratio(l.ops as f64, l.secs);
    Ok(Some((ops, Summary::of(&mut l.lat), l.ops)))
}

/// Waits (at most 3 s) until the daemon is back to the thread count of
/// `baseline`, e.g. until the C daemon's locker threads of a finished scenario
/// have gone. Returns how long it took, `None` without a daemon pid.
pub fn settle(ctx: &Ctx, baseline: Option<ProcStat>) -> Option<f64> {
    let want = baseline?.threads;
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(3) {
        match ctx.stat() {
            Some(p) if p.threads > want => std::thread::sleep(Duration::from_millis(20)),
            _ => break,
        }
        watch::tick();
    }
    Some(t.elapsed().as_secs_f64())
}

fn rss_delta_bytes(before: Option<ProcStat>, after: Option<ProcStat>, n: u64) -> Option<f64> {
    let (b, a) = (before?, after?);
    Some((a.rss_kib as f64 - b.rss_kib as f64) * 1024.0 / n.max(1) as f64)
}

/// `hold`: N connections each holding a distinct resource.
pub fn hold(ctx: &Ctx, n: u64) -> Result<Report, String> {
    let target = ctx.target()?.clone();
    let mut r = Report::new("hold", String::new());
    let n = ctx.cap(n, &mut r);
    r.params = format!("n={n}");
    let probe_idle = probe(ctx, ctx.o.probe)?;
    let idle = ctx.stat();
    let mut held: Vec<(Stream, String)> = Vec::with_capacity(n as usize);
    let mut lat = Vec::with_capacity(n as usize);
    let mut buf = Vec::with_capacity(1024);
    let t0 = Instant::now();
    for i in 0..n {
        let name = ctx.name(&format!("h{i}"));
        let req = net::lock_request(&ctx.peerid, &name, true, true, 0);
        let t = Instant::now();
        let mut s = net::connect(&target).map_err(|e| format!("hold: connect {i}: {e}"))?;
        s.write_all(&req)
            .map_err(|e| format!("hold: send {i}: {e}"))?;
        buf.clear();
        let m =
            net::recv_message(&mut s, &mut buf).map_err(|e| format!("hold: answer {i}: {e}"))?;
        match net::answer_rc(&m, &[16]).map_err(|e| format!("hold: answer {i}: {e}"))? {
            0 => {}
            rc => return Err(format!("hold: {name} not granted at once (rc={rc})")),
        }
        lat.push(t.elapsed().as_nanos() as u64);
        held.push((s, name));
        watch::tick();
    }
    let acquire = t0.elapsed().as_secs_f64();
    let full = ctx.stat();
    let probe_hold = probe(ctx, ctx.o.probe)?;
    let t1 = Instant::now();
    let mut errors = 0u64;
    for (s, name) in held.iter_mut() {
        let ok = s.write_all(&net::unlock_message(name)).is_ok() && s.shutdown_write().is_ok();
        errors += u64::from(!ok);
        watch::tick();
    }
    for (mut s, _) in held {
        errors += u64::from(net::drain_eof(&mut s).is_err());
        watch::tick();
    }
    let release = t1.elapsed().as_secs_f64();
    let settle = settle(ctx, idle);
    let after = ctx.stat();
    r.ops = n;
    r.secs = acquire;
    r.lat = Some(Summary::of(&mut lat));
    r.proc = full;
    r.errors = errors;
    if let Some(b) = rss_delta_bytes(idle, full, n) {
        r.push("idle_rss_kib", Val::I(idle.map_or(0, |p| p.rss_kib) as i64));
        r.push("idle_threads", Val::I(idle.map_or(0, |p| p.threads) as i64));
        r.push("rss_per_res_b", Val::F(b));
    }
    if let Some(a) = after {
        r.push("rss_after_kib", Val::I(a.rss_kib as i64));
    }
    r.push("release_s", Val::F(release));
    if let Some(d) = settle {
        r.push("settle_s", Val::F(d));
    }
    if let (Some((io, is, _)), Some((ho, hs, _))) = (probe_idle, probe_hold) {
        r.push("probe_idle_ops_s", Val::F(io));
        r.push("probe_idle_p99_us", Val::F(is.p99_us));
        r.push("probe_hold_ops_s", Val::F(ho));
        r.push("probe_hold_p99_us", Val::F(hs.p99_us));
        r.push("probe_slowdown", Val::F(ratio(io, ho)));
    }
    Ok(r)
}

/// Asks whether a resource exists (create=0, wait=0) and returns the rc:
/// 0 (exists, granted and released again), 4 (exists, busy), 5 (absent).
fn exists_rc(ctx: &Ctx, name: &str) -> Result<i32, String> {
    let mut s = net::connect(ctx.target()?).map_err(|e| format!("connect: {e}"))?;
    let mut buf = Vec::new();
    let req = net::lock_request(&ctx.peerid, name, false, false, 0);
    match net::lock(&mut s, &mut buf, &req).map_err(|e| format!("lock {name}: {e}"))? {
        LockOutcome::Granted { .. } => {
            net::unlock_and_close(s, &net::unlock_message(name))
                .map_err(|e| format!("unlock {name}: {e}"))?;
            Ok(0)
        }
        LockOutcome::Refused(rc) => {
            let _ = s.shutdown_write();
            let _ = net::drain_eof(&mut s);
            Ok(rc)
        }
    }
}

/// `idle`: N resources kept alive by their idle lifespan after their clients left.
pub fn idle(ctx: &Ctx, n: u64, lifespan_ms: u64, clients: usize) -> Result<Report, String> {
    let target = ctx.target()?.clone();
    let probe_idle = probe(ctx, ctx.o.probe)?;
    let before = ctx.stat();
    let spec = LoadSpec {
        target,
        clients,
        names: Names::PerOp(ctx.name("i")),
        lifespan_ms,
        duration: None,
        count: Some(n),
        daemon_pid: None,
        peerid: ctx.peerid.clone(),
    };
    let l = run_load(&spec);
    let (first, last) = (l.first_done, l.last_done);
    let mut r = from_load("idle", format!("n={n} i={lifespan_ms}"), l);
    if r.errors > 0 {
        r.proc = ctx.stat();
        return Ok(r);
    }
    let last_name = ctx.name(&format!("i{}", n - 1));
    r.push("alive_rc", Val::I(i64::from(exists_rc(ctx, &last_name)?)));
    let checked = Instant::now();
    let created = ctx.stat();
    r.proc = created;
    if let Some(b) = rss_delta_bytes(before, created, n) {
        r.push(
            "idle_rss_kib",
            Val::I(before.map_or(0, |p| p.rss_kib) as i64),
        );
        r.push("rss_per_res_b", Val::F(b));
    }
    if let Some((ops, s, _)) = probe_idle {
        r.push("probe_idle_ops_s", Val::F(ops));
        r.push("probe_idle_p99_us", Val::F(s.p99_us));
    }
    if !ctx.o.expiry {
        return Ok(r);
    }
    // Sleep until the first resources are about to expire, then probe until
    // the last one (the existence check renewed it) is surely gone.
    let life = Duration::from_millis(lifespan_ms);
    let start = (first.unwrap_or(checked) + life).checked_sub(Duration::from_millis(500));
    let end = last.unwrap_or(checked).max(checked) + life + Duration::from_millis(1500);
    watch::arm(false);
    if let Some(s) = start {
        let now = Instant::now();
        if s > now {
            std::thread::sleep(s - now);
        }
    }
    watch::arm(true);
    let window = end
        .saturating_duration_since(Instant::now())
        .as_secs_f64()
        .max(0.5);
    let during = probe(ctx, window)?;
    let after = ctx.stat();
    if let Some((ops, s, _)) = during {
        r.push("expiry_ops_s", Val::F(ops));
        r.push("expiry_p99_us", Val::F(s.p99_us));
        if let Some((_, is, _)) = probe_idle {
            r.push("expiry_p99_ratio", Val::F(ratio(s.p99_us, is.p99_us)));
        }
    }
    if let Some(a) = after {
        r.push("rss_after_kib", Val::I(a.rss_kib as i64));
        r.push("threads_after", Val::I(a.threads as i64));
    }
    r.push("gone_rc", Val::I(i64::from(exists_rc(ctx, &last_name)?)));
    Ok(r)
}

/// Closes an epoll fd on drop.
struct Epoll(OwnedFd);

impl Epoll {
    fn new() -> Result<Epoll, String> {
        // SAFETY: epoll_create1 returns a new fd or -1.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(format!(
                "epoll_create1: {}",
                std::io::Error::last_os_error()
            ));
        }
        // SAFETY: fd is a fresh descriptor we own.
        Ok(Epoll(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    fn ctl(&self, op: i32, fd: i32, key: u64) -> Result<(), String> {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: key,
        };
        // SAFETY: valid epoll fd, valid pointer to a local event.
        if unsafe { libc::epoll_ctl(self.0.as_raw_fd(), op, fd, &mut ev) } != 0 {
            return Err(format!("epoll_ctl: {}", std::io::Error::last_os_error()));
        }
        Ok(())
    }

    fn wait(&self, evs: &mut [libc::epoll_event], timeout_ms: i32) -> Result<usize, String> {
        loop {
            // SAFETY: the buffer holds evs.len() events.
            let n = unsafe {
                libc::epoll_wait(
                    self.0.as_raw_fd(),
                    evs.as_mut_ptr(),
                    evs.len() as i32,
                    timeout_ms,
                )
            };
            if n >= 0 {
                return Ok(n as usize);
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(format!("epoll_wait: {e}"));
            }
        }
    }
}

/// `queue`: one holder and N-1 waiters on one resource; release, then each
/// waiter unlocks as soon as it is granted, until the chain has run through.
/// The latencies are the handoff times: from one unlock to the next grant.
pub fn queue(ctx: &Ctx, n: u64) -> Result<Report, String> {
    let target = ctx.target()?.clone();
    let mut r = Report::new("queue", String::new());
    let n = ctx.cap(n, &mut r).max(2);
    r.params = format!("n={n}");
    let name = ctx.name("q");
    let req = net::lock_request(&ctx.peerid, &name, true, true, 0);
    let unlock = net::unlock_message(&name);
    let mut buf = Vec::with_capacity(1024);
    let mut holder = net::connect(&target).map_err(|e| format!("queue: connect holder: {e}"))?;
    match net::lock(&mut holder, &mut buf, &req).map_err(|e| format!("queue: holder: {e}"))? {
        LockOutcome::Granted { queued: false } => {}
        other => return Err(format!("queue: holder not granted at once: {other:?}")),
    }
    let waiters = (n - 1) as usize;
    let mut conns: Vec<Option<Stream>> = Vec::with_capacity(waiters);
    let mut bufs: Vec<Vec<u8>> = Vec::with_capacity(waiters);
    let t0 = Instant::now();
    for i in 0..waiters {
        let mut s = net::connect(&target).map_err(|e| format!("queue: connect waiter {i}: {e}"))?;
        s.write_all(&req)
            .map_err(|e| format!("queue: send {i}: {e}"))?;
        let mut b = Vec::new();
        let m = net::recv_message(&mut s, &mut b).map_err(|e| format!("queue: answer {i}: {e}"))?;
        match net::answer_rc(&m, &[16]).map_err(|e| format!("queue: answer {i}: {e}"))? {
            1 => {}
            rc => {
                return Err(format!(
                    "queue: waiter {i} answered rc={rc}, expected 1 (enqueued)"
                ))
            }
        }
        conns.push(Some(s));
        bufs.push(b);
        watch::tick();
    }
    let setup = t0.elapsed().as_secs_f64();
    let full = ctx.stat();
    let ep = Epoll::new()?;
    for (i, s) in conns.iter().enumerate() {
        let fd = s.as_ref().map_or(-1, |s| s.as_raw_fd());
        ep.ctl(libc::EPOLL_CTL_ADD, fd, i as u64)?;
    }
    let mut granted = vec![false; waiters];
    let mut lat = Vec::with_capacity(waiters);
    let (mut n_granted, mut n_closed) = (0usize, 0usize);
    let mut evs = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
    let mut tmp = [0u8; 512];
    let timeout = ctx.o.io_timeout_ms.min(i32::MAX as u64) as i32;
    let t_rel = Instant::now();
    let mut t_last = t_rel;
    let mut first_grant = None;
    holder
        .write_all(&unlock)
        .and_then(|_| holder.shutdown_write())
        .map_err(|e| format!("queue: holder unlock: {e}"))?;
    while n_granted < waiters || n_closed < waiters {
        let k = ep.wait(&mut evs, timeout)?;
        if k == 0 {
            return Err(format!(
                "queue: nothing happened for {timeout} ms ({n_granted} of {waiters} granted)"
            ));
        }
        for ev in &evs[..k] {
            let i = ev.u64 as usize;
            let Some(s) = conns[i].as_mut() else { continue };
            let got = s.read(&mut tmp);
            match got {
                Ok(0) | Err(_) => {
                    if !granted[i] {
                        return Err(format!(
                            "queue: waiter {i} lost its connection before its grant"
                        ));
                    }
                    ep.ctl(libc::EPOLL_CTL_DEL, s.as_raw_fd(), i as u64)?;
                    conns[i] = None;
                    n_closed += 1;
                }
                Ok(m) => {
                    bufs[i].extend_from_slice(&tmp[..m]);
                    while let Some(msg) =
                        net::take_message(&mut bufs[i]).map_err(|e| format!("queue: {e}"))?
                    {
                        match net::answer_rc(&msg, &[16, 24, 32])
                            .map_err(|e| format!("queue: {e}"))?
                        {
                            1 => {}
                            0 if !granted[i] => {
                                // The handoff time: since the previous waiter's unlock
                                // (since the release for the first one).
                                let now = Instant::now();
                                lat.push((now - t_last).as_nanos() as u64);
                                first_grant.get_or_insert(now - t_rel);
                                granted[i] = true;
                                n_granted += 1;
                                s.write_all(&unlock)
                                    .and_then(|_| s.shutdown_write())
                                    .map_err(|e| format!("queue: unlock {i}: {e}"))?;
                                t_last = Instant::now();
                                watch::tick();
                            }
                            rc => return Err(format!("queue: waiter {i} got rc={rc}")),
                        }
                    }
                }
            }
        }
    }
    let chain = (t_last - t_rel).as_secs_f64();
    let closed = t_rel.elapsed().as_secs_f64();
    net::drain_eof(&mut holder).map_err(|e| format!("queue: holder close: {e}"))?;
    r.ops = waiters as u64;
    r.secs = chain;
    r.lat = Some(Summary::of(&mut lat));
    r.proc = full;
    r.push("waiters", Val::I(waiters as i64));
    r.push("setup_s", Val::F(setup));
    r.push("per_waiter_us", Val::F(chain * 1e6 / waiters as f64));
    r.push(
        "first_grant_us",
        Val::F(first_grant.map_or(f64::NAN, |d| d.as_secs_f64() * 1e6)),
    );
    r.push("all_closed_s", Val::F(closed));
    Ok(r)
}

/// Runs a command to completion and returns its wall time in ns.
fn run_timed(prog: &std::ffi::OsStr, args: &[std::ffi::OsString]) -> Result<u64, String> {
    let t = Instant::now();
    let mut child = Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", prog.to_string_lossy()))?;
    watch::set_child(child.id());
    let status = child.wait();
    watch::clear_child();
    let ns = t.elapsed().as_nanos() as u64;
    watch::tick();
    match status {
        Ok(st) if st.success() => Ok(ns),
        Ok(st) => Err(format!("{} {:?}: {st}", prog.to_string_lossy(), args)),
        Err(e) => Err(format!("wait {}: {e}", prog.to_string_lossy())),
    }
}

/// `cli`: N runs of `flom -s SOCKET -- COMMAND`, `COMMAND` and `flock FILE COMMAND`, interleaved.
pub fn cli(ctx: &Ctx, n: u64) -> Result<Report, String> {
    use std::ffi::OsString;
    let flom = ctx.o.flom.clone().ok_or("cli needs --flom PATH")?;
    let cmd: Vec<OsString> = if ctx.o.command.is_empty() {
        vec!["true".into()]
    } else {
        ctx.o.command.iter().map(OsString::from).collect()
    };
    let mut flom_args: Vec<OsString> = match ctx.target()? {
        Target::Unix(p) => vec!["-s".into(), p.into()],
        Target::Tcp(a) => vec![
            "-a".into(),
            a.ip().to_string().into(),
            "-p".into(),
            a.port().to_string().into(),
        ],
    };
    flom_args.push("--".into());
    flom_args.extend(cmd.iter().cloned());
    let (lock_file, temp) = match &ctx.o.lock_file {
        Some(f) => (f.clone(), false),
        None => (
            std::env::temp_dir().join(format!("flom-bench-{}.lock", std::process::id())),
            true,
        ),
    };
    if temp {
        watch::add_temp_file(lock_file.clone());
    }
    let mut flock_args: Vec<OsString> = vec![lock_file.clone().into()];
    flock_args.extend(cmd.iter().cloned());
    let runs: [(&str, OsString, Vec<OsString>); 3] = [
        ("flom", flom.into_os_string(), flom_args),
        ("true", cmd[0].clone(), cmd[1..].to_vec()),
        ("flock", "flock".into(), flock_args),
    ];
    // Warm-up: starts the daemon if flom does that, fills caches.
    for (label, prog, args) in &runs {
        run_timed(prog, args).map_err(|e| format!("cli: warm-up run of {label} failed: {e}"))?;
    }
    let mut lat: [Vec<u64>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    let mut errors = 0u64;
    let mut first_error = None;
    for _ in 0..n {
        for (k, (_, prog, args)) in runs.iter().enumerate() {
            match run_timed(prog, args) {
                Ok(ns) => lat[k].push(ns),
                Err(e) => {
                    errors += 1;
                    first_error.get_or_insert(e);
                }
            }
        }
    }
    if temp {
        watch::remove_temp_file(&lock_file);
    }
    let total: u64 = lat[0].iter().sum();
    let mut r = Report::new("cli", format!("n={n}"));
    r.ops = lat[0].len() as u64;
    r.secs = total as f64 / 1e9;
    let s: Vec<Summary> = lat.iter_mut().map(|v| Summary::of(v)).collect();
    r.lat = Some(s[0]);
    r.proc = ctx.stat();
    r.errors = errors;
    r.push("flom_mean_us", Val::F(s[0].mean_us));
    r.push("true_mean_us", Val::F(s[1].mean_us));
    r.push("flock_mean_us", Val::F(s[2].mean_us));
    r.push("flom_vs_flock", Val::F(ratio(s[0].mean_us, s[2].mean_us)));
    r.push("flom_vs_true", Val::F(ratio(s[0].mean_us, s[1].mean_us)));
    if let Some(e) = first_error {
        r.push("error", Val::S(e));
    }
    Ok(r)
}
