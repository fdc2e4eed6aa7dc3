//! Helpers of the resource-type tests (`resource_types.rs`,
//! `type_vectors.rs`): scenes of
//! `flom` clients whose command logs when it got the lock (with the element
//! flom appended) and blocks on its own FIFO until the test releases it,
//! taps (one-connection relays to the daemon recording its answers, to await
//! "queued" or "parked"), and local-time
//! formatting to check timestamp elements.

use super::*;
use std::cell::Cell;
use std::ffi::CString;
use std::io::{Read, Write};
use std::os::unix::io::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

pub const BUSY: &str = "Resource already locked, the lock cannot be obtained\n";
pub const CANT_WAIT: &str =
    "The resource could be available in the future, but the requester can't wait\n";
pub const IMPOSSIBLE: &str =
    "Resource will never satisfy the request, the lock cannot be obtained\n";
/// The sentence of a timestamp format the daemon refuses.
pub fn refused_format(format: &str) -> String {
    format!("flom: the daemon refused the timestamp format '{format}' of resource '_t_{format}[1]': it must contain a field that changes at least once an hour (%S, %M, %H, %T, %s, #f ... #ffffff); fix the format.\n")
}

pub fn timeout_msg(ms: u32) -> String {
    format!("The lock was not obtained because timeout ({ms} milliseconds) expired\n")
}

/// The `sh -c` script of a client named `name` (run as `sh -c SCRIPT NAME
/// [ELEMENT]`): logs `NAME start` followed by every argument flom appended
/// (the element), blocks until `fifo` is released (if any), logs `NAME end`
/// and exits `rc`.
pub fn client_script(log: &str, name: &str, fifo: Option<&str>, rc: i32) -> String {
    let wait = fifo
        .map(|f| format!("cat {f} >/dev/null; "))
        .unwrap_or_default();
    format!(
        "echo \"{name} start${{*:+ $*}}\" >> {log}; {wait}echo \"{name} end\" >> {log}; exit {rc}"
    )
}

/// A set of `flom` clients of one test sharing one log file.
pub struct Scene<'a> {
    pub env: &'a Env,
    pub log: String,
    /// Options naming the daemon (`-s SOCK`, or `-a ADDR -p PORT`).
    base: Vec<String>,
    fifos: Cell<usize>,
}

/// One `flom` client of a scene.
pub struct Client {
    pub name: String,
    pub bg: Bg,
    fifo: Option<String>,
    done: bool,
    /// The tap the client talks through, if any.
    pub tap: Option<Tap>,
}

impl<'a> Scene<'a> {
    /// Clients of the daemon on the env's socket.
    pub fn new(env: &'a Env) -> Scene<'a> {
        Scene::with_base(env, &["-s", &env.sock])
    }

    /// Clients using `base` to reach the daemon.
    pub fn with_base(env: &'a Env, base: &[&str]) -> Scene<'a> {
        Scene {
            env,
            log: env.path("log"),
            base: base.iter().map(|s| s.to_string()).collect(),
            fifos: Cell::new(0),
        }
    }

    fn spawn(&self, name: &str, args: &[&str], hold: bool, rc: i32) -> Client {
        self.spawn_on(None, name, args, hold, rc)
    }

    fn spawn_on(&self, tap: Option<Tap>, name: &str, args: &[&str], hold: bool, rc: i32) -> Client {
        let fifo = if hold {
            let n = self.fifos.get();
            self.fifos.set(n + 1);
            Some(self.env.fifo(&format!("fifo-{name}-{n}")))
        } else {
            None
        };
        let script = client_script(&self.log, name, fifo.as_deref(), rc);
        let mut a: Vec<&str> = match &tap {
            Some(t) => vec!["-s", t.path.as_str()],
            None => self.base.iter().map(String::as_str).collect(),
        };
        a.extend_from_slice(args);
        a.extend(["--", "sh", "-c", &script, name]);
        Client {
            name: name.to_string(),
            bg: spawn_flom(&a),
            fifo,
            done: false,
            tap,
        }
    }

    /// A client whose request is first answered `rc` (1: queued, 2: parked
    /// in the incubator): it talks to the daemon through a tap, and this
    /// returns once the daemon sent that answer. `hold`: the command then
    /// holds the lock until released.
    #[track_caller]
    pub fn waiting(&self, name: &str, args: &[&str], hold: bool, rc: i32) -> Client {
        let tap = Tap::new(self.env);
        let c = self.spawn_on(Some(tap), name, args, hold, 0);
        c.tap.as_ref().unwrap().wait_first_rc(rc);
        c
    }

    /// `waiting` for a command that ends with `rc_cmd`.
    #[track_caller]
    pub fn waiting_rc(&self, name: &str, args: &[&str], rc: i32, rc_cmd: i32) -> Client {
        let tap = Tap::new(self.env);
        let c = self.spawn_on(Some(tap), name, args, true, rc_cmd);
        c.tap.as_ref().unwrap().wait_first_rc(rc);
        c
    }

    /// A client that holds the lock until released.
    pub fn holder(&self, name: &str, args: &[&str]) -> Client {
        self.spawn(name, args, true, 0)
    }

    /// A holder whose command exits `rc` once released.
    pub fn holder_rc(&self, name: &str, args: &[&str], rc: i32) -> Client {
        self.spawn(name, args, true, rc)
    }

    /// A client whose command ends at once.
    pub fn quick(&self, name: &str, args: &[&str]) -> Client {
        self.spawn(name, args, false, 0)
    }

    /// Runs a quick client to its end.
    #[track_caller]
    pub fn run(&self, name: &str, args: &[&str]) -> Out {
        self.spawn(name, args, false, 0).bg.wait(T)
    }

    /// A holder, awaited until its command runs; returns it and its element.
    #[track_caller]
    pub fn granted(&self, name: &str, args: &[&str]) -> (Client, String) {
        let c = self.holder(name, args);
        let e = self.started(name);
        (c, e)
    }

    pub fn lines(&self) -> Vec<String> {
        lines(&self.log)
    }

    /// The element logged by `name` when it started, if it did.
    pub fn element_of(&self, name: &str) -> Option<String> {
        let start = format!("{name} start");
        self.lines().iter().find_map(|l| {
            if *l == start {
                Some(String::new())
            } else {
                l.strip_prefix(&format!("{start} ")).map(str::to_string)
            }
        })
    }

    pub fn has_started(&self, name: &str) -> bool {
        self.element_of(name).is_some()
    }

    /// Waits until `name`'s command runs; returns the element it got ("" for
    /// resources without elements).
    #[track_caller]
    pub fn started(&self, name: &str) -> String {
        let mut e = None;
        wait_until(T, &format!("{name} to get the lock ({})", self.log), || {
            e = self.element_of(name);
            e.is_some()
        });
        e.unwrap()
    }

    /// The elements logged by the `start` lines, in log order.
    pub fn elements(&self) -> Vec<String> {
        self.lines()
            .iter()
            .filter_map(|l| {
                let (_, rest) = l.split_once(" start")?;
                Some(rest.trim_start().to_string())
            })
            .collect()
    }
}

impl Client {
    /// Lets the command end (when it is blocked on its FIFO).
    #[track_caller]
    pub fn release(&self) {
        if let Some(f) = &self.fifo {
            release(f);
        }
    }

    /// Releases the command and waits for flom to exit with `code`.
    #[track_caller]
    pub fn end(&mut self, code: i32) -> Out {
        assert!(!self.done, "{} ended twice", self.name);
        self.release();
        let out = self.bg.wait(T);
        self.done = true;
        out.expect_code(code);
        out
    }

    /// Whether `end` was called.
    pub fn ended(&self) -> bool {
        self.done
    }

    pub fn running(&mut self) -> bool {
        self.bg.is_running()
    }
}

/// `args` with `extra` appended.
pub fn cat<'a>(args: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = args.to_vec();
    v.extend_from_slice(extra);
    v
}

// ------------------------------------------------------------ taps

/// A one-connection relay between a client and the daemon of the env's
/// socket, recording the daemon's messages: the test knows the daemon
/// processed a request when its answer went by.
pub struct Tap {
    pub path: String,
    msgs: Arc<Mutex<Vec<String>>>,
}

static TAPS: AtomicUsize = AtomicUsize::new(0);

fn relay(mut from: UnixStream, mut to: UnixStream, msgs: Option<Arc<Mutex<Vec<String>>>>) {
    let mut buf = [0u8; 4096];
    let mut acc: Vec<u8> = Vec::new();
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if let Some(m) = &msgs {
                    acc.extend_from_slice(&buf[..n]);
                    while let Some(p) = acc.windows(6).position(|w| w == b"</msg>") {
                        let msg: Vec<u8> = acc.drain(..p + 6).collect();
                        m.lock()
                            .unwrap()
                            .push(String::from_utf8_lossy(&msg).into_owned());
                    }
                }
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}

impl Tap {
    /// A tap socket in the env's directory relaying to the env's daemon.
    pub fn new(env: &Env) -> Tap {
        let n = TAPS.fetch_add(1, Ordering::SeqCst);
        let path = env.path(&format!("tap{n}"));
        let listener = UnixListener::bind(&path).expect("bind a tap");
        let msgs = Arc::new(Mutex::new(Vec::new()));
        let m = msgs.clone();
        let sock = env.sock.clone();
        std::thread::spawn(move || {
            if !poll_readable(listener.as_raw_fd(), T) {
                return;
            }
            let Ok((client, _)) = listener.accept() else {
                return;
            };
            let Ok(daemon) = UnixStream::connect(&sock) else {
                return;
            };
            let (c2, d2) = (client.try_clone().unwrap(), daemon.try_clone().unwrap());
            std::thread::spawn(move || relay(client, daemon, None));
            relay(d2, c2, Some(m));
        });
        Tap { path, msgs }
    }

    /// The daemon's messages so far.
    pub fn msgs(&self) -> Vec<String> {
        self.msgs.lock().unwrap().clone()
    }

    /// Waits for the daemon's first answer and checks its rc.
    #[track_caller]
    pub fn wait_first_rc(&self, rc: i32) {
        wait_until(
            T,
            &format!("the daemon's answer through {}", self.path),
            || !self.msgs().is_empty(),
        );
        let first = &self.msgs()[0];
        assert!(
            first.contains(&format!("<answer rc=\"{rc}\"")),
            "first answer through {}: {first}, expected rc {rc}",
            self.path
        );
    }
}

// ------------------------------------------------------ local time

/// The current time in whole seconds.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn strftime_local(fmt: &str, t: i64) -> String {
    let c = CString::new(fmt).unwrap();
    let tt = t as libc::time_t;
    // SAFETY: plain data filled by localtime_r.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers to locals.
    assert!(!unsafe { libc::localtime_r(&tt, &mut tm) }.is_null());
    let mut buf = vec![0u8; 2048];
    // SAFETY: the buffer is as long as we say; the format is NUL-terminated.
    let n = unsafe { libc::strftime(buf.as_mut_ptr().cast(), buf.len(), c.as_ptr(), &tm) };
    buf.truncate(n);
    String::from_utf8_lossy(&buf).into_owned()
}

/// The FORMAT of a `_t_FORMAT[N]` name.
pub fn ts_format(name: &str) -> &str {
    let f = name.strip_prefix("_t_").expect("a timestamp name");
    &f[..f.rfind('[').expect("[N]")]
}

/// Does `elem` look like the value of the timestamp `name` at some second in
/// `[from - 1, to + 1]`: local time formatted by strftime, each `#f`…
/// `#ffffff` run replaced by `.` and that many digits?
pub fn ts_matches(name: &str, elem: &str, from: i64, to: i64) -> bool {
    // Fraction runs become a marker strftime leaves alone: \x01 + k.
    let fmt = ts_format(name);
    let mut marked = String::new();
    let b: Vec<char> = fmt.chars().collect();
    let mut i = 0;
    while i < b.len() {
        if b[i] == '#' && b.get(i + 1) == Some(&'f') {
            let mut k = 0;
            while k < 6 && b.get(i + 1 + k) == Some(&'f') {
                k += 1;
            }
            marked.push('\u{1}');
            marked.push(char::from(b'0' + k as u8));
            i += 1 + k;
        } else {
            marked.push(b[i]);
            i += 1;
        }
    }
    (from - 1..=to + 1).any(|t| fraction_match(&strftime_local(&marked, t), elem))
}

fn fraction_match(pattern: &str, elem: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let e: Vec<char> = elem.chars().collect();
    let (mut i, mut j) = (0, 0);
    while i < p.len() {
        if p[i] == '\u{1}' {
            let k = p[i + 1].to_digit(10).unwrap() as usize;
            if e.get(j) != Some(&'.') {
                return false;
            }
            j += 1;
            for _ in 0..k {
                if !e.get(j).is_some_and(char::is_ascii_digit) {
                    return false;
                }
                j += 1;
            }
            i += 2;
        } else {
            if e.get(j) != Some(&p[i]) {
                return false;
            }
            i += 1;
            j += 1;
        }
    }
    j == e.len()
}

/// Asserts every element is a value of timestamp `name` between `from` and
/// `to` (seconds) and that no value repeats.
#[track_caller]
pub fn check_timestamps(name: &str, elems: &[String], from: i64, to: i64) {
    for e in elems {
        assert!(
            ts_matches(name, e, from, to),
            "{e:?} is not a local time formatted by {name} between {from} and {to}"
        );
    }
    let mut u = elems.to_vec();
    u.sort();
    u.dedup();
    assert_eq!(u.len(), elems.len(), "repeated timestamps: {elems:?}");
}
