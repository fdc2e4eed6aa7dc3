//! Scale edges: many waiters on every resource type (each served once, in
//! queue order; SCALE_WAITERS, default 300, 10000 for the full run),
//! connections beyond the daemon's descriptor limit (no spin, service goes
//! on, the ones left in the backlog are served once descriptors free up),
//! 50 simultaneous first clients (one daemon, all succeed), and clients
//! arriving just as the daemon's lifespan ends (none fails).

mod common;

use common::*;
use flom::protocol::{encode_lock_request, encode_unlock, parse_message, LockRequestArgs};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Raises our own descriptor limit to the hard limit; returns the soft one.
#[allow(clippy::unnecessary_cast)] // rlim_t is u32 on 32-bit targets
fn raise_own_fd_limit() -> u64 {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: get/setrlimit on our own process with a valid struct.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut r);
        r.rlim_cur = r.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut r);
    }
    r.rlim_cur as u64
}

fn lock_request(name: &str) -> String {
    let mut out = String::new();
    encode_lock_request(
        &mut out,
        &LockRequestArgs {
            peerid: &machine_id(),
            name,
            mode: 5,
            wait: true,
            quantity: 1,
            create: true,
            lifespan: 0,
        },
    );
    out
}

fn unlock(name: &str) -> String {
    let mut out = String::new();
    encode_unlock(&mut out, name, false);
    out
}

/// (rc, element) of one answer.
#[track_caller]
fn answer(raw: &mut Raw, step: i32) -> (i32, Option<String>) {
    let m = raw.expect_msg(T);
    let msg = parse_message(m.as_bytes()).unwrap_or_else(|e| panic!("{e:?}: {m}"));
    assert_eq!(msg.step, step, "{m}");
    let a = msg.answer.unwrap_or_else(|| panic!("no answer in {m}"));
    (a.rc, a.element)
}

/// `holders` connections take all of `name`, then `n` waiters queue one
/// after the other (each waits for its "queued" answer); the first holder
/// leaves and each waiter, once granted, leaves too: every waiter must be
/// granted exactly once, in queue order, with nobody behind it granted at
/// the same time. Returns the elements handed out, in grant order.
fn waiters_in_order(env: &Env, name: &str, holders: usize, n: usize) -> Vec<Option<String>> {
    let req = lock_request(name);
    let mut held: Vec<Raw> = (0..holders)
        .map(|_| {
            let mut h = Raw::connect(&env.sock);
            h.send_ok(&req);
            assert_eq!(answer(&mut h, 16).0, 0, "{name}: holder not granted");
            h
        })
        .collect();
    let started = Instant::now();
    let mut waiters: Vec<Option<Raw>> = Vec::with_capacity(n);
    for i in 0..n {
        let mut w = Raw::connect(&env.sock);
        w.send_ok(&req);
        assert_eq!(answer(&mut w, 16).0, 1, "{name}: waiter {i} not queued");
        waiters.push(Some(w));
    }
    let queued = started.elapsed();
    let first = held.remove(0);
    let mut first = first;
    first.send_ok(&unlock(name));
    drop(first);
    let mut elements = Vec::with_capacity(n);
    for i in 0..n {
        let mut w = waiters[i].take().expect("each waiter served once");
        let (rc, element) = answer(&mut w, 24);
        assert_eq!(rc, 0, "{name}: waiter {i}");
        if let Some(Some(next)) = waiters.get(i + 1) {
            assert!(
                next.nothing_pending(),
                "{name}: waiter {} granted with {i}",
                i + 1
            );
        }
        elements.push(element);
        w.send_ok(&unlock(name));
    }
    eprintln!(
        "{name}: {n} waiters queued in {queued:?}, all served in order after {:?}",
        started.elapsed()
    );
    drop(waiters);
    drop(held);
    elements
}

#[test]
fn many_waiters_of_every_type_are_served_once_in_order() {
    let n = env_usize("SCALE_WAITERS", 300);
    let limit = raise_own_fd_limit();
    assert!(
        limit as usize > n + 64,
        "descriptor limit {limit} too low for {n} waiters"
    );
    let env = Env::new("waiters");
    env.start_daemon();
    // One holder leaves room for nobody: every waiter waits.
    waiters_in_order(&env, "simplew", 1, n);
    waiters_in_order(&env, "numw[1]", 1, n);
    waiters_in_order(&env, "/hier/w", 1, n);
    // The set's second element stays held: one element for the queue.
    let elems = waiters_in_order(&env, "left.right", 2, n);
    assert!(
        elems.iter().all(|e| e.as_deref() == Some("left")),
        "set elements {elems:?}"
    );
    // Numbers and timestamps: each handed once, increasing in grant order.
    let seq = waiters_in_order(&env, "_s_seqw[1]", 1, n);
    let nums: Vec<u64> = seq
        .iter()
        .map(|e| e.as_deref().unwrap().parse().unwrap())
        .collect();
    assert!(
        nums.windows(2).all(|w| w[1] == w[0] + 1),
        "sequence {nums:?}"
    );
    let ts = waiters_in_order(&env, "_t_%s#ffffff[1]", 1, n);
    let stamps: Vec<f64> = ts
        .iter()
        .map(|e| e.as_deref().unwrap().parse().unwrap())
        .collect();
    assert!(
        stamps.windows(2).all(|w| w[1] > w[0]),
        "timestamps not increasing"
    );
}

/// utime + stime of `pid`, in clock ticks.
fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let f: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

fn fd_count(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// The daemon's limit set to its descriptors + 20; 40 clients each hold a
/// resource of their own: 20 are served, 20 wait in the listen backlog.
/// The daemon does not spin; a served holder still unlocks and a busy
/// resource still answers busy; as holders leave, the backlog is served;
/// finally everything is free.
#[test]
fn connections_beyond_the_descriptor_limit() {
    let env = Env::new("fdlimit");
    let pid = env.start_daemon();
    let base = fd_count(pid);
    let room = 20;
    let lim = libc::rlimit {
        rlim_cur: (base + room) as libc::rlim_t,
        rlim_max: (base + room) as libc::rlim_t,
    };
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: prlimit on the daemon this test started.
    let r = unsafe { libc::prlimit(pid, libc::RLIMIT_NOFILE, &lim, &mut old) };
    assert_eq!(r, 0, "prlimit: {}", std::io::Error::last_os_error());
    let mut conns: Vec<Option<(String, Raw)>> = (0..2 * room)
        .map(|i| {
            let name = format!("fd{i}");
            let mut c = Raw::connect(&env.sock);
            c.send_ok(&lock_request(&name));
            Some((name, c))
        })
        .collect();
    // Those the daemon accepted are granted; the rest get nothing yet.
    let mut served = Vec::new();
    for (i, (_, c)) in conns.iter_mut().flatten().enumerate() {
        if let Recv::Msg(m) = c.recv(Duration::from_millis(if i < room - 2 {
            10_000
        } else {
            300
        })) {
            assert_eq!(m, answer16(0), "client {i}");
            served.push(i);
        }
    }
    assert!(
        served.len() >= room - 2 && served.len() <= room,
        "served {served:?}"
    );
    assert_eq!(fd_count(pid), base + room, "the daemon is not at its limit");
    let before = cpu_ticks(pid);
    std::thread::sleep(Duration::from_millis(1000)); // measuring CPU use
    let spin = cpu_ticks(pid) - before;
    assert!(
        spin < 20,
        "daemon used {spin} ticks in 1 s while out of descriptors"
    );
    // Service goes on: each served holder leaves, freeing a descriptor for
    // one waiting in the backlog, which then gets its answer.
    let waiting: Vec<usize> = (0..2 * room).filter(|i| !served.contains(i)).collect();
    for (k, &i) in served.iter().enumerate() {
        let (name, mut c) = conns[i].take().unwrap();
        c.send_ok(&unlock(&name));
        drop(c);
        if let Some(&w) = waiting.get(k) {
            let got = conns[w].as_mut().unwrap().1.expect_msg(T);
            assert_eq!(got, answer16(0), "backlog client {w}");
        }
    }
    eprintln!(
        "fd limit {}: {} served at once, {} in the backlog, {spin} CPU ticks in 1 s at the limit",
        base + room,
        served.len(),
        waiting.len()
    );
    drop(conns);
    wait_until(T, "all connections gone", || conn_count(&env.sock) == 0);
    env.assert_free("fd0");
}

/// 50 clients start at once with no daemon: exactly one daemon is started
/// and every client succeeds.
#[test]
fn fifty_simultaneous_first_clients() {
    let env = Env::new("fifty");
    let n = 50;
    let barrier = Arc::new(Barrier::new(n));
    let log = env.path("LOG");
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let (barrier, sock, log) = (barrier.clone(), env.sock.clone(), log.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let script = format!("echo {i} >> {log}");
                spawn_flom(&["-s", &sock, "-d", "3000", "--", "sh", "-c", &script])
                    .wait(Duration::from_secs(60))
            })
        })
        .collect();
    let started = Instant::now();
    let outs: Vec<Out> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    for out in &outs {
        out.expect_code(0).expect_stdout("").expect_stderr("");
    }
    let all = started.elapsed();
    assert_eq!(lines(&log).len(), n, "every command ran once");
    wait_until(T, "a single daemon process for the socket", || {
        detached_processes_for(&env.sock).len() == 1
    });
    let pid = the_daemon(&env.sock);
    env.track(pid);
    assert_eq!(detached_processes_for(&env.sock), [pid]);
    eprintln!("50 simultaneous first clients: one daemon, all exit 0 within {all:?}");
}

/// Clients arrive just as the daemon's lifespan ends: the time from a
/// client's end to the daemon's exit is measured once, then each client
/// waits that long, give or take up to 60 ms, after the previous one (before,
/// at and after the daemon's end): every one succeeds, whether it meets the
/// exiting daemon or starts the next.
#[test]
fn clients_arriving_as_the_lifespan_ends() {
    let env = Env::new("lifespan-edge");
    let run = || {
        env.flom(&["-d", "200", "--", "true"])
            .expect_code(0)
            .expect_stdout("")
            .expect_stderr("");
    };
    run();
    let ended = Instant::now();
    wait_until(T, "the daemon's end", || !exists(&env.sock));
    let life = ended.elapsed();
    let mut restarts = 0;
    for i in 0..12u32 {
        run();
        let pids = daemon_pids(&env.sock);
        std::thread::sleep(
            (life + Duration::from_millis(10) * i).saturating_sub(Duration::from_millis(60)),
        );
        if !pids.is_empty() && daemon_pids(&env.sock) != pids {
            restarts += 1;
        }
    }
    wait_until(T, "the last daemon's end", || !exists(&env.sock));
    eprintln!(
        "daemon ends {life:?} after its client; 12 clients arriving around that moment: all exit 0 ({restarts} found it gone)"
    );
}
