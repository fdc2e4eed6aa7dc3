//! Chaos soak: tens of `flom` clients against one daemon over all six
//! resource types for SOAK_SECONDS (default 60; `make soak` runs 300), with
//! random kill -9 of clients (flom and its command) and of commands alone,
//! and SIGSTOP/SIGCONT of clients. The commands record their entry and exit
//! in one log per resource; a checker reads the logs while the soak runs and
//! asserts: never two incompatible holders at once, sequence numbers and
//! timestamps never handed twice (a committed transactional number never
//! again), the promised FIFO order (raw-protocol waiters queued one after the
//! other on an EX resource are served in that order, the ones that vanish
//! skipped), nothing stuck at the end (every resource grantable at once, no
//! connection left), and the daemon's RSS and descriptor count flat.

mod common;

use common::*;
use flom::resource::LockMode;
use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The lifespan every client asks for: sequence and timestamp lockers live
/// through the whole soak (a new locker would restart the numbers).
const IDLE_MS: &str = "3600000";

// ---------------------------------------------------------------- random

/// xorshift64*: reproducible from SOAK_SEED.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
}

// ---------------------------------------------------------------- resources

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Simple,
    Numeric,
    Set,
    Hier,
    Seq,
    SeqTx,
    Stamp,
}

/// The resources of the soak, with the log file name their commands use.
const RESOURCES: &[(Kind, &str)] = &[
    (Kind::Simple, "soaksimple"),
    (Kind::Numeric, "soaknum[3]"),
    (Kind::Set, "red.green.blue"),
    (Kind::Hier, "/soak"),
    (Kind::Seq, "_s_soakseq[2]"),
    (Kind::SeqTx, "_S_soaktx[2]"),
    (Kind::Stamp, "_t_%s#fff[2]"),
];
const NUMERIC_CAP: u64 = 3;
const SET_ELEMENTS: [&str; 3] = ["red", "green", "blue"];
const HIER_PATHS: [&str; 5] = ["/soak", "/soak/a", "/soak/a/b", "/soak/c", "/soak/c/d"];

/// What the driver knows of one client.
#[derive(Clone, Debug)]
struct ClientInfo {
    kind: Kind,
    mode: LockMode,
    quantity: u64,
    path: String,
    killed: bool,
    /// flom's exit status (`Some(code)`, or `None` for a signal).
    code: Option<Option<i32>>,
}

struct Shared {
    dir: String,
    sock: String,
    stop: AtomicBool,
    clients: Mutex<HashMap<u64, ClientInfo>>,
    next_id: AtomicU64,
    failures: Mutex<Vec<String>>,
    stats: Stats,
}

#[derive(Default)]
struct Stats {
    started: AtomicU64,
    ok: AtomicU64,
    timeouts: AtomicU64,
    impossible: AtomicU64,
    killed_clients: AtomicU64,
    killed_commands: AtomicU64,
    stopped: AtomicU64,
    checks: AtomicU64,
    fifo_rounds: AtomicU64,
    fifo_checks: AtomicU64,
}

impl Shared {
    fn fail(&self, what: String) {
        eprintln!("soak: FAILURE: {what}");
        self.failures.lock().unwrap().push(what);
    }
    fn log_path(&self, kind: Kind) -> String {
        format!("{}/log-{kind:?}", self.dir)
    }
    /// Appends one line (a single write on an O_APPEND file, like the
    /// commands' `echo >>`).
    fn note(&self, kind: Kind, line: &str) {
        let mut f = OpenOptions::new()
            .append(true)
            .create(true)
            .open(self.log_path(kind))
            .unwrap();
        f.write_all(format!("{line}\n").as_bytes()).unwrap();
    }
}

fn kill(pid: i32, sig: i32) {
    // SAFETY: signalling a process (or process group, pid < 0) this test
    // started.
    unsafe { libc::kill(pid, sig) };
}

/// Whether the child `pid` has ended, without reaping it.
fn exited(pid: i32) -> bool {
    // SAFETY: waitid with WNOWAIT only looks at our own child's state.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let r = unsafe {
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    r == 0 && unsafe { info.si_pid() } != 0
}

/// The first child of `pid` (flom's command), if it has one.
fn child_of(pid: i32) -> Option<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

// ---------------------------------------------------------------- clients

/// One client: picks a resource and a request, runs `flom -- sh -c SCRIPT`,
/// maybe applies one chaos action, waits for the end (bounded) and checks
/// the exit status.
fn run_client(sh: &Shared, rng: &mut Rng, worker: usize) {
    let (kind, name) = *rng.pick(RESOURCES);
    let id = sh.next_id.fetch_add(1, Relaxed);
    let mut info = ClientInfo {
        kind,
        mode: LockMode::Exclusive,
        quantity: 1,
        path: name.to_string(),
        killed: false,
        code: None,
    };
    let mut args: Vec<String> = vec!["-s".into(), sh.sock.clone()];
    match kind {
        Kind::Simple => info.mode = *rng.pick(&LockMode::ALL),
        Kind::Hier => {
            info.mode = *rng.pick(&LockMode::ALL);
            info.path = rng.pick(&HIER_PATHS).to_string();
        }
        // One in 20 numeric requests asks for more than there is.
        Kind::Numeric => {
            let over = rng.below(20) == 0;
            info.quantity = 1 + rng.below(if over { 4 } else { 3 });
        }
        _ => {}
    }
    args.extend(["-r".into(), info.path.clone(), "-i".into(), IDLE_MS.into()]);
    args.extend(["-o".into(), "15000".into()]);
    if matches!(kind, Kind::Simple | Kind::Hier) {
        args.extend(["-l".into(), info.mode.short_name().into()]);
    }
    if kind == Kind::Numeric {
        args.extend(["-q".into(), info.quantity.to_string()]);
    }
    let log = sh.log_path(kind);
    let hold_ms = rng.below(40);
    // $0 is the client id, $1 the element flom appends (if any).
    let script = format!(
        "exec </dev/null >/dev/null 2>&1; echo \"E $0 $1\" >> {log}; sleep 0.0{hold_ms:02}; echo \"X $0\" >> {log}"
    );
    args.extend([
        "--".into(),
        "sh".into(),
        "-c".into(),
        script,
        id.to_string(),
    ]);
    sh.clients.lock().unwrap().insert(id, info.clone());

    let err_path = format!("{}/err-{worker}", sh.dir);
    let mut child = Command::new(BIN)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(&err_path).unwrap())
        .process_group(0)
        .spawn()
        .expect("spawn flom");
    sh.stats.started.fetch_add(1, Relaxed);
    let pid = child.id() as i32;

    // Chaos: 6% kill -9 of the client (group), 6% kill -9 of the command,
    // 8% SIGSTOP/SIGCONT of the client (group), the rest undisturbed.
    let action = rng.below(100);
    let delay = Duration::from_millis(rng.below(60));
    let mut killed_group = false;
    let mut killed_command = false;
    if action < 20 {
        std::thread::sleep(delay);
        if action < 6 {
            sh.note(kind, &format!("K {id}"));
            kill(-pid, libc::SIGKILL);
            killed_group = true;
            sh.stats.killed_clients.fetch_add(1, Relaxed);
        } else if action < 12 {
            if let Some(cmd) = child_of(pid) {
                sh.note(kind, &format!("K {id}"));
                kill(cmd, libc::SIGKILL);
                killed_command = true;
                sh.stats.killed_commands.fetch_add(1, Relaxed);
            }
        } else {
            kill(-pid, libc::SIGSTOP);
            std::thread::sleep(Duration::from_millis(50 + rng.below(250)));
            kill(-pid, libc::SIGCONT);
            sh.stats.stopped.fetch_add(1, Relaxed);
        }
    }

    let deadline = Instant::now() + Duration::from_secs(40);
    while !exited(pid) {
        if Instant::now() > deadline {
            kill(-pid, libc::SIGKILL);
            let _ = child.wait();
            sh.fail(format!("client {id} ({name}) did not end within 40 s"));
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    // Whatever the command left (a `sleep` after its shell was killed),
    // while the unreaped flom still reserves the group id.
    kill(-pid, libc::SIGKILL);
    let status = child.wait().unwrap();
    let code = status.code();
    {
        let mut c = sh.clients.lock().unwrap();
        let e = c.get_mut(&id).unwrap();
        e.killed = killed_group || killed_command;
        e.code = Some(code);
    }
    let mut err = String::new();
    let _ = File::open(&err_path).and_then(|mut f| f.read_to_string(&mut err));
    // A kill may come after the client has already ended by itself.
    let expected = match code {
        // (killed_command: the command may have ended just before the kill)
        Some(0) => {
            sh.stats.ok.fetch_add(1, Relaxed);
            true
        }
        Some(98) => {
            sh.stats.timeouts.fetch_add(1, Relaxed);
            true
        }
        Some(99) if kind == Kind::Numeric && info.quantity > NUMERIC_CAP => {
            sh.stats.impossible.fetch_add(1, Relaxed);
            err == "Resource will never satisfy the request, the lock cannot be obtained\n"
        }
        None => killed_group,
        Some(137) => killed_group || killed_command,
        _ => false,
    };
    if !expected {
        sh.fail(format!(
            "client {id} ({name} {:?} q{} {}) exited {code:?}: {err:?}",
            info.mode, info.quantity, info.path
        ));
    }
}

// ---------------------------------------------------------------- checker

/// Who is inside a resource right now, by the logs.
#[derive(Default)]
struct LogState {
    offset: u64,
    partial: String,
    inside: HashMap<u64, (String, ClientInfo)>,
    killed: HashSet<u64>,
    handed: HashSet<String>,
    committed: HashSet<String>,
    entries: u64,
}

fn conflicts(a: &ClientInfo, b: &ClientInfo) -> bool {
    let related = |p: &str, q: &str| p == q || q.starts_with(&format!("{p}/"));
    match a.kind {
        Kind::Simple => !a.mode.compatible_with(b.mode),
        Kind::Hier => {
            (related(&a.path, &b.path) || related(&b.path, &a.path))
                && !a.mode.compatible_with(b.mode)
        }
        _ => false,
    }
}

/// Applies the log lines written since the last call; every entry is
/// checked against everyone inside.
fn check_log(sh: &Shared, kind: Kind, st: &mut LogState) {
    let Ok(mut f) = File::open(sh.log_path(kind)) else {
        return;
    };
    f.seek(SeekFrom::Start(st.offset)).unwrap();
    let mut text = String::new();
    f.read_to_string(&mut text).unwrap();
    st.offset += text.len() as u64;
    let text = std::mem::take(&mut st.partial) + &text;
    let complete = text.rfind('\n').map_or(0, |i| i + 1);
    st.partial = text[complete..].to_string();
    for line in text[..complete].lines() {
        let mut w = line.split(' ');
        let (tag, id) = (
            w.next().unwrap_or(""),
            w.next().and_then(|i| i.parse::<u64>().ok()),
        );
        let Some(id) = id else {
            sh.fail(format!("{kind:?}: unreadable log line {line:?}"));
            continue;
        };
        let elem = w.next().unwrap_or("").to_string();
        match tag {
            "K" => {
                st.inside.remove(&id);
                st.killed.insert(id);
            }
            "X" => {
                if let Some((elem, _)) = st.inside.remove(&id) {
                    let committed = sh.clients.lock().unwrap().get(&id).map(|c| c.code);
                    // A transactional number is committed by a clean exit;
                    // the driver learns of it after the X line, so this is
                    // settled again in the final pass.
                    if kind == Kind::SeqTx && committed == Some(Some(Some(0))) {
                        st.committed.insert(elem);
                    }
                }
            }
            "E" => {
                if st.killed.contains(&id) {
                    continue; // started as it was being killed
                }
                let info = sh.clients.lock().unwrap().get(&id).cloned();
                let Some(info) = info else {
                    sh.fail(format!("{kind:?}: entry of unknown client {id}"));
                    continue;
                };
                check_entry(sh, kind, st, id, &elem, &info);
                st.entries += 1;
                st.inside.insert(id, (elem, info));
            }
            _ => sh.fail(format!("{kind:?}: unreadable log line {line:?}")),
        }
    }
}

fn check_entry(sh: &Shared, kind: Kind, st: &mut LogState, id: u64, elem: &str, info: &ClientInfo) {
    let checks = &sh.stats.checks;
    let others: Vec<&(String, ClientInfo)> = st.inside.values().collect();
    for (other_elem, other) in &others {
        checks.fetch_add(1, Relaxed);
        if conflicts(info, other) {
            sh.fail(format!(
                "{kind:?}: client {id} entered {} {:?} while {} {:?} was inside",
                info.path, info.mode, other.path, other.mode
            ));
        }
        if matches!(kind, Kind::Set | Kind::SeqTx) && other_elem == elem {
            sh.fail(format!("{kind:?}: element {elem} held twice at once"));
        }
    }
    checks.fetch_add(1, Relaxed);
    let held: u64 = others.iter().map(|(_, o)| o.quantity).sum();
    let limit = match kind {
        Kind::Numeric => NUMERIC_CAP,
        Kind::Set => 3,
        Kind::Seq | Kind::SeqTx | Kind::Stamp => 2,
        _ => u64::MAX,
    };
    if held + info.quantity > limit {
        sh.fail(format!(
            "{kind:?}: {} held + {} entering > {limit}",
            held, info.quantity
        ));
    }
    match kind {
        Kind::Set if !SET_ELEMENTS.contains(&elem) => {
            sh.fail(format!("set element {elem:?} is not one of the set"))
        }
        Kind::Seq | Kind::Stamp => {
            checks.fetch_add(1, Relaxed);
            if elem.is_empty() || !st.handed.insert(elem.to_string()) {
                sh.fail(format!("{kind:?}: value {elem:?} handed twice"));
            }
        }
        Kind::SeqTx => {
            checks.fetch_add(1, Relaxed);
            if st.committed.contains(elem) {
                sh.fail(format!(
                    "committed transactional number {elem} handed again"
                ));
            }
        }
        _ => {}
    }
}

/// The checker thread: all logs, every 200 ms, until the soak stops.
fn checker(sh: Arc<Shared>) -> HashMap<&'static str, LogState> {
    let mut states: HashMap<&'static str, LogState> = HashMap::new();
    loop {
        let stopping = sh.stop.load(Relaxed);
        for &(kind, name) in RESOURCES {
            check_log(&sh, kind, states.entry(name).or_default());
        }
        if stopping {
            return states;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// After the soak: the transactional log replayed with every client's
/// final status (a committed number is never handed after its commit).
fn final_transactional_pass(sh: &Shared) -> u64 {
    let text = std::fs::read_to_string(sh.log_path(Kind::SeqTx)).unwrap_or_default();
    let clients = sh.clients.lock().unwrap();
    let mut held: HashMap<u64, String> = HashMap::new();
    let mut committed = HashSet::new();
    let mut n = 0;
    for line in text.lines() {
        let mut w = line.split(' ');
        let (tag, id) = (w.next().unwrap(), w.next().unwrap().parse::<u64>().unwrap());
        match tag {
            "E" => {
                let elem = w.next().unwrap_or("").to_string();
                n += 1;
                if committed.contains(&elem) {
                    sh.fail(format!(
                        "committed transactional number {elem} handed again"
                    ));
                }
                held.insert(id, elem);
            }
            "X" => {
                let c = &clients[&id];
                if let (Some(elem), false, Some(Some(0))) = (held.remove(&id), c.killed, c.code) {
                    committed.insert(elem);
                }
            }
            _ => {
                held.remove(&id);
            }
        }
    }
    n
}

// ---------------------------------------------------------------- FIFO

/// One FIFO round on an EX resource over the raw protocol: a holder, then
/// waiters queued one after the other (each waits for its "queued" answer
/// before the next connects), a few of them vanish, the holder leaves;
/// the rest must be granted one at a time, in queue order.
fn fifo_round(sh: &Shared, rng: &mut Rng) {
    let name = "soakfifo";
    let bound = Duration::from_secs(10);
    let mut holder = Raw::connect(&sh.sock);
    holder.send_ok(&lock_ex(name));
    if holder.expect_msg(bound) != answer16(0) {
        return sh.fail("FIFO holder not granted".into());
    }
    let n = 4 + rng.below(8) as usize;
    let mut waiters: Vec<Raw> = Vec::new();
    for _ in 0..n {
        let mut w = Raw::connect(&sh.sock);
        w.send_ok(&lock_ex(name));
        if w.expect_msg(bound) != answer16(1) {
            return sh.fail("FIFO waiter not queued".into());
        }
        waiters.push(w);
    }
    for _ in 0..rng.below(3) {
        let i = rng.below(waiters.len() as u64) as usize;
        drop(waiters.remove(i)); // vanishes from the queue
    }
    holder.send_ok(&unlock_msg(name, false));
    drop(holder);
    for i in 0..waiters.len() {
        let got = waiters[i].expect_msg(bound);
        sh.stats.fifo_checks.fetch_add(1, Relaxed);
        if got != answer24(0) {
            return sh.fail(format!("FIFO waiter {i} got {got:?}"));
        }
        if !waiters[i + 1..].iter().all(|w| w.nothing_pending()) {
            return sh.fail(format!("FIFO: a waiter behind {i} was granted with it"));
        }
        waiters[i].send_ok(&unlock_msg(name, false));
    }
    sh.stats.fifo_rounds.fetch_add(1, Relaxed);
}

// ---------------------------------------------------------------- daemon

fn rss_kib(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn fd_count(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn chaos_soak() {
    let seconds = env_u64("SOAK_SECONDS", 60);
    let workers = env_u64("SOAK_CLIENTS", 24) as usize;
    let seed = env_u64("SOAK_SEED", 0x5eed_f10a ^ u64::from(std::process::id()));
    let env = Env::new("soak");
    let daemon = env.start_daemon();
    let idle_fds = fd_count(daemon);
    let idle_rss = rss_kib(daemon);
    let sh = Arc::new(Shared {
        dir: env.dir.to_string_lossy().into_owned(),
        sock: env.sock.clone(),
        stop: AtomicBool::new(false),
        clients: Mutex::new(HashMap::new()),
        next_id: AtomicU64::new(1),
        failures: Mutex::new(Vec::new()),
        stats: Stats::default(),
    });
    eprintln!("soak: {seconds} s, {workers} clients at a time, seed {seed:#x}, daemon {daemon}");

    let start = Instant::now();
    let end = start + Duration::from_secs(seconds);
    let mut threads = Vec::new();
    for w in 0..workers {
        let sh = sh.clone();
        threads.push(std::thread::spawn(move || {
            let mut rng = Rng(seed ^ (w as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
            while Instant::now() < end && sh.failures.lock().unwrap().len() < 20 {
                run_client(&sh, &mut rng, w);
            }
        }));
    }
    let fifo = {
        let sh = sh.clone();
        std::thread::spawn(move || {
            let mut rng = Rng(seed.rotate_left(17) | 1);
            while Instant::now() < end {
                fifo_round(&sh, &mut rng);
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let check = {
        let sh = sh.clone();
        std::thread::spawn(move || checker(sh))
    };

    // Daemon figures under load: one third in, and at the end of the load.
    let mut samples = Vec::new();
    let mut peak_fds = 0;
    let mut peak_rss = 0;
    while Instant::now() < end {
        std::thread::sleep(Duration::from_millis(500));
        let (r, f) = (rss_kib(daemon), fd_count(daemon));
        peak_rss = peak_rss.max(r);
        peak_fds = peak_fds.max(f);
        samples.push((start.elapsed(), r));
    }
    let third = samples
        .iter()
        .find(|(t, _)| t.as_secs() >= seconds / 3)
        .map_or(idle_rss, |s| s.1);
    let late = samples.last().map_or(idle_rss, |s| s.1);
    for t in threads {
        t.join().expect("client worker");
    }
    fifo.join().expect("FIFO prober");
    sh.stop.store(true, Relaxed);
    let states = check.join().expect("checker");
    let tx_entries = final_transactional_pass(&sh);

    // Nothing stuck: no holder left inside, no connection left, and every
    // resource grantable at once at its full capacity.
    for (name, st) in &states {
        if !st.inside.is_empty() {
            sh.fail(format!(
                "{name}: still inside at the end: {:?}",
                st.inside.keys()
            ));
        }
    }
    wait_until(T, "the daemon to have no connection left", || {
        conn_count(&env.sock) == 0
    });
    for &(kind, name) in RESOURCES.iter().chain([(Kind::Simple, "soakfifo")].iter()) {
        let mut args = vec!["-r", name, "-o", "0", "-i", IDLE_MS];
        match kind {
            Kind::Numeric => args.extend(["-q", "3"]),
            Kind::Simple | Kind::Hier => args.extend(["-l", "EX"]),
            _ => {}
        }
        args.extend(["--", "true"]);
        let out = env.flom(&args);
        if out.code() != Some(0) {
            sh.fail(format!(
                "{name} not grantable at once at the end: {}",
                out.describe()
            ));
        }
    }
    let end_fds = fd_count(daemon);
    let end_rss = rss_kib(daemon);

    let s = &sh.stats;
    let entries: u64 = states.values().map(|s| s.entries).sum();
    eprintln!(
        "soak: {} clients ({} ok, {} timed out, {} impossible), {} clients and {} commands killed, {} stopped/continued",
        s.started.load(Relaxed),
        s.ok.load(Relaxed),
        s.timeouts.load(Relaxed),
        s.impossible.load(Relaxed),
        s.killed_clients.load(Relaxed),
        s.killed_commands.load(Relaxed),
        s.stopped.load(Relaxed)
    );
    eprintln!(
        "soak: {entries} entries, {} invariant checks, {tx_entries} transactional entries replayed, {} FIFO rounds ({} grants in order)",
        s.checks.load(Relaxed),
        s.fifo_rounds.load(Relaxed),
        s.fifo_checks.load(Relaxed)
    );
    eprintln!(
        "soak: daemon RSS idle {idle_rss} KiB, at 1/3 {third} KiB, at the end of the load {late} KiB, peak {peak_rss} KiB, idle after {end_rss} KiB; fds idle {idle_fds}, peak {peak_fds}, idle after {end_fds}"
    );
    if end_fds != idle_fds {
        sh.fail(format!(
            "daemon descriptors: {idle_fds} idle before, {end_fds} idle after"
        ));
    }
    if late > third + third / 4 + 1024 {
        sh.fail(format!(
            "daemon RSS grew under the same load: {third} KiB -> {late} KiB"
        ));
    }
    if end_rss > peak_rss.max(idle_rss) + 1024 {
        sh.fail(format!(
            "daemon RSS after the load {end_rss} KiB above its peak {peak_rss} KiB"
        ));
    }
    if s.started.load(Relaxed) < workers as u64 || entries == 0 || s.fifo_rounds.load(Relaxed) == 0
    {
        sh.fail("the soak did not get going".into());
    }
    let failures = sh.failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "{} soak failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The checker itself: logs with an incompatible overlap, a duplicate
/// sequence number, an over-capacity numeric entry and a reissued
/// committed number are each reported; a clean log is not.
#[test]
fn checker_reports_each_kind_of_violation() {
    let env = Env::new("soak-checker");
    let sh = Shared {
        dir: env.dir.to_string_lossy().into_owned(),
        sock: env.sock.clone(),
        stop: AtomicBool::new(false),
        clients: Mutex::new(HashMap::new()),
        next_id: AtomicU64::new(1),
        failures: Mutex::new(Vec::new()),
        stats: Stats::default(),
    };
    let client = |kind, mode, quantity, path: &str, code| ClientInfo {
        kind,
        mode,
        quantity,
        path: path.to_string(),
        killed: false,
        code: Some(Some(code)),
    };
    let mut clients = sh.clients.lock().unwrap();
    clients.insert(1, client(Kind::Simple, LockMode::Exclusive, 1, "s", 0));
    clients.insert(2, client(Kind::Simple, LockMode::ProtectedRead, 1, "s", 0));
    clients.insert(
        3,
        client(Kind::Hier, LockMode::ProtectedRead, 1, "/soak/a", 0),
    );
    clients.insert(
        4,
        client(Kind::Hier, LockMode::ProtectedWrite, 1, "/soak/a/b", 0),
    );
    clients.insert(5, client(Kind::Hier, LockMode::Exclusive, 1, "/soak/c", 0));
    clients.insert(6, client(Kind::Seq, LockMode::Exclusive, 1, "q", 0));
    clients.insert(7, client(Kind::Seq, LockMode::Exclusive, 1, "q", 0));
    clients.insert(8, client(Kind::Numeric, LockMode::Exclusive, 2, "n", 0));
    clients.insert(9, client(Kind::Numeric, LockMode::Exclusive, 2, "n", 0));
    clients.insert(10, client(Kind::SeqTx, LockMode::Exclusive, 1, "t", 0));
    clients.insert(11, client(Kind::SeqTx, LockMode::Exclusive, 1, "t", 0));
    drop(clients);
    let cases: &[(Kind, &str, usize)] = &[
        (Kind::Simple, "E 1 \nX 1\nE 2 \nX 2\n", 0),
        (Kind::Simple, "E 1 \nE 2 \nX 1\nX 2\n", 1),
        (Kind::Simple, "E 1 \nK 1\nE 2 \nX 2\n", 0),
        (Kind::Hier, "E 3 \nE 5 \nX 3\nX 5\n", 0),
        (Kind::Hier, "E 3 \nE 4 \nX 3\nX 4\n", 1),
        (Kind::Seq, "E 6 1\nX 6\nE 7 1\nX 7\n", 1),
        (Kind::Numeric, "E 8 \nE 9 \nX 8\nX 9\n", 1),
        (Kind::SeqTx, "E 10 1\nX 10\nE 11 1\nX 11\n", 1),
    ];
    for (kind, log, want) in cases {
        let _ = std::fs::remove_file(sh.log_path(*kind));
        std::fs::write(sh.log_path(*kind), log).unwrap();
        sh.failures.lock().unwrap().clear();
        check_log(&sh, *kind, &mut LogState::default());
        if *kind == Kind::SeqTx {
            sh.failures.lock().unwrap().clear();
            final_transactional_pass(&sh);
        }
        let got = sh.failures.lock().unwrap().len();
        assert_eq!(
            got,
            *want,
            "{kind:?} log {log:?}: {:?}",
            sh.failures.lock().unwrap()
        );
    }
}
