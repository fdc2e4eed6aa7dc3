//! Helpers of the command-line, configuration, monitor, shutdown and
//! debug-feature integration tests: `flom` runs with a
//! private HOME (so `~/.flom` is the test's own file) and an optional clean
//! environment, background processes with a bounded wait, dump-line
//! extraction (`| grep KEY`), /proc signal masks and child lookup, and the
//! check for a system config file that would change a test's result.
//!
//! Every wait has a bound and fails the test when it is exceeded.

use super::{pid_alive, proc_pids, spawn_command, Env, Out, BIN, T};
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The system configuration file the binary reads (build-time SYSCONFDIR).
pub fn system_config() -> PathBuf {
    Path::new(option_env!("FLOM_SYSCONFDIR").unwrap_or("/etc")).join("flom.conf")
}

/// True (after printing a note) when a system config file exists and sets
/// some key: the caller compares against built-in defaults, so its result
/// would depend on that file and it must skip. A file that sets nothing
/// (like the installed sample: groups and comments only) changes nothing.
pub fn system_config_changes(test: &str) -> bool {
    let p = system_config();
    let Ok(text) = std::fs::read_to_string(&p) else {
        if p.exists() {
            eprintln!(
                "NOTE: {} exists but cannot be read; skipping {test}",
                p.display()
            );
            return true;
        }
        return false;
    };
    let sets_a_key = text.lines().any(|l| {
        let l = l.trim_start();
        !l.is_empty() && !l.starts_with('#') && !l.starts_with('[') && l.contains('=')
    });
    if sets_a_key {
        eprintln!(
            "NOTE: {} exists on this machine and sets keys; skipping {test} (it checks built-in defaults)",
            p.display()
        );
    } else {
        eprintln!("NOTE: {} exists but sets no key; {test} runs", p.display());
    }
    sets_a_key
}

/// The test's private HOME directory (`<env dir>/home`), created empty.
pub fn home(env: &Env) -> String {
    let h = env.path("home");
    std::fs::create_dir_all(&h).expect("create HOME");
    h
}

/// Writes `~/.flom` in `home`.
pub fn write_user_conf(home: &str, text: &str) -> String {
    let p = format!("{home}/.flom");
    std::fs::write(&p, text).expect("write ~/.flom");
    p
}

/// Writes a config file `name` in the test's directory.
pub fn write_conf(env: &Env, name: &str, text: &str) -> String {
    let p = env.path(name);
    std::fs::write(&p, text).expect("write config file");
    p
}

/// How a `flom` process is started.
pub struct Spec {
    args: Vec<OsString>,
    home: String,
    clear_env: bool,
    extra_env: Vec<(String, String)>,
    wrapper: Vec<String>,
}

impl Spec {
    /// `flom ARGS` with HOME set to `home` (the rest of the environment
    /// inherited).
    pub fn new(home: &str, args: &[&str]) -> Spec {
        Spec {
            args: args.iter().map(OsString::from).collect(),
            home: home.to_string(),
            clear_env: false,
            extra_env: Vec::new(),
            wrapper: Vec::new(),
        }
    }

    /// `flom ARGS` with arguments that need not be UTF-8.
    pub fn os(home: &str, args: Vec<OsString>) -> Spec {
        Spec {
            args,
            home: home.to_string(),
            clear_env: false,
            extra_env: Vec::new(),
            wrapper: Vec::new(),
        }
    }

    /// Starts flom with only HOME, PATH and the `env` pairs set.
    pub fn clean_env(mut self, env: &[(&str, &str)]) -> Spec {
        self.clear_env = true;
        self.extra_env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self
    }

    /// Runs flom through `wrapper` (e.g. `ip netns exec NS`), which must
    /// exec it (so the pid is flom's).
    pub fn wrapped(mut self, wrapper: &[&str]) -> Spec {
        self.wrapper = wrapper.iter().map(|s| s.to_string()).collect();
        self
    }

    fn label(&self) -> String {
        let a: Vec<String> = self
            .args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        format!("HOME={} flom {}", self.home, a.join(" "))
    }

    fn command(&self) -> Command {
        let mut c = if self.wrapper.is_empty() {
            Command::new(BIN)
        } else {
            let mut c = Command::new(&self.wrapper[0]);
            c.args(&self.wrapper[1..]).arg(BIN);
            c
        };
        c.args(&self.args);
        if self.clear_env {
            c.env_clear();
            c.env(
                "PATH",
                std::env::var_os("PATH").unwrap_or_else(|| OsStr::new("/usr/bin:/bin").into()),
            );
        }
        c.env("HOME", &self.home);
        for (k, v) in &self.extra_env {
            c.env(k, v);
        }
        c
    }

    /// Starts flom in the background, in its own process group.
    pub fn spawn(&self) -> Proc {
        spawn_command(self.command(), self.label())
    }

    /// Runs flom to its end (bounded by `T`).
    #[track_caller]
    pub fn run(&self) -> Out {
        self.spawn().wait(T)
    }
}

/// `flom ARGS` with HOME=`home`, run to its end.
#[track_caller]
pub fn flom(home: &str, args: &[&str]) -> Out {
    Spec::new(home, args).run()
}

/// `flom ARGS` with HOME=`home`, in the background.
pub fn spawn(home: &str, args: &[&str]) -> Proc {
    Spec::new(home, args).spawn()
}

/// A background process in its own process group; dropping it kills the
/// whole group.
pub type Proc = super::Bg;

// ------------------------------------------------------------- dumps

/// What `flom ... | grep KEY` prints: the stdout lines containing `key`.
pub fn grep(out: &Out, key: &str) -> Vec<String> {
    out.stdout
        .lines()
        .filter(|l| l.contains(key))
        .map(str::to_string)
        .collect()
}

/// The full `--verbose` dump with built-in defaults (config.md §5).
pub const DEFAULT_DUMP: &str = "\
[Trace]/DaemonTraceFile=''
[Trace]/CommandTraceFile=''
[Trace]/AppendTraceFile=0
[Trace]/Verbose=1
[Resource]/Name='_RESOURCE'
[Resource]/Timeout=-1
[Resource]/Quantity=1
[Resource]/LockMode=5
[Resource]/Create=1
[Resource]/IdleLifespan=0
[Daemon]/SocketName=''
[Daemon]/Lifespan=5000
[Daemon]/UnicastAddress=''
[Daemon]/UnicastPort=28015
[Daemon]/MulticastAddress=''
[Daemon]/MulticastPort=28015
[Daemon]/MountPointVFS=''
[Monitor]/IgnoredSignals=''
[Network]/NetworkInterface=''
[Network]/DiscoveryAttempts=2
[Network]/DiscoveryTimeout=500
[Network]/DiscoveryTTL=1
[Network]/TcpKeepaliveTime=60
[Network]/TcpKeepaliveIntvl=10
[Network]/TcpKeepaliveProbes=6
[TLS]/TlsCertificate=''
[TLS]/TlsPrivateKey=''
[TLS]/TlsCaCertificate=''
[TLS]/TlsCheckPeerId=0
";

/// The default dump with one line replaced (`[Group]/Key=` prefix match).
pub fn default_dump_with(replacements: &[&str]) -> String {
    let mut out = String::new();
    for line in DEFAULT_DUMP.lines() {
        let key = &line[..line.find('=').unwrap() + 1];
        match replacements.iter().find(|r| r.starts_with(key)) {
            Some(r) => out.push_str(r),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

// ------------------------------------------------------------- /proc

/// The parent pid of `pid`.
pub fn ppid(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rfind(')')?;
    stat[after + 1..].split_whitespace().nth(1)?.parse().ok()
}

/// The live children of `pid`.
pub fn children_of(pid: i32) -> Vec<i32> {
    proc_pids()
        .into_iter()
        .filter(|&p| ppid(p) == Some(pid) && pid_alive(p))
        .collect()
}

/// A signal mask line of /proc/PID/status (`SigIgn`, `SigCgt`, `SigBlk`).
pub fn sig_mask(pid: i32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    mask_in(&status, field)
}

/// The mask `field` in a /proc status text.
pub fn mask_in(status: &str, field: &str) -> Option<u64> {
    let line = status
        .lines()
        .find(|l| l.starts_with(&format!("{field}:")))?;
    u64::from_str_radix(line.split_whitespace().nth(1)?, 16).ok()
}

/// The bit of signal `sig` in a /proc mask.
pub fn bit(sig: i32) -> u64 {
    1u64 << (sig - 1)
}
