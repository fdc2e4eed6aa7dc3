//! Command line of `flom-bench`: the scenario, where the daemon is, and the
//! knobs of each scenario. Pure: nothing here touches the network.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

/// Where the daemon under test listens. TCP is accepted only on loopback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Unix(PathBuf),
    Tcp(SocketAddr),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Unix(p) => write!(f, "unix:{}", p.display()),
            Target::Tcp(a) => write!(f, "tcp:{a}"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    Cycle,
    Contend,
    Hold,
    Idle,
    Queue,
    Floor,
    Cli,
    All,
}

impl Scenario {
    pub const ALL: [Scenario; 8] = [
        Scenario::Cycle,
        Scenario::Contend,
        Scenario::Hold,
        Scenario::Idle,
        Scenario::Queue,
        Scenario::Floor,
        Scenario::Cli,
        Scenario::All,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Cycle => "cycle",
            Scenario::Contend => "contend",
            Scenario::Hold => "hold",
            Scenario::Idle => "idle",
            Scenario::Queue => "queue",
            Scenario::Floor => "floor",
            Scenario::Cli => "cli",
            Scenario::All => "all",
        }
    }

    pub fn parse(s: &str) -> Option<Scenario> {
        Scenario::ALL.iter().copied().find(|sc| sc.name() == s)
    }
}

/// Everything the command line says. `None` means "the scenario's default".
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    pub scenario: Scenario,
    pub target: Option<Target>,
    pub clients: Option<usize>,
    /// Seconds of a timed run.
    pub time: Option<f64>,
    /// Cycles, resources, waiters or runs, depending on the scenario.
    pub count: Option<u64>,
    /// Idle lifespan (ms) of the resources created by `idle`.
    pub idle_lifespan_ms: Option<u64>,
    pub daemon_pid: Option<u32>,
    pub json: bool,
    pub flom: Option<PathBuf>,
    pub lock_file: Option<PathBuf>,
    /// The command `cli` runs (after `--`); `true` when empty.
    pub command: Vec<String>,
    /// Prefix of every resource name the tool uses.
    pub prefix: String,
    /// Seconds of the reference `cycle` probes run by `hold` and `idle`.
    pub probe: f64,
    /// `idle`: also wait for the resources to expire, probing the daemon meanwhile.
    pub expiry: bool,
    /// No progress for this long means the daemon stalled: the run is aborted.
    pub io_timeout_ms: u64,
    /// Hard bound on the whole run, seconds.
    pub max_time: f64,
    /// `--tls CERT KEY CA`: the daemon speaks TLS; the tool's certificate,
    /// private key and CA certificate.
    pub tls: Option<[PathBuf; 3]>,
}

pub enum Parsed {
    Help,
    Run(Box<Options>),
}

pub const USAGE: &str = "\
Usage: flom-bench SCENARIO [OPTIONS] [-- COMMAND...]

Drives a FLoM daemon (level-3 wire protocol) and prints one line of figures
per scenario: ops/s, p50/p99/max latency (us), daemon RSS (KiB) and threads.

Scenarios:
  cycle    C clients, each: connect, lock its own resource, unlock, close
  contend  C clients cycling on ONE exclusive resource (handoff rate, fairness)
  hold     N connections each holding a distinct resource (RSS per resource)
  idle     N resources kept alive by an idle lifespan after their clients left
  queue    one holder and N-1 waiters on one resource, then the chain of grants
  floor    the cycle exchange against a trivial responder run by the tool
  cli      N runs of `FLOM -s SOCKET -- COMMAND` beside COMMAND and `flock FILE COMMAND`
  all      a short default set, printed as a table

Options:
  -s, --socket PATH       daemon UNIX socket
      --tcp HOST:PORT     daemon TCP address (loopback only)
  -c, --clients N         concurrent clients (cycle/floor 1, contend 64, idle 1)
  -t, --time SECS         duration of a timed run (cycle/floor 5, contend 10, all 2)
  -n, --count N           cycles (cycle/contend/floor, instead of -t), resources
                          (hold 1000, idle 10000), waiters (queue 1000), runs (cli 200)
  -i, --idle-lifespan MS  idle lifespan of the resources of `idle` (600000)
  -p, --daemon-pid PID    read the daemon's VmRSS and Threads from /proc/PID/status
      --json              print JSON lines instead of text
      --flom PATH         the flom command (cli; all runs cli only when given)
      --lock-file FILE    file for `flock FILE COMMAND` (cli; default a temp file)
      --prefix NAME       resource name prefix (letters and digits; default fbPID)
      --probe SECS        duration of the cycle probes of hold/idle (1; 0 = none)
      --expiry            idle: wait for the lifespan to expire, probing meanwhile
      --io-timeout MS     abort when nothing progresses for this long (10000)
      --max-time SECS     abort the whole run after this long (3600)
      --tls CERT KEY CA   the daemon speaks TLS: connect with this certificate,
                          private key and CA certificate (PEM files)
  -h, --help              this text
";

fn opt_num<T: std::str::FromStr>(m: &getopts::Matches, name: &str) -> Result<Option<T>, String> {
    match m.opt_str(name) {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse::<T>()
            .map(Some)
            .map_err(|_| format!("invalid value '{v}' for --{name}")),
    }
}

fn positive_secs(v: Option<f64>, name: &str, allow_zero: bool) -> Result<Option<f64>, String> {
    match v {
        Some(x) if !x.is_finite() || x < 0.0 || (x == 0.0 && !allow_zero) => {
            Err(format!("--{name} must be a positive number of seconds"))
        }
        other => Ok(other),
    }
}

/// A resource name prefix must keep the names simple resources: a letter,
/// then letters and digits.
pub fn valid_prefix(p: &str) -> bool {
    let b = p.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && b[0].is_ascii_alphabetic()
        && b.iter().all(u8::is_ascii_alphanumeric)
}

/// Resolves `HOST:PORT` and refuses anything that is not loopback.
pub fn parse_tcp(s: &str) -> Result<SocketAddr, String> {
    let addrs: Vec<SocketAddr> = s
        .to_socket_addrs()
        .map_err(|e| format!("--tcp {s}: {e}"))?
        .collect();
    let first = addrs
        .first()
        .copied()
        .ok_or_else(|| format!("--tcp {s}: no address"))?;
    if addrs.iter().any(|a| !a.ip().is_loopback()) {
        return Err(format!("--tcp {s}: only loopback addresses are allowed"));
    }
    Ok(first)
}

/// Parses the arguments (without the program name).
/// Takes `--tls CERT KEY CA` (three values, before any `--`) out of `args`.
fn take_tls(args: &[String]) -> Result<(Vec<String>, Option<[PathBuf; 3]>), String> {
    let end = args.iter().position(|a| a == "--").unwrap_or(args.len());
    let Some(at) = args[..end].iter().position(|a| a == "--tls") else {
        return Ok((args.to_vec(), None));
    };
    let values = &args[at + 1..end.min(at + 4)];
    if values.len() < 3 || values.iter().any(|v| v.is_empty() || v.starts_with('-')) {
        return Err("--tls needs three files: CERT KEY CA".into());
    }
    let files = [values[0].clone(), values[1].clone(), values[2].clone()].map(PathBuf::from);
    let mut rest = args[..at].to_vec();
    rest.extend_from_slice(&args[at + 4..]);
    if rest[..end - 4].iter().any(|a| a == "--tls") {
        return Err("--tls given twice".into());
    }
    Ok((rest, Some(files)))
}

pub fn parse(args: &[String], default_prefix: &str) -> Result<Parsed, String> {
    let (args, tls) = take_tls(args)?;
    let args = &args[..];
    let mut o = getopts::Options::new();
    o.optopt("s", "socket", "", "PATH");
    o.optopt("", "tcp", "", "HOST:PORT");
    o.optopt("c", "clients", "", "N");
    o.optopt("t", "time", "", "SECS");
    o.optopt("n", "count", "", "N");
    o.optopt("i", "idle-lifespan", "", "MS");
    o.optopt("p", "daemon-pid", "", "PID");
    o.optflag("", "json", "");
    o.optopt("", "flom", "", "PATH");
    o.optopt("", "lock-file", "", "FILE");
    o.optopt("", "prefix", "", "NAME");
    o.optopt("", "probe", "", "SECS");
    o.optflag("", "expiry", "");
    o.optopt("", "io-timeout", "", "MS");
    o.optopt("", "max-time", "", "SECS");
    o.optflag("h", "help", "");
    let m = o.parse(args).map_err(|e| e.to_string())?;
    if m.opt_present("help") {
        return Ok(Parsed::Help);
    }
    let mut free = m.free.iter();
    let scenario = match free.next() {
        None => return Err("no scenario given".into()),
        Some(s) => Scenario::parse(s).ok_or_else(|| format!("unknown scenario '{s}'"))?,
    };
    let command: Vec<String> = free.cloned().collect();
    if !command.is_empty() && !matches!(scenario, Scenario::Cli | Scenario::All) {
        return Err(format!("unexpected argument '{}'", command[0]));
    }
    let target = match (m.opt_str("socket"), m.opt_str("tcp")) {
        (Some(_), Some(_)) => return Err("give either --socket or --tcp, not both".into()),
        (Some(p), None) if p.is_empty() => return Err("empty --socket path".into()),
        (Some(p), None) => Some(Target::Unix(PathBuf::from(p))),
        (None, Some(a)) => Some(Target::Tcp(parse_tcp(&a)?)),
        (None, None) => None,
    };
    if target.is_none() && scenario != Scenario::Floor {
        return Err(format!(
            "{} needs --socket PATH or --tcp HOST:PORT",
            scenario.name()
        ));
    }
    let clients: Option<usize> = opt_num(&m, "clients")?;
    if let Some(c) = clients {
        if c == 0 || c > 4096 {
            return Err("--clients must be between 1 and 4096".into());
        }
    }
    let time = positive_secs(opt_num(&m, "time")?, "time", false)?;
    let count: Option<u64> = opt_num(&m, "count")?;
    if count == Some(0) {
        return Err("--count must be at least 1".into());
    }
    let probe = positive_secs(opt_num(&m, "probe")?, "probe", true)?.unwrap_or(1.0);
    let max_time = positive_secs(opt_num(&m, "max-time")?, "max-time", false)?.unwrap_or(3600.0);
    let io_timeout_ms: u64 = opt_num(&m, "io-timeout")?.unwrap_or(10_000);
    if io_timeout_ms == 0 {
        return Err("--io-timeout must be at least 1 ms".into());
    }
    let prefix = m
        .opt_str("prefix")
        .unwrap_or_else(|| default_prefix.to_string());
    if !valid_prefix(&prefix) {
        return Err(format!(
            "invalid --prefix '{prefix}': a letter, then letters and digits"
        ));
    }
    let flom = m.opt_str("flom").map(PathBuf::from);
    if scenario == Scenario::Cli && flom.is_none() {
        return Err("cli needs --flom PATH".into());
    }
    Ok(Parsed::Run(Box::new(Options {
        scenario,
        target,
        clients,
        time,
        count,
        idle_lifespan_ms: opt_num(&m, "idle-lifespan")?,
        daemon_pid: opt_num(&m, "daemon-pid")?,
        json: m.opt_present("json"),
        flom,
        lock_file: m.opt_str("lock-file").map(PathBuf::from),
        command,
        prefix,
        probe,
        expiry: m.opt_present("expiry"),
        io_timeout_ms,
        max_time,
        tls,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Options, String> {
        let v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        match parse(&v, "fb1")? {
            Parsed::Run(o) => Ok(*o),
            Parsed::Help => Err("help".into()),
        }
    }

    #[test]
    fn tls_takes_three_files() {
        let o = p(&["cycle", "--tls", "c.pem", "k.pem", "ca.pem", "-s", "/s"]).unwrap();
        assert_eq!(
            o.tls,
            Some([PathBuf::from("c.pem"), "k.pem".into(), "ca.pem".into()])
        );
        assert_eq!(o.target, Some(Target::Unix("/s".into())));
        assert!(p(&["cycle", "-s", "/s", "--tls", "c.pem", "k.pem"]).is_err());
        assert!(p(&["cycle", "-s", "/s", "--tls", "c", "-k", "ca"]).is_err());
        assert_eq!(p(&["hold", "-s", "/s"]).unwrap().tls, None);
    }

    #[test]
    fn cycle_with_socket() {
        let o = p(&["cycle", "--socket", "/tmp/x.sock", "-c", "4", "-t", "1.5"]).unwrap();
        assert_eq!(o.scenario, Scenario::Cycle);
        assert_eq!(o.target, Some(Target::Unix("/tmp/x.sock".into())));
        assert_eq!(o.clients, Some(4));
        assert_eq!(o.time, Some(1.5));
        assert_eq!(o.count, None);
        assert_eq!(o.prefix, "fb1");
        assert!(!o.json);
        assert_eq!(o.io_timeout_ms, 10_000);
    }

    #[test]
    fn options_may_precede_the_scenario() {
        let o = p(&["-s", "/s", "--json", "-n", "100", "contend", "-p", "42"]).unwrap();
        assert_eq!(o.scenario, Scenario::Contend);
        assert_eq!(o.count, Some(100));
        assert_eq!(o.daemon_pid, Some(42));
        assert!(o.json);
    }

    #[test]
    fn tcp_loopback_only() {
        let o = p(&["hold", "--tcp", "127.0.0.1:28017"]).unwrap();
        assert_eq!(
            o.target,
            Some(Target::Tcp("127.0.0.1:28017".parse().unwrap()))
        );
        assert!(p(&["hold", "--tcp", "[::1]:28017"]).is_ok());
        assert!(p(&["hold", "--tcp", "198.18.2.3:28017"])
            .unwrap_err()
            .contains("loopback"));
        assert!(p(&["hold", "--tcp", "127.0.0.1"]).is_err());
        assert!(p(&["hold", "--tcp", "127.0.0.1:1", "-s", "/x"]).is_err());
    }

    #[test]
    fn target_required_except_floor() {
        assert!(p(&["cycle"]).unwrap_err().contains("--socket"));
        let o = p(&["floor", "-c", "64"]).unwrap();
        assert_eq!(o.target, None);
        assert_eq!(o.clients, Some(64));
    }

    #[test]
    fn cli_command_after_double_dash() {
        let o = p(&[
            "cli",
            "--flom",
            "/bin/flom",
            "-s",
            "/s",
            "-n",
            "5",
            "--",
            "sh",
            "-c",
            "exit 0",
        ])
        .unwrap();
        assert_eq!(o.flom, Some(PathBuf::from("/bin/flom")));
        assert_eq!(o.command, vec!["sh", "-c", "exit 0"]);
        assert_eq!(o.count, Some(5));
        assert!(p(&["cli", "-s", "/s"]).unwrap_err().contains("--flom"));
        assert!(p(&["cycle", "-s", "/s", "extra"]).is_err());
    }

    #[test]
    fn idle_options() {
        let o = p(&[
            "idle", "-s", "/s", "-n", "100000", "-i", "600000", "--expiry", "--probe", "0",
        ])
        .unwrap();
        assert_eq!(o.idle_lifespan_ms, Some(600_000));
        assert_eq!(o.count, Some(100_000));
        assert!(o.expiry);
        assert_eq!(o.probe, 0.0);
    }

    #[test]
    fn bad_values() {
        assert!(p(&["nope", "-s", "/s"]).is_err());
        assert!(p(&[]).is_err());
        assert!(p(&["cycle", "-s", "/s", "-c", "0"]).is_err());
        assert!(p(&["cycle", "-s", "/s", "-c", "x"]).is_err());
        assert!(p(&["cycle", "-s", "/s", "-t", "0"]).is_err());
        assert!(p(&["cycle", "-s", "/s", "-t", "-1"]).is_err());
        assert!(p(&["cycle", "-s", "/s", "-n", "0"]).is_err());
        assert!(p(&["cycle", "-s", "/s", "--prefix", "1abc"]).is_err());
        assert!(p(&["cycle", "-s", "/s", "--prefix", "a.b"]).is_err());
        assert!(p(&["cycle", "-s", "/s", "--io-timeout", "0"]).is_err());
        assert!(p(&["cycle", "-s", "", "-n", "1"]).is_err());
        let v = vec!["-h".to_string()];
        assert!(matches!(parse(&v, "fb1"), Ok(Parsed::Help)));
    }

    #[test]
    fn prefixes() {
        assert!(valid_prefix("fb123"));
        assert!(valid_prefix("X"));
        assert!(!valid_prefix(""));
        assert!(!valid_prefix("_x"));
        assert!(!valid_prefix("a-b"));
    }
}
