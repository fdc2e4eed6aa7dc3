//! The VFS (`-m DIR`) seen from outside: the real `flom` binary, its own
//! socket and mount point per test, the tree read with ordinary file calls
//! and tools (`find`, `ls`, `cat`, `stat`, `tail`).
//!
//! These tests need a usable /dev/fuse (root, or fusermount3); without it
//! each one prints why it skips and passes.

mod common;

use common::{lock_ex, poll_until, run_flom, spawn_command, spawn_flom, the_daemon, Raw, T};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Upper bound for anything the tests wait for.
const PATIENCE: Duration = Duration::from_secs(15);

/// Why FUSE cannot be used here, if it cannot.
fn fuse_unusable() -> Option<String> {
    if !Path::new("/dev/fuse").exists() {
        return Some("no /dev/fuse".into());
    }
    if let Err(e) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")
    {
        return Some(format!("cannot open /dev/fuse: {e}"));
    }
    // SAFETY: geteuid cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let helper = Command::new("fusermount3")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !root && !helper {
        return Some("not root and no fusermount3".into());
    }
    None
}

/// Polls `cond` until it holds or PATIENCE runs out.
fn wait_until(cond: impl FnMut() -> bool) -> bool {
    poll_until(PATIENCE, cond)
}

/// Waits (bounded by PATIENCE) for `child` to exit.
#[track_caller]
fn wait_child(child: &mut Child) -> ExitStatus {
    let mut status = None;
    let ended = poll_until(PATIENCE, || {
        status = child.try_wait().expect("try_wait");
        status.is_some()
    });
    if !ended {
        let _ = child.kill();
        let _ = child.wait();
        panic!("client {} did not exit within {PATIENCE:?}", child.id());
    }
    status.unwrap()
}

/// A test's own daemon: socket, mount point, and the clients it started.
/// Dropping it ends the clients and the daemon (`flom -X`) and unmounts;
/// then the harness's env removes the directory (and kills any daemon
/// left).
struct Env {
    _env: common::Env,
    sock: String,
    mnt: PathBuf,
    clients: Vec<Child>,
}

impl Env {
    /// None (after printing why) when FUSE cannot be used here.
    fn new(test: &str) -> Option<Env> {
        if let Some(why) = fuse_unusable() {
            println!("SKIP {test}: {why}");
            return None;
        }
        let env = common::Env::new(&format!("vfs-{test}"));
        let mnt = env.dir.join("vfs");
        std::fs::create_dir_all(&mnt).expect("create mount point");
        let sock = env.sock.clone();
        Some(Env {
            _env: env,
            sock,
            mnt,
            clients: Vec::new(),
        })
    }

    fn flom(&self) -> Command {
        let mut c = Command::new(common::BIN);
        c.args(["-s", &self.sock]);
        c.stdout(Stdio::null()).stderr(Stdio::null());
        c
    }

    /// Runs `flom -s S ARGS` (bounded), returning its exit status.
    fn run(&self, args: &[&str]) -> ExitStatus {
        let mut a = vec!["-s", self.sock.as_str()];
        a.extend_from_slice(args);
        run_flom(&a).status
    }

    /// Starts a client that holds (or waits for) its lock while its
    /// command reads standard input: `end_client` closes that input.
    fn client(&mut self, args: &[&str]) -> usize {
        let child = self
            .flom()
            .args(args)
            .args(["--", "sh", "-c", "cat >/dev/null"])
            .stdin(Stdio::piped())
            .spawn()
            .expect("start flom");
        self.clients.push(child);
        self.clients.len() - 1
    }

    /// Starts the daemon (with the VFS) through a first client holding
    /// `args`' lock; false (after printing why) when the mount does not
    /// appear, i.e. FUSE cannot be used after all.
    fn start(&mut self, test: &str, args: &[&str]) -> Option<usize> {
        let m = self.mnt.to_str().expect("utf-8 path").to_string();
        let mut all = vec!["-m", &m, "-d", "-1"];
        all.extend_from_slice(args);
        let c = self.client(&all);
        if !wait_until(|| self.mounted()) {
            println!("SKIP {test}: the daemon could not mount its VFS");
            return None;
        }
        Some(c)
    }

    /// Ends client `i` normally (its command sees end of input).
    fn end_client(&mut self, i: usize) -> ExitStatus {
        let c = &mut self.clients[i];
        drop(c.stdin.take());
        wait_child(c)
    }

    fn kill_client(&mut self, i: usize) {
        let c = &mut self.clients[i];
        let _ = c.kill();
        let _ = c.wait();
    }

    fn mounted(&self) -> bool {
        mount_types(&self.mnt).iter().any(|t| t == "fuse.flom")
    }

    fn p(&self, rel: &str) -> PathBuf {
        self.mnt.join(rel)
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.p(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    /// The names in directory `rel`, sorted (a fresh listing).
    fn ls(&self, rel: &str) -> Vec<String> {
        let mut v: Vec<String> = match std::fs::read_dir(self.p(rel)) {
            Ok(d) => d
                .filter_map(|e| Some(e.ok()?.file_name().to_string_lossy().into_owned()))
                .collect(),
            Err(_) => return Vec::new(),
        };
        v.sort();
        v
    }

    fn has(&self, dir: &str, name: &str) -> bool {
        self.ls(dir).iter().any(|n| n == name)
    }

    /// Waits until `dir` lists `name` (or, with `present` false, does not).
    fn await_entry(&self, dir: &str, name: &str, present: bool) {
        assert!(
            wait_until(|| self.has(dir, name) == present),
            "{dir}/{name} should {}appear; {dir} has {:?}",
            if present { "" } else { "dis" },
            self.ls(dir)
        );
    }

    /// Every path under the mount point, relative, sorted.
    fn tree(&self) -> Vec<String> {
        fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for e in entries.flatten() {
                let path = e.path();
                out.push(
                    path.strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    walk(&path, root, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.mnt, &self.mnt, &mut out);
        out.sort();
        out
    }

    /// The pid of the daemon (the one process listening on our socket).
    fn daemon_pid(&self) -> i32 {
        the_daemon(&self.sock)
    }

    /// Stops the daemon with `flom -X` and waits for the VFS to go.
    fn shutdown(&mut self) {
        for i in 0..self.clients.len() {
            self.kill_client(i);
        }
        let _ = self.run(&["-X"]);
        assert!(wait_until(|| !self.mounted()), "the VFS is still mounted");
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        for c in &mut self.clients {
            let _ = c.kill();
            let _ = c.wait();
        }
        let mut x = spawn_flom(&["-s", &self.sock, "-X"]);
        poll_until(T, || !x.is_running());
        wait_until(|| !self.mounted());
        if self.mounted() {
            // A failed test must not leave a mount behind.
            let c = std::ffi::CString::new(self.mnt.as_os_str().as_bytes()).unwrap();
            // SAFETY: umount2 with a valid C string.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
    }
}

/// The file system types mounted at `dir` per /proc/self/mountinfo.
fn mount_types(dir: &Path) -> Vec<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let want = dir.to_str().unwrap().replace(' ', "\\040");
    info.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let dash = f.iter().position(|x| *x == "-")?;
            (f.get(4) == Some(&want.as_str())).then(|| f.get(dash + 1).map(|s| s.to_string()))?
        })
        .collect()
}

fn paths(list: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

/// After the daemon ended: nothing left mounted, an empty directory that
/// `rmdir` removes.
fn assert_cleanly_unmounted(env: &Env) {
    assert!(!env.mounted());
    assert!(env.tree().is_empty(), "left: {:?}", env.tree());
    std::fs::remove_dir(&env.mnt).expect("rmdir of the mount point");
}

// ------------------------------------------------------------------ tests

/// The seed's walkthrough with a simple resource: a `-e no` client in the
/// incubator, a holder and a waiter, the waiter moving to the holders, and
/// nothing left once the daemon ends.
#[test]
fn walkthrough_simple() {
    let Some(mut env) = Env::new("walkthrough_simple") else {
        return;
    };
    let Some(a) = env.start("walkthrough_simple", &["-e", "no", "-r", "foo"]) else {
        return;
    };
    // Listener 1, client 2 parked in the incubator.
    env.await_entry("status/incubator", "2", true);
    assert_eq!(
        env.tree(),
        paths(&[
            "status",
            "status/incubator",
            "status/incubator/2",
            "status/incubator/2/peer_name",
            "status/incubator/2/resource_name",
            "status/incubator/2/resource_type",
            "status/lockers",
        ])
    );
    assert_eq!(env.read("status/incubator/2/peer_name"), "localhost/\n");
    assert_eq!(env.read("status/incubator/2/resource_name"), "foo\n");
    assert_eq!(env.read("status/incubator/2/resource_type"), "simple\n");

    // Client 3 creates locker 4 and holds it; client 2 is adopted and waits.
    let b = env.client(&["-r", "foo"]);
    env.await_entry("status/lockers/4/waitings", "2", true);
    env.await_entry("status/lockers/4/holders", "3", true);
    assert!(env.ls("status/incubator").is_empty());
    assert_eq!(
        env.tree(),
        paths(&[
            "status",
            "status/incubator",
            "status/lockers",
            "status/lockers/4",
            "status/lockers/4/resource_name",
            "status/lockers/4/resource_type",
            "status/lockers/4/holders",
            "status/lockers/4/holders/3",
            "status/lockers/4/holders/3/peer_name",
            "status/lockers/4/holders/3/lock_mode",
            "status/lockers/4/waitings",
            "status/lockers/4/waitings/2",
            "status/lockers/4/waitings/2/peer_name",
            "status/lockers/4/waitings/2/lock_mode",
        ])
    );
    assert_eq!(env.read("status/lockers/4/resource_name"), "foo\n");
    assert_eq!(env.read("status/lockers/4/resource_type"), "simple\n");
    assert_eq!(
        env.read("status/lockers/4/holders/3/peer_name"),
        "localhost/\n"
    );
    assert_eq!(
        env.read("status/lockers/4/holders/3/lock_mode"),
        "Exclusive"
    );
    assert_eq!(
        env.read("status/lockers/4/waitings/2/lock_mode"),
        "Exclusive"
    );
    let waiting_ctime = std::fs::metadata(env.p("status/lockers/4/waitings/2"))
        .unwrap()
        .ctime();

    // The holder ends: the waiter holds, under the same number.
    assert!(env.end_client(b).success());
    env.await_entry("status/lockers/4/holders", "2", true);
    assert_eq!(env.ls("status/lockers/4/holders"), ["2"]);
    assert!(env.ls("status/lockers/4/waitings").is_empty());
    assert_eq!(
        env.read("status/lockers/4/holders/2/peer_name"),
        "localhost/\n"
    );
    let moved = std::fs::metadata(env.p("status/lockers/4/holders/2")).unwrap();
    assert_eq!(moved.ctime(), waiting_ctime);
    assert!(moved.mtime() >= waiting_ctime);

    // The last client ends; the locker goes after its idle lifespan.
    assert!(env.end_client(a).success());
    env.await_entry("status/lockers", "4", false);
    assert_eq!(
        env.tree(),
        paths(&["status", "status/incubator", "status/lockers"])
    );

    env.shutdown();
    assert_cleanly_unmounted(&env);
}

/// The seed's walkthrough as written, on `num[3]` with `-q 2`.
#[test]
fn walkthrough_numeric() {
    let Some(mut env) = Env::new("walkthrough_numeric") else {
        return;
    };
    let Some(a) = env.start(
        "walkthrough_numeric",
        &["-e", "no", "-r", "num[3]", "-q", "2"],
    ) else {
        return;
    };
    env.await_entry("status/incubator", "2", true);
    assert_eq!(env.read("status/incubator/2/resource_name"), "num[3]\n");
    assert_eq!(env.read("status/incubator/2/resource_type"), "numeric\n");
    let b = env.client(&["-r", "num[3]", "-q", "2"]);
    env.await_entry("status/lockers/4/waitings", "2", true);
    env.await_entry("status/lockers/4/holders", "3", true);
    assert_eq!(
        env.tree(),
        paths(&[
            "status",
            "status/incubator",
            "status/lockers",
            "status/lockers/4",
            "status/lockers/4/resource_name",
            "status/lockers/4/resource_type",
            "status/lockers/4/holders",
            "status/lockers/4/holders/3",
            "status/lockers/4/holders/3/peer_name",
            "status/lockers/4/holders/3/quantity",
            "status/lockers/4/waitings",
            "status/lockers/4/waitings/2",
            "status/lockers/4/waitings/2/peer_name",
            "status/lockers/4/waitings/2/quantity",
        ])
    );
    assert_eq!(env.read("status/lockers/4/resource_type"), "numeric\n");
    assert_eq!(env.read("status/lockers/4/holders/3/quantity"), "2\n");
    assert_eq!(env.read("status/lockers/4/waitings/2/quantity"), "2\n");
    assert!(env.end_client(b).success());
    env.await_entry("status/lockers/4/holders", "2", true);
    assert_eq!(env.read("status/lockers/4/holders/2/quantity"), "2\n");
    assert!(env.ls("status/lockers/4/waitings").is_empty());
    assert!(env.end_client(a).success());
    env.shutdown();
    assert_cleanly_unmounted(&env);
}

/// Holder and waiter of one resource of a type, with the files each shows.
fn type_files(test: &str, name: &str, kind: &str, holder: &[(&str, &str)], waiter: &[&str]) {
    let Some(mut env) = Env::new(test) else {
        return;
    };
    let Some(a) = env.start(test, &["-r", name, "-l", "PR"]) else {
        return;
    };
    // Client 2 holds locker 3; client 4 waits.
    env.await_entry("status/lockers/3/holders", "2", true);
    let b = env.client(&["-r", name, "-l", "EX"]);
    env.await_entry("status/lockers/3/waitings", "4", true);
    assert_eq!(
        env.read("status/lockers/3/resource_name"),
        format!("{name}\n")
    );
    assert_eq!(
        env.read("status/lockers/3/resource_type"),
        format!("{kind}\n")
    );
    let mut want: Vec<&str> = holder.iter().map(|(f, _)| *f).collect();
    want.sort();
    assert_eq!(env.ls("status/lockers/3/holders/2"), want);
    for (file, content) in holder {
        assert_eq!(
            env.read(&format!("status/lockers/3/holders/2/{file}")),
            *content,
            "{file}"
        );
    }
    let mut want = waiter.to_vec();
    want.sort();
    assert_eq!(env.ls("status/lockers/3/waitings/4"), want);
    env.kill_client(b);
    env.await_entry("status/lockers/3/waitings", "4", false);
    assert!(env.end_client(a).success());
    env.shutdown();
    assert_cleanly_unmounted(&env);
}

#[test]
fn type_simple() {
    type_files(
        "type_simple",
        "R1",
        "simple",
        &[
            ("peer_name", "localhost/\n"),
            ("lock_mode", "ProtectedRead"),
        ],
        &["peer_name", "lock_mode"],
    );
}

#[test]
fn type_numeric() {
    // Capacity 1, quantity 1 each: the second waits.
    type_files(
        "type_numeric",
        "n[1]",
        "numeric",
        &[("peer_name", "localhost/\n"), ("quantity", "1\n")],
        &["peer_name", "quantity"],
    );
}

#[test]
fn type_set() {
    // A two-element set: two holders, the third waits; set holders and
    // waiters show only peer_name (the element is not shown).
    let test = "type_set";
    let Some(mut env) = Env::new(test) else {
        return;
    };
    let Some(a) = env.start(test, &["-r", "red.blue"]) else {
        return;
    };
    env.await_entry("status/lockers/3/holders", "2", true);
    let b = env.client(&["-r", "red.blue"]);
    env.await_entry("status/lockers/3/holders", "4", true);
    let c = env.client(&["-r", "red.blue"]);
    env.await_entry("status/lockers/3/waitings", "5", true);
    assert_eq!(env.read("status/lockers/3/resource_type"), "set\n");
    for holder in ["2", "4"] {
        assert_eq!(
            env.ls(&format!("status/lockers/3/holders/{holder}")),
            ["peer_name"]
        );
    }
    assert_eq!(
        env.read("status/lockers/3/holders/2/peer_name"),
        "localhost/\n"
    );
    assert_eq!(env.ls("status/lockers/3/waitings/5"), ["peer_name"]);
    env.kill_client(c);
    env.await_entry("status/lockers/3/waitings", "5", false);
    env.kill_client(b);
    env.await_entry("status/lockers/3/holders", "4", false);
    assert!(env.end_client(a).success());
    env.shutdown();
    assert_cleanly_unmounted(&env);
}

#[test]
fn type_hierarchical() {
    type_files(
        "type_hierarchical",
        "/a/b",
        "hierarchical",
        &[
            ("peer_name", "localhost/\n"),
            ("lock_mode", "ProtectedRead"),
        ],
        &["peer_name", "lock_mode"],
    );
}

#[test]
fn type_sequence() {
    // A sequence of one: the second waits for the first to return it.
    type_files(
        "type_sequence",
        "_s_seq[1]",
        "sequence",
        &[("peer_name", "localhost/\n"), ("sequence_value", "1\n")],
        &["peer_name"],
    );
}

#[test]
fn type_timestamp() {
    let Some(mut env) = Env::new("type_timestamp") else {
        return;
    };
    // One timestamp per hour: the second waits.
    let Some(a) = env.start("type_timestamp", &["-r", "_t_%H[1]"]) else {
        return;
    };
    env.await_entry("status/lockers/3/holders", "2", true);
    assert_eq!(env.read("status/lockers/3/resource_type"), "timestamp\n");
    assert_eq!(
        env.ls("status/lockers/3/holders/2"),
        ["peer_name", "timestamp_value"]
    );
    let ts = env.read("status/lockers/3/holders/2/timestamp_value");
    assert!(
        ts.len() == 3 && ts.ends_with('\n') && ts[..2].bytes().all(|b| b.is_ascii_digit()),
        "{ts:?}"
    );
    let b = env.client(&["-r", "_t_%H[1]"]);
    env.await_entry("status/lockers/3/waitings", "4", true);
    assert_eq!(env.ls("status/lockers/3/waitings/4"), ["peer_name"]);
    env.kill_client(b);
    assert!(env.end_client(a).success());
    env.shutdown();
    assert_cleanly_unmounted(&env);
}

/// An `-e no` client that gives up leaves the incubator (C FLoM left its
/// entry behind).
#[test]
fn incubator_entry_leaves_with_its_client() {
    let test = "incubator_entry_leaves_with_its_client";
    let Some(mut env) = Env::new(test) else {
        return;
    };
    let Some(a) = env.start(test, &["-e", "no", "-r", "bar"]) else {
        return;
    };
    env.await_entry("status/incubator", "2", true);
    let b = env.client(&["-e", "no", "-r", "baz"]);
    env.await_entry("status/incubator", "3", true);
    env.kill_client(a);
    env.await_entry("status/incubator", "2", false);
    assert_eq!(env.ls("status/incubator"), ["3"]);
    assert!(
        !env.p("status/incubator/2/peer_name").exists() || {
            // A kernel-cached entry lives 1 s at most.
            wait_until(|| !env.p("status/incubator/2/peer_name").exists())
        }
    );
    env.kill_client(b);
    env.await_entry("status/incubator", "3", false);
    env.shutdown();
    assert_cleanly_unmounted(&env);
}

/// `ls -la`, `cat`, `find`, `stat`, `tail` work as on /proc; sizes match
/// contents; modes and owners are right; writes are refused with EACCES;
/// extended attributes are not supported.
#[test]
fn behaves_like_proc() {
    let test = "behaves_like_proc";
    let Some(mut env) = Env::new(test) else {
        return;
    };
    let Some(_a) = env.start(test, &["-r", "foo"]) else {
        return;
    };
    env.await_entry("status/lockers/3/holders", "2", true);
    let dir = env.p("status/lockers/3/holders/2");
    // SAFETY: geteuid/getegid cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };

    // stat: modes, links, owners, sizes.
    for rel in [
        "",
        "status",
        "status/incubator",
        "status/lockers",
        "status/lockers/3",
        "status/lockers/3/holders",
        "status/lockers/3/waitings",
        "status/lockers/3/holders/2",
    ] {
        let m = std::fs::metadata(env.p(rel)).unwrap();
        assert!(m.is_dir(), "{rel}");
        assert_eq!(m.permissions().mode() & 0o7777, 0o550, "{rel}");
        assert_eq!(m.nlink(), 2, "{rel}");
        assert_eq!((m.uid(), m.gid()), (uid, gid), "{rel}");
        assert_eq!(m.len(), 0, "{rel}");
    }
    for rel in [
        "status/lockers/3/resource_name",
        "status/lockers/3/resource_type",
        "status/lockers/3/holders/2/peer_name",
        "status/lockers/3/holders/2/lock_mode",
    ] {
        let m = std::fs::metadata(env.p(rel)).unwrap();
        assert!(m.is_file(), "{rel}");
        assert_eq!(m.permissions().mode() & 0o7777, 0o440, "{rel}");
        assert_eq!(m.nlink(), 1, "{rel}");
        assert_eq!((m.uid(), m.gid()), (uid, gid), "{rel}");
        assert_eq!(m.len() as usize, env.read(rel).len(), "{rel}");
        assert!(m.mtime() > 0 && m.ctime() > 0, "{rel}");
    }

    // The tools.
    let tool = |cmd: &str, args: &[&std::ffi::OsStr]| -> String {
        let mut c = Command::new(cmd);
        c.args(args);
        let out = spawn_command(c, format!("{cmd} {args:?}")).wait(T);
        assert!(out.status.success(), "{}", out.describe());
        out.stdout
    };
    let ls = tool("ls", &["-la".as_ref(), dir.as_os_str()]);
    let lines: Vec<&str> = ls.lines().collect();
    assert_eq!(lines[0], "total 0", "{ls}");
    for l in &lines[1..] {
        let f: Vec<&str> = l.split_whitespace().collect();
        let name = *f.last().unwrap();
        match name {
            "." | ".." => assert_eq!(f[0], "dr-xr-x---", "{l}"),
            "peer_name" => {
                assert_eq!(f[0], "-r--r-----", "{l}");
                assert_eq!(f[1], "1");
                assert_eq!(f[4], "11", "{l}");
            }
            "lock_mode" => {
                assert_eq!(f[0], "-r--r-----", "{l}");
                assert_eq!(f[4], "9", "{l}");
            }
            other => panic!("unexpected entry {other} in {ls}"),
        }
    }
    let peer = dir.join("peer_name");
    assert_eq!(tool("cat", &[peer.as_os_str()]), "localhost/\n");
    assert_eq!(
        tool("tail", &["-c".as_ref(), "5".as_ref(), peer.as_os_str()]),
        "ost/\n"
    );
    assert_eq!(
        tool(
            "stat",
            &["-c".as_ref(), "%s %a %h %F".as_ref(), peer.as_os_str()]
        ),
        "11 440 1 regular file\n"
    );
    let found = tool("find", &[env.mnt.as_os_str()]);
    let mut found: Vec<String> = found
        .lines()
        .map(|l| {
            l.strip_prefix(env.mnt.to_str().unwrap())
                .unwrap()
                .trim_start_matches('/')
                .to_string()
        })
        .filter(|l| !l.is_empty())
        .collect();
    found.sort();
    assert_eq!(found, env.tree());
    assert!(found.contains(&"status/lockers/3/holders/2/lock_mode".to_string()));

    // Reads at offsets.
    let mut f = std::fs::File::open(&peer).unwrap();
    let mut buf = [0u8; 4];
    assert_eq!(f.read(&mut buf).unwrap(), 4);
    assert_eq!(&buf, b"loca");
    let mut rest = String::new();
    f.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "lhost/\n");

    // Writes refused.
    let eacces = |r: std::io::Result<()>, what: &str| {
        let e = r.expect_err(what);
        assert_eq!(e.raw_os_error(), Some(libc::EACCES), "{what}: {e}");
    };
    eacces(
        std::fs::OpenOptions::new()
            .write(true)
            .open(&peer)
            .map(drop),
        "open for writing",
    );
    eacces(
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&peer)
            .map(drop),
        "open for reading and writing",
    );
    eacces(
        std::fs::OpenOptions::new()
            .append(true)
            .open(&peer)
            .and_then(|mut f| f.write_all(b"x")),
        "append",
    );
    eacces(
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(dir.join("new"))
            .map(drop),
        "create",
    );
    eacces(std::fs::create_dir(dir.join("d")), "mkdir");
    eacces(std::fs::remove_file(&peer), "unlink");
    eacces(std::fs::remove_dir(&dir), "rmdir");
    eacces(std::fs::rename(&peer, dir.join("x")), "rename");
    eacces(
        std::fs::set_permissions(&peer, std::fs::Permissions::from_mode(0o644)),
        "chmod",
    );
    assert_eq!(
        env.read("status/lockers/3/holders/2/peer_name"),
        "localhost/\n"
    );

    // Extended attributes.
    let c = std::ffi::CString::new(peer.as_os_str().as_bytes()).unwrap();
    let name = std::ffi::CString::new("user.flom").unwrap();
    // SAFETY: valid C strings, a null buffer with size 0.
    let r = unsafe { libc::getxattr(c.as_ptr(), name.as_ptr(), std::ptr::null_mut(), 0) };
    assert_eq!(r, -1);
    assert_eq!(
        std::io::Error::last_os_error().raw_os_error(),
        Some(libc::ENOTSUP)
    );

    // Missing entries.
    let e = std::fs::metadata(env.p("status/lockers/99")).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    let e = std::fs::metadata(env.p("status/lockers/03")).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound);

    env.shutdown();
    assert_cleanly_unmounted(&env);
}

/// The daemon unmounts whichever way it ends: its lifespan, `-x`, `-X`,
/// SIGTERM, SIGINT.
#[test]
fn unmounts_on_every_exit_path() {
    for how in ["lifespan", "-x", "-X", "SIGTERM", "SIGINT"] {
        let test = format!("unmounts_{}", how.trim_start_matches('-'));
        let Some(env) = Env::new(&test) else {
            return;
        };
        let m = env.mnt.to_str().unwrap().to_string();
        let lifespan = if how == "lifespan" { "300" } else { "-1" };
        assert!(env.run(&["-m", &m, "-d", lifespan, "--", "true"]).success());
        if how == "lifespan" {
            // The daemon may already be gone; mounting happened before it
            // was ready, so a missing mount now means it went away.
            assert!(wait_until(|| !env.mounted()), "{how}");
            assert!(wait_until(|| !Path::new(&env.sock).exists()), "{how}");
            assert_cleanly_unmounted(&env);
            continue;
        }
        if !env.mounted() {
            println!("SKIP {test}: the daemon could not mount its VFS");
            return;
        }
        match how {
            "-x" | "-X" => {
                let _ = env.run(&[how]);
            }
            sig => {
                let pid = env.daemon_pid();
                let s = if sig == "SIGTERM" {
                    libc::SIGTERM
                } else {
                    libc::SIGINT
                };
                // SAFETY: signalling the daemon this test started.
                assert_eq!(unsafe { libc::kill(pid, s) }, 0);
            }
        }
        assert!(wait_until(|| !env.mounted()), "{how}: still mounted");
        assert!(
            wait_until(|| !Path::new(&env.sock).exists()),
            "{how}: socket left"
        );
        assert_cleanly_unmounted(&env);
    }
}

/// A daemon killed with SIGKILL leaves a dead mount; the next daemon at the
/// same mount point clears it and mounts.
#[test]
fn stale_mount_is_cleared() {
    let test = "stale_mount_is_cleared";
    let Some(mut env) = Env::new(test) else {
        return;
    };
    let m = env.mnt.to_str().unwrap().to_string();
    assert!(env.run(&["-m", &m, "-d", "-1", "--", "true"]).success());
    if !env.mounted() {
        println!("SKIP {test}: the daemon could not mount its VFS");
        return;
    }
    let pid = env.daemon_pid();
    // SAFETY: killing the daemon this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    assert!(wait_until(|| {
        std::fs::metadata(&env.mnt).is_err_and(|e| e.raw_os_error() == Some(libc::ENOTCONN))
    }));
    // Its socket file is left behind too; the next daemon replaces it.
    let Some(_a) = env.start(test, &["-r", "foo"]) else {
        return;
    };
    env.await_entry("status/lockers", "3", true);
    assert_eq!(mount_types(&env.mnt), ["fuse.flom"]);
    env.shutdown();
    assert_cleanly_unmounted(&env);
}

// ----------------------------------------------------------------- load

/// A raw client connection holding one lock.
fn hold(sock: &str, name: &str) -> Raw {
    let mut r = Raw::connect(sock);
    r.send_ok(&lock_ex(name));
    let answer = r.expect_msg(PATIENCE);
    assert!(answer.contains("<answer rc=\"0\""), "lock {name}: {answer}");
    r
}

/// Reads every file of the tree; entries may vanish while it walks, but
/// nothing else may fail. Returns the number of files read.
fn read_all(dir: &Path) -> usize {
    let entries = match std::fs::read_dir(dir) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return 0,
        Err(e) => panic!("readdir {dir:?}: {e}"),
    };
    let mut n = 0;
    for e in entries {
        let e = e.unwrap_or_else(|e| panic!("readdir {dir:?}: {e}"));
        let path = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => n += read_all(&path),
            Ok(_) => match std::fs::read(&path) {
                Ok(_) => n += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => panic!("read {path:?}: {e}"),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => panic!("stat {path:?}: {e}"),
        }
    }
    n
}

/// 1000 resources held while a reader walks the whole tree again and again
/// and 100 clients lock and unlock another: both finish, and the tree
/// agrees with what is held.
#[test]
fn large_tree_under_lock_traffic() {
    let test = "large_tree_under_lock_traffic";
    let Some(mut env) = Env::new(test) else {
        return;
    };
    let Some(starter) = env.start(test, &["-r", "start"]) else {
        return;
    };
    let held: Vec<Raw> = (0..1000)
        .map(|i| hold(&env.sock, &format!("r{i}")))
        .collect();
    assert!(env.end_client(starter).success());

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let stop = stop.clone();
        let mnt = env.mnt.clone();
        std::thread::spawn(move || {
            let mut walks = 0;
            while walks < 1 || !stop.load(std::sync::atomic::Ordering::Relaxed) {
                assert!(read_all(&mnt) >= 3000);
                walks += 1;
            }
            walks
        })
    };
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..4 {
        let sock = env.sock.clone();
        workers.push(std::thread::spawn(move || {
            for _ in 0..25 {
                run_flom(&["-s", &sock, "-r", "shared", "--", "true"]).expect_code(0);
            }
        }));
    }
    for w in workers {
        w.join().expect("lock traffic");
    }
    let traffic = started.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let walks = reader.join().expect("reader");
    assert!(walks >= 1);
    println!("{test}: 100 lock/unlock clients in {traffic:?} during {walks} walks of the tree");
    assert!(
        traffic < Duration::from_secs(60),
        "lock traffic took {traffic:?}"
    );

    // The tree agrees with what is held: every r<i> locker with one holder.
    let mut names = BTreeSet::new();
    for l in env.ls("status/lockers") {
        // The lockers of "start" and "shared" expire meanwhile.
        let Ok(name) = std::fs::read_to_string(env.p(&format!("status/lockers/{l}/resource_name")))
        else {
            continue;
        };
        let holders = env.ls(&format!("status/lockers/{l}/holders"));
        if name.starts_with('r') {
            assert_eq!(holders.len(), 1, "{name}");
            assert_eq!(
                env.read(&format!(
                    "status/lockers/{l}/holders/{}/lock_mode",
                    holders[0]
                )),
                "Exclusive"
            );
        } else {
            assert!(holders.is_empty(), "{name} {holders:?}");
        }
        names.insert(name);
    }
    for i in 0..1000 {
        assert!(names.contains(&format!("r{i}\n")), "r{i} missing");
    }
    drop(held);
    env.shutdown();
    assert_cleanly_unmounted(&env);
}
