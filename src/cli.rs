//! Command line of `flom`: the options that are not settings (help, `-v`,
//! `-c`, `-x`, ...) and the help order, parsing with `getopts` (options anywhere before `--`, the other words and
//! everything after `--` form the command), C `strtol`-style integers, the
//! informational modes (`-h`, `-v`, `--signal-list`, `--unique-id`), the
//! layering of the command line over the config files through the option
//! table (`options`, with C FLoM's first line for a bad value), and the order
//! of checks of C FLoM up to "No command to execute!".
//!
//! Differences from C FLoM (deliberate): a value given on the command line
//! always overrides the config files, even when it equals the built-in
//! default (`-o -1`, `-d 5000`, `-i 0`, ...); values are parsed strictly;
//! `--ignore-signal` accepts names in any letter case and warns about unknown
//! signals instead of dropping them silently; a short option also accepts an
//! attached value (`-o100`), which C rejects.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

use getopts::{Fail, Matches, Options, ParsingStyle};

use crate::config::{self, Config};
use crate::options::{self, CLine, Invalid, Kind as SettingKind, Place, Setting};
use crate::rc;
use crate::values::ResourceNameError;
pub use crate::values::{parse_c_int, IntError};

/// What `flom` must do once the command line is understood.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Lock, run this command (never empty), unlock.
    Run(Vec<String>),
    /// `-x` (quiesce) or `-X` (immediate): ask the daemon to shut down.
    Shutdown { immediate: bool },
    /// `--debug-feature=NAME`.
    DebugFeature(String),
}

/// The effective configuration and the action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invocation {
    pub config: Config,
    pub action: Action,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Flag,
    Str,
    Int,
}

/// How an option looks to getopts and in the help: short name ("" when
/// none), long name, value hint, help text.
#[derive(Clone, Copy)]
struct OptDef {
    short: &'static str,
    long: &'static str,
    kind: Kind,
    hint: &'static str,
    help: &'static str,
}

const fn flag(short: &'static str, long: &'static str, help: &'static str) -> OptDef {
    OptDef {
        short,
        long,
        kind: Kind::Flag,
        hint: "",
        help,
    }
}

const fn string(
    short: &'static str,
    long: &'static str,
    hint: &'static str,
    help: &'static str,
) -> OptDef {
    OptDef {
        short,
        long,
        kind: Kind::Str,
        hint,
        help,
    }
}

/// The help switches (GOption's).
const HELP_OPTIONS: [OptDef; 3] = [
    flag("h", "help", "Show this help and exit"),
    flag("?", "", "Show this help and exit"),
    flag("", "help-all", "Show this help and exit"),
];

/// The options that are not settings (the settings are in the option table).
const ACTIONS: [OptDef; 7] = [
    flag("v", "version", "Print version information and exit"),
    string(
        "c",
        "config-file",
        "FILE",
        "Read this configuration file after the system and user ones",
    ),
    flag(
        "",
        "signal-list",
        "Print the signals --ignore-signal accepts and exit",
    ),
    flag(
        "x",
        "quiesce-exit",
        "Ask the daemon to exit after the current requests",
    ),
    flag("X", "immediate-exit", "Ask the daemon to exit now"),
    flag("", "unique-id", "Print the unique id of this host and exit"),
    string("", "debug-feature", "NAME", "Run a debug helper and exit"),
];

/// The application options in help order, by long name: the actions and
/// every setting of the option table.
const HELP_ORDER: [&str; 36] = [
    "version",
    "verbose",
    "config-file",
    "resource-name",
    "resource-timeout",
    "resource-quantity",
    "resource-create",
    "resource-idle-lifespan",
    "lock-mode",
    "socket-name",
    "daemon-lifespan",
    "unicast-address",
    "unicast-port",
    "multicast-address",
    "multicast-port",
    "mount-point-vfs",
    "network-interface",
    "discovery-attempts",
    "discovery-timeout",
    "discovery-ttl",
    "tcp-keepalive-time",
    "tcp-keepalive-intvl",
    "tcp-keepalive-probes",
    "tls-certificate",
    "tls-private-key",
    "tls-ca-certificate",
    "tls-check-peer-id",
    "ignore-signal",
    "signal-list",
    "daemon-trace-file",
    "command-trace-file",
    "append-trace-file",
    "quiesce-exit",
    "immediate-exit",
    "unique-id",
    "debug-feature",
];

/// A setting as an option.
fn setting_option(s: &'static Setting) -> OptDef {
    let kind = if !s.takes_value() {
        Kind::Flag
    } else if s.is_int() {
        Kind::Int
    } else {
        Kind::Str
    };
    OptDef {
        short: s.short,
        long: s.long,
        kind,
        hint: s.hint,
        help: s.help,
    }
}

/// The application options, in help order.
fn application_options() -> impl Iterator<Item = OptDef> {
    HELP_ORDER
        .iter()
        .map(|long| {
            ACTIONS
                .iter()
                .copied()
                .find(|d| d.long == *long)
                .or_else(|| options::by_long(long).map(setting_option))
                .unwrap_or_else(|| unreachable!("--{long} is neither an action nor a setting"))
        })
        .chain(
            options::extensions()
                .filter(|s| !s.long.is_empty())
                .map(setting_option),
        )
}

fn all_options() -> impl Iterator<Item = OptDef> {
    HELP_OPTIONS.iter().copied().chain(application_options())
}

fn build_options() -> Options {
    let mut opts = Options::new();
    opts.parsing_style(ParsingStyle::FloatingFrees);
    for d in all_options() {
        match d.kind {
            Kind::Flag => opts.optflagmulti(d.short, d.long, d.help),
            Kind::Str | Kind::Int => opts.optmulti(d.short, d.long, d.help, d.hint),
        };
    }
    opts
}

fn find_long(name: &str) -> Option<OptDef> {
    all_options().find(|d| !d.long.is_empty() && d.long == name)
}

fn find_short(c: char) -> Option<OptDef> {
    all_options().find(|d| d.short.len() == c.len_utf8() && d.short.starts_with(c))
}

/// The text of each getopts "event" (one per loop step: a free word or an
/// option token, the consumed value not counted), to recover how the user
/// typed an option. Stops at `--`.
fn event_tokens(args: &[String]) -> Vec<&str> {
    let mut ev = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let cur = args[i].as_str();
        i += 1;
        if cur == "--" {
            break;
        }
        ev.push(cur);
        if cur.len() < 2 || !cur.starts_with('-') {
            continue;
        }
        if let Some(long) = cur.strip_prefix("--") {
            if !long.contains('=') && find_long(long).is_some_and(|d| d.kind != Kind::Flag) {
                i += 1;
            }
        } else {
            for (j, ch) in cur.char_indices().skip(1) {
                if find_short(ch).is_some_and(|d| d.kind != Kind::Flag) {
                    if j + ch.len_utf8() == cur.len() {
                        i += 1;
                    }
                    break;
                }
            }
        }
    }
    ev
}

/// The first token naming an unknown option (as GOption reports it).
fn unknown_token(args: &[String]) -> Option<&str> {
    for tok in event_tokens(args) {
        if tok.len() < 2 || !tok.starts_with('-') {
            continue;
        }
        if let Some(long) = tok.strip_prefix("--") {
            let name = long.split('=').next().unwrap_or("");
            if find_long(name).is_none() {
                return Some(tok);
            }
        } else {
            for ch in tok.chars().skip(1) {
                match find_short(ch) {
                    None => return Some(tok),
                    Some(d) if d.kind != Kind::Flag => break,
                    Some(_) => {}
                }
            }
        }
    }
    None
}

/// How the user typed option `d` in token `tok` (`-o` or `--resource-timeout`).
fn typed_name(d: &OptDef, tok: Option<&str>) -> String {
    match tok {
        Some(t) if t.starts_with("--") => t.split('=').next().unwrap_or(t).to_string(),
        Some(_) if !d.short.is_empty() => format!("-{}", d.short),
        _ => format!("--{}", d.long),
    }
}

fn fail_message(f: &Fail, args: &[String]) -> String {
    let dashed = |n: &str| {
        if n.chars().count() == 1 {
            format!("-{n}")
        } else {
            format!("--{n}")
        }
    };
    match f {
        Fail::UnrecognizedOption(n) => match unknown_token(args) {
            Some(tok) => format!("Unknown option {tok}"),
            None => format!("Unknown option {}", dashed(n)),
        },
        Fail::ArgumentMissing(n) => format!("Missing argument for {}", dashed(n)),
        Fail::UnexpectedArgument(n) => {
            format!("Option {} does not take an argument", dashed(n))
        }
        other => other.to_string(),
    }
}

/// The `-v` text: 7 lines.
pub fn version_text() -> String {
    format!(
        "FLoM: Free Lock Manager\n\
         Copyright (c) 2013-2024, Christian Ferrari; all rights reserved.\n\
         License: GPL (GNU Public License) version 2\n\
         Package name: flom; package version: {}; release date: 2024-03-02\n\
         TLS supported protocol(s): All TLS protocols\n\
         Access https://github.com/tiian/flom for project community activities\n\
         Documentation is available at http://www.tiian.org/flom/\n",
        env!("CARGO_PKG_VERSION")
    )
}

/// The `-h` text.
pub fn help_text() -> String {
    let left = |d: &OptDef| {
        let mut s = String::from("  ");
        match (d.short.is_empty(), d.long.is_empty()) {
            (false, false) => s.push_str(&format!("-{}, --{}", d.short, d.long)),
            (false, true) => s.push_str(&format!("-{}", d.short)),
            (true, _) => s.push_str(&format!("    --{}", d.long)),
        }
        if d.kind != Kind::Flag {
            s.push('=');
            s.push_str(d.hint);
        }
        s
    };
    let width = all_options().map(|d| left(&d).len()).max().unwrap_or(0) + 2;
    let mut out =
        String::from("Usage:\n  flom [OPTION?] [-- command to execute]\n\nHelp Options:\n");
    for d in HELP_OPTIONS.iter() {
        out.push_str(&format!("{:width$}{}\n", left(d), d.help));
    }
    out.push_str("\nApplication Options:\n");
    for d in application_options() {
        out.push_str(&format!("{:width$}{}\n", left(&d), d.help));
    }
    out.push_str(
        "\nThe command runs while the resource is locked; its exit status is flom's.\n\
         Put the command after -- when it has options of its own.\n",
    );
    out.push_str(&crate::help_sections::help_epilogue());
    out
}

/// Where `parse_with` finds the config files, and whether it may touch the
/// process-wide trace destination.
#[derive(Clone, Debug)]
pub struct Context {
    pub system_config: Option<PathBuf>,
    pub user_config: Option<PathBuf>,
    pub init_trace: bool,
}

impl Context {
    /// The real files: `<SYSCONFDIR>/flom.conf` and `$HOME/.flom`.
    pub fn from_environment() -> Context {
        Context {
            system_config: Some(config::system_config_path()),
            user_config: config::user_config_path(),
            init_trace: true,
        }
    }
}

/// Parses argv (including argv[0]), loads config files, applies overrides, prints the verbose dump when verbose,
/// runs the config check, handles -h/-v/--signal-list/--unique-id and "No command to execute!" (stderr, exit 97).
/// Ok(invocation) when flom must go on; Err(exit_status) when it must exit now (messages already printed).
pub fn parse(args: &[String]) -> Result<Invocation, i32> {
    let ctx = Context::from_environment();
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let r = parse_with(args, &ctx, &mut stdout.lock(), &mut stderr.lock());
    let _ = std::io::stdout().flush();
    r
}

/// [`parse`] with explicit config files and output streams.
pub fn parse_with(
    args: &[String],
    ctx: &Context,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Invocation, i32> {
    let args = args.get(1..).unwrap_or(&[]);
    let usage_error = |err: &mut dyn Write, msg: String| {
        let _ = writeln!(err, "option parsing failed: {msg}");
        rc::ES_GENERIC_ERROR
    };
    let m = match build_options().parse(args) {
        Ok(m) => m,
        Err(f) => return Err(usage_error(err, fail_message(&f, args))),
    };
    if m.opt_present("help") || m.opt_present("?") || m.opt_present("help-all") {
        let _ = out.write_all(help_text().as_bytes());
        let _ = out.flush();
        return Err(rc::ES_OK);
    }
    // Integers are checked in command-line order, like GOption does.
    let events = event_tokens(args);
    let mut occurrences = Vec::new();
    for s in options::all().filter(|s| s.is_int() && !s.long.is_empty()) {
        for (pos, v) in m.opt_strs_pos(s.long) {
            occurrences.push((pos, s, v));
        }
    }
    occurrences.sort_by_key(|(pos, _, _)| *pos);
    let mut ints: HashMap<&'static str, i32> = HashMap::new();
    for (pos, s, v) in occurrences {
        match parse_c_int(&v) {
            Ok(n) => {
                ints.insert(s.long, n);
            }
            Err(e) => {
                let name = typed_name(&setting_option(s), events.get(pos).copied());
                let msg = match e {
                    IntError::Invalid => {
                        format!("Cannot parse integer value \u{201c}{v}\u{201d} for {name}")
                    }
                    IntError::OutOfRange => {
                        format!("Integer value \u{201c}{v}\u{201d} for {name} out of range")
                    }
                };
                return Err(usage_error(err, msg));
            }
        }
    }

    let version = m.opt_present("version");
    let signals = m.opt_present("signal-list");
    if version {
        let _ = out.write_all(version_text().as_bytes());
    }
    if signals {
        let _ = out.write_all(config::signal_list().as_bytes());
    }
    if version || signals {
        let _ = out.flush();
        return Err(rc::ES_OK);
    }
    if m.opt_present("unique-id") {
        let _ = writeln!(out, "{}", config::unique_id());
        let _ = out.flush();
        return Err(rc::ES_OK);
    }
    if ctx.init_trace {
        crate::trace::init(None, false);
    }

    let custom = last(&m, "config-file").map(PathBuf::from);
    let mut warnings = Vec::new();
    let loaded = Config::load_layers_collect(
        ctx.system_config.as_deref(),
        ctx.user_config.as_deref(),
        custom.as_deref(),
        &mut warnings,
    );
    for w in &warnings {
        let _ = writeln!(err, "{w}");
    }
    let mut config = match loaded {
        Ok(c) => c,
        Err(e) => {
            e.report(out, err);
            return Err(e.exit_status());
        }
    };
    crate::trace!(
        crate::trace::CONFIG,
        "cli: configuration loaded (system {:?}, user {:?}, custom {:?})",
        ctx.system_config,
        ctx.user_config,
        custom
    );

    apply_overrides(&m, &ints, &mut config, out, err)?;

    if ctx.init_trace {
        if let Some(f) = &config.command_trace_file {
            crate::trace::init(Some(f), config.append_trace_file);
        }
    }
    if config.verbose {
        let _ = out.write_all(config.verbose_dump().as_bytes());
        let _ = out.flush();
    }
    if let Err(e) = config.check() {
        e.report(out, err);
        return Err(e.exit_status());
    }
    let adjust_warnings = config.adjust_for_resource_type_collect();
    if config.verbose {
        for w in adjust_warnings {
            let _ = writeln!(err, "{w}");
        }
    }

    if let Some(name) = last(&m, "debug-feature") {
        return Ok(Invocation {
            config,
            action: Action::DebugFeature(name),
        });
    }
    let immediate = m.opt_present("immediate-exit");
    if immediate || m.opt_present("quiesce-exit") {
        return Ok(Invocation {
            config,
            action: Action::Shutdown { immediate },
        });
    }
    if m.free.is_empty() {
        let _ = writeln!(err, "No command to execute!");
        return Err(rc::ES_UNABLE_TO_EXECUTE_COMMAND);
    }
    Ok(Invocation {
        config,
        action: Action::Run(m.free.clone()),
    })
}

/// The last value of a repeatable option.
fn last(m: &Matches, name: &str) -> Option<String> {
    m.opt_strs(name).pop()
}

/// Applies the command line over the config files, setting by setting in
/// C FLoM's order (which decides the error reported first).
fn apply_overrides(
    m: &Matches,
    ints: &HashMap<&'static str, i32>,
    c: &mut Config,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), i32> {
    let extension_longs = options::extensions()
        .map(|s| s.long)
        .filter(|l| !l.is_empty());
    for long in options::COMMAND_LINE_ORDER
        .into_iter()
        .chain(extension_longs)
    {
        let setting = options::by_long(long)
            .unwrap_or_else(|| unreachable!("--{long} is not in the option table"));
        let place = Place::Option(setting);
        let warning = match &setting.kind {
            SettingKind::Switch(slot) => {
                if m.opt_present(long) {
                    *(slot.get_mut)(c) = true;
                }
                None
            }
            SettingKind::Int(..) => ints
                .get(long)
                .and_then(|&v| setting.store_int(c, v, &place)),
            SettingKind::Signals(_) => {
                // The command-line list replaces the config list.
                let items = m.opt_strs(long);
                if !items.is_empty() {
                    for w in setting.store_signals(c, &items, &place) {
                        let _ = writeln!(err, "{w}");
                    }
                }
                None
            }
            _ => match last(m, long) {
                None => None,
                Some(v) => match setting.store_text(c, &v, &place) {
                    Ok(w) => w,
                    Err(invalid) => {
                        report_invalid(setting, &v, &invalid, &place, out, err);
                        return Err(rc::ES_GENERIC_ERROR);
                    }
                },
            },
        };
        if let Some(w) = warning {
            let _ = writeln!(err, "{w}");
        }
    }
    Ok(())
}

/// Prints a bad command-line value: C FLoM's line first (on the stream C
/// uses), then the sentence shared with the config files.
fn report_invalid(
    setting: &Setting,
    value: &str,
    invalid: &Invalid,
    place: &Place,
    out: &mut dyn Write,
    err: &mut dyn Write,
) {
    let long = setting.long;
    match setting.c_line {
        CLine::ResourceName => {
            let _ = match invalid.resource_name {
                Some(ResourceNameError::Reserved) => writeln!(
                    out,
                    "ERROR: '{value}' is a reserved resource name and can not be set by user"
                ),
                _ => writeln!(out, "ERROR: '{value}' is not a valid name for a resource"),
            };
            let _ = out.flush();
            let _ = writeln!(
                err,
                "flom_config_set_resource_name: ret_cod={}",
                rc::INVALID_RESOURCE_NAME
            );
            return;
        }
        CLine::InvalidOnStdout => {
            let _ = writeln!(out, "{long}: '{value}' is an invalid value");
            let _ = out.flush();
        }
        CLine::InvalidOnStderr => {
            let _ = writeln!(err, "{long}: '{value}' is an invalid value");
        }
        CLine::NotValidOnStderr => {
            let _ = writeln!(err, "{long}: '{value}' is not a valid value");
        }
        CLine::None => {}
    }
    let _ = writeln!(err, "{}", place.sentence(&invalid.reason));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::LockMode;
    use std::path::Path;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Out {
        result: Result<Invocation, i32>,
        out: String,
        err: String,
    }

    fn ctx(system: Option<&Path>, user: Option<&Path>) -> Context {
        Context {
            system_config: system.map(Path::to_path_buf),
            user_config: user.map(Path::to_path_buf),
            init_trace: false,
        }
    }

    fn run_ctx(args: &[&str], ctx: &Context) -> Out {
        let mut argv = vec!["flom".to_string()];
        argv.extend(args.iter().map(|s| s.to_string()));
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let result = parse_with(&argv, ctx, &mut out, &mut err);
        Out {
            result,
            out: String::from_utf8(out).unwrap(),
            err: String::from_utf8(err).unwrap(),
        }
    }

    fn run(args: &[&str]) -> Out {
        run_ctx(args, &ctx(None, None))
    }

    /// Runs `args` + `-- true` and returns the configuration.
    fn cfg(args: &[&str]) -> Config {
        let mut a = args.to_vec();
        a.extend(["--", "true"]);
        let o = run(&a);
        match o.result {
            Ok(inv) => inv.config,
            Err(s) => panic!("{args:?}: exit {s}, out {:?}, err {:?}", o.out, o.err),
        }
    }

    /// Runs `-V args -- true` and returns the dump line for `key`.
    fn dump_line(args: &[&str], key: &str) -> String {
        let mut a = vec!["-V"];
        a.extend(args);
        a.extend(["--", "true"]);
        let o = run(&a);
        o.out
            .lines()
            .find(|l| l.starts_with(key))
            .unwrap_or_else(|| panic!("{key} not in {:?} (err {:?})", o.out, o.err))
            .to_string()
    }

    fn temp_dir(tag: &str) -> PathBuf {
        static N: AtomicUsize = AtomicUsize::new(0);
        let d = std::env::temp_dir().join(format!(
            "flom-cli-test-{}-{}-{}",
            std::process::id(),
            tag,
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn c_integers() {
        assert_eq!(parse_c_int("100"), Ok(100));
        assert_eq!(parse_c_int("-100"), Ok(-100));
        assert_eq!(parse_c_int("+5"), Ok(5));
        assert_eq!(parse_c_int("0x1f"), Ok(31));
        assert_eq!(parse_c_int("0X1F"), Ok(31));
        assert_eq!(parse_c_int("-0x10"), Ok(-16));
        assert_eq!(parse_c_int("010"), Ok(8));
        assert_eq!(parse_c_int("0"), Ok(0));
        assert_eq!(parse_c_int("  7"), Ok(7));
        assert_eq!(parse_c_int("2147483647"), Ok(i32::MAX));
        assert_eq!(parse_c_int("-2147483648"), Ok(i32::MIN));
        assert_eq!(parse_c_int("2147483648"), Err(IntError::OutOfRange));
        assert_eq!(parse_c_int("0xffffffff"), Err(IntError::OutOfRange));
        assert_eq!(
            parse_c_int("99999999999999999999999"),
            Err(IntError::OutOfRange)
        );
        for bad in [
            "", " ", "-", "abc", "12abc", "08", "0x", "0xg", "7 ", "=100", "1.5",
        ] {
            assert_eq!(parse_c_int(bad), Err(IntError::Invalid), "{bad:?}");
        }
    }

    #[test]
    fn version_exact() {
        let o = run(&["-v"]);
        assert_eq!(o.result, Err(0));
        assert_eq!(
            o.out,
            "FLoM: Free Lock Manager\n\
             Copyright (c) 2013-2024, Christian Ferrari; all rights reserved.\n\
             License: GPL (GNU Public License) version 2\n\
             Package name: flom; package version: 1.7.2; release date: 2024-03-02\n\
             TLS supported protocol(s): All TLS protocols\n\
             Access https://github.com/tiian/flom for project community activities\n\
             Documentation is available at http://www.tiian.org/flom/\n"
        );
        assert_eq!(run(&["--version", "--", "ls"]).out, o.out);
    }

    #[test]
    fn signal_list_and_version_together() {
        let o = run(&["--signal-list"]);
        assert_eq!(o.result, Err(0));
        assert_eq!(o.out, config::signal_list());
        assert!(o.out.ends_with("29) SIGIO\t30) SIGPWR\t31) SIGSYS\t\n"));
        let o = run(&["--signal-list", "-v"]);
        assert_eq!(o.result, Err(0));
        assert_eq!(o.out, version_text() + &config::signal_list());
    }

    #[test]
    fn unique_id_mode() {
        let o = run(&["--unique-id", "--", "ls"]);
        assert_eq!(o.result, Err(0));
        assert_eq!(o.out, format!("{}\n", config::unique_id()));
        // version wins over unique id
        assert_eq!(run(&["--unique-id", "-v"]).out, version_text());
    }

    #[test]
    fn help_lists_every_option() {
        for h in ["-h", "--help", "-?", "--help-all"] {
            let o = run(&[h]);
            assert_eq!(o.result, Err(0), "{h}");
            assert!(o
                .out
                .starts_with("Usage:\n  flom [OPTION?] [-- command to execute]\n"));
            for d in application_options() {
                assert!(o.out.contains(&format!("--{}", d.long)), "{}", d.long);
                if !d.short.is_empty() {
                    assert!(o.out.contains(&format!("-{}, --{}", d.short, d.long)));
                }
            }
            assert!(o.err.is_empty());
        }
    }

    #[test]
    fn command_collection() {
        let o = run(&["echo", "a", "-V"]);
        assert_eq!(
            o.result.as_ref().unwrap().action,
            Action::Run(vec!["echo".into(), "a".into()])
        );
        assert!(o.result.unwrap().config.verbose);
        let o = run(&["-r", "x", "--", "ls", "-l", "--", "-V"]);
        let inv = o.result.unwrap();
        assert_eq!(
            inv.action,
            Action::Run(vec!["ls".into(), "-l".into(), "--".into(), "-V".into()])
        );
        assert!(!inv.config.verbose);
        let o = run(&["echo", "hi", "there"]);
        assert_eq!(
            o.result.unwrap().action,
            Action::Run(vec!["echo".into(), "hi".into(), "there".into()])
        );
        let o = run(&["echo", "--", "-x", "-"]);
        assert_eq!(
            o.result.unwrap().action,
            Action::Run(vec!["echo".into(), "-x".into(), "-".into()])
        );
    }

    #[test]
    fn no_command() {
        for args in [&[][..], &["--"][..], &["-r", "abc"][..]] {
            let o = run(args);
            assert_eq!(o.result, Err(97));
            assert_eq!(o.err, "No command to execute!\n");
            assert!(o.out.is_empty());
        }
        let o = run(&["-V"]);
        assert_eq!(o.result, Err(97));
        assert_eq!(o.out.lines().count(), 29);
        assert_eq!(o.err, "No command to execute!\n");
    }

    #[test]
    fn shutdown_and_debug_feature() {
        for (a, imm) in [
            ("-x", false),
            ("--quiesce-exit", false),
            ("-X", true),
            ("--immediate-exit", true),
        ] {
            let o = run(&[a, "--", "ls"]);
            assert_eq!(
                o.result.unwrap().action,
                Action::Shutdown { immediate: imm },
                "{a}"
            );
        }
        let o = run(&["-x", "-X"]);
        assert_eq!(
            o.result.unwrap().action,
            Action::Shutdown { immediate: true }
        );
        let o = run(&["-Vx"]);
        let inv = o.result.unwrap();
        assert!(inv.config.verbose);
        assert_eq!(inv.action, Action::Shutdown { immediate: false });
        let o = run(&["--debug-feature=TLS.Server", "-x"]);
        assert_eq!(
            o.result.unwrap().action,
            Action::DebugFeature("TLS.Server".into())
        );
        let o = run(&["--debug-feature", "ipv6.multicast.client"]);
        assert_eq!(
            o.result.unwrap().action,
            Action::DebugFeature("ipv6.multicast.client".into())
        );
    }

    #[test]
    fn parse_failures() {
        let cases: [(&[&str], &str); 11] = [
            (&["--bogus"], "Unknown option --bogus"),
            (&["-z", "FOO", "--", "ls"], "Unknown option -z"),
            (
                &["--ZZZ-ZZZ=BAR", "--", "ls"],
                "Unknown option --ZZZ-ZZZ=BAR",
            ),
            (&["-Vz"], "Unknown option -Vz"),
            (
                &["-o", "abc"],
                "Cannot parse integer value \u{201c}abc\u{201d} for -o",
            ),
            (
                &["-o=100"],
                "Cannot parse integer value \u{201c}=100\u{201d} for -o",
            ),
            (
                &["--resource-timeout=1x"],
                "Cannot parse integer value \u{201c}1x\u{201d} for --resource-timeout",
            ),
            (
                &["-q", "4294967296"],
                "Integer value \u{201c}4294967296\u{201d} for -q out of range",
            ),
            (
                &["-Vq", "08"],
                "Cannot parse integer value \u{201c}08\u{201d} for -q",
            ),
            (&["ls", "-o"], "Missing argument for -o"),
            (
                &["--verbose=yes"],
                "Option --verbose does not take an argument",
            ),
        ];
        for (args, msg) in cases {
            let o = run(args);
            assert_eq!(o.result, Err(99), "{args:?}");
            assert_eq!(o.err, format!("option parsing failed: {msg}\n"), "{args:?}");
            assert!(o.out.is_empty());
        }
        // the first bad integer in command-line order is reported
        let o = run(&["-q", "x", "-o", "y"]);
        assert_eq!(
            o.err,
            "option parsing failed: Cannot parse integer value \u{201c}x\u{201d} for -q\n"
        );
        let o = run(&["--discovery-ttl", "z", "-o", "y"]);
        assert!(o.err.contains("for --discovery-ttl\n"));
    }

    #[test]
    fn value_taken_even_if_dash() {
        assert_eq!(cfg(&["-o", "-100"]).resource_timeout, -100);
        assert_eq!(cfg(&["--resource-timeout=-100"]).resource_timeout, -100);
        assert_eq!(cfg(&["--resource-timeout", "-100"]).resource_timeout, -100);
        // attached short values are accepted (C rejects them)
        assert_eq!(cfg(&["-o100"]).resource_timeout, 100);
        let o = run(&["--tls-check-peer-id", "--", "ls"]);
        assert_eq!(o.result, Err(99));
        assert_eq!(o.out, "tls-check-peer-id: '--' is an invalid value\n");
    }

    #[test]
    fn integer_bases_on_options() {
        assert_eq!(cfg(&["-o", "0x1f"]).resource_timeout, 31);
        assert_eq!(cfg(&["-r", "pool[9]", "-q", "010"]).resource_quantity, 8);
        assert_eq!(cfg(&["-d", "0x10"]).daemon_lifespan, 16);
    }

    #[test]
    fn every_option_short_and_long() {
        let dir = temp_dir("opts");
        let d = dir.to_str().unwrap();
        let f = dir.join("foo.pem");
        std::fs::write(&f, "").unwrap();
        let canon = std::fs::canonicalize(&f).unwrap();
        let fp = f.to_str().unwrap();
        let cp = canon.to_str().unwrap();
        type Case<'a> = (&'a str, &'a str, &'a str, String);
        let cases: Vec<Case> = vec![
            (
                "-t",
                "--daemon-trace-file",
                "/tmp/flom_daemon.trc",
                "[Trace]/DaemonTraceFile='/tmp/flom_daemon.trc'".into(),
            ),
            (
                "-T",
                "--command-trace-file",
                "/tmp/flom_command.trc",
                "[Trace]/CommandTraceFile='/tmp/flom_command.trc'".into(),
            ),
            (
                "",
                "--append-trace-file",
                "yes",
                "[Trace]/AppendTraceFile=1".into(),
            ),
            (
                "-r",
                "--resource-name",
                "MYRES",
                "[Resource]/Name='MYRES'".into(),
            ),
            (
                "-o",
                "--resource-timeout",
                "100",
                "[Resource]/Timeout=100".into(),
            ),
            (
                "-q",
                "--resource-quantity",
                "22",
                "[Resource]/Quantity=22".into(),
            ),
            ("-e", "--resource-create", "n", "[Resource]/Create=0".into()),
            (
                "-i",
                "--resource-idle-lifespan",
                "123",
                "[Resource]/IdleLifespan=123".into(),
            ),
            (
                "-l",
                "--lock-mode",
                "ProtectedRead",
                "[Resource]/LockMode=3".into(),
            ),
            (
                "-s",
                "--socket-name",
                "/tmp/foo",
                "[Daemon]/SocketName='/tmp/foo'".into(),
            ),
            (
                "-d",
                "--daemon-lifespan",
                "231",
                "[Daemon]/Lifespan=231".into(),
            ),
            (
                "-a",
                "--unicast-address",
                "localhost",
                "[Daemon]/UnicastAddress='localhost'".into(),
            ),
            (
                "-p",
                "--unicast-port",
                "27750",
                "[Daemon]/UnicastPort=27750".into(),
            ),
            (
                "-A",
                "--multicast-address",
                "239.255.0.1",
                "[Daemon]/MulticastAddress='239.255.0.1'".into(),
            ),
            (
                "-P",
                "--multicast-port",
                "27750",
                "[Daemon]/MulticastPort=27750".into(),
            ),
            (
                "-m",
                "--mount-point-vfs",
                d,
                format!("[Daemon]/MountPointVFS='{d}'"),
            ),
            (
                "",
                "--ignore-signal",
                "SIGTERM",
                "[Monitor]/IgnoredSignals='SIGTERM'".into(),
            ),
            (
                "-D",
                "--discovery-attempts",
                "3",
                "[Network]/DiscoveryAttempts=3".into(),
            ),
            (
                "-I",
                "--discovery-timeout",
                "12345",
                "[Network]/DiscoveryTimeout=12345".into(),
            ),
            (
                "",
                "--discovery-ttl",
                "4",
                "[Network]/DiscoveryTTL=4".into(),
            ),
            (
                "",
                "--tcp-keepalive-time",
                "12345",
                "[Network]/TcpKeepaliveTime=12345".into(),
            ),
            (
                "",
                "--tcp-keepalive-intvl",
                "12345",
                "[Network]/TcpKeepaliveIntvl=12345".into(),
            ),
            (
                "",
                "--tcp-keepalive-probes",
                "12345",
                "[Network]/TcpKeepaliveProbes=12345".into(),
            ),
            (
                "",
                "--tls-certificate",
                fp,
                format!("[TLS]/TlsCertificate='{cp}'"),
            ),
            (
                "",
                "--tls-private-key",
                fp,
                format!("[TLS]/TlsPrivateKey='{cp}'"),
            ),
            (
                "",
                "--tls-ca-certificate",
                fp,
                format!("[TLS]/TlsCaCertificate='{cp}'"),
            ),
        ];
        for (short, long, value, want) in &cases {
            let key = want.split('=').next().unwrap();
            if !short.is_empty() {
                assert_eq!(&dump_line(&[short, value], key), want, "{short}");
            }
            assert_eq!(&dump_line(&[long, value], key), want, "{long}");
            let eq = format!("{long}={value}");
            assert_eq!(&dump_line(&[&eq], key), want, "{eq}");
        }
        // every option with a value in the table is covered
        for d in application_options().filter(|d| d.kind != Kind::Flag) {
            let covered = cases.iter().any(|c| c.1 == format!("--{}", d.long))
                || [
                    "config-file",
                    "network-interface",
                    "tls-check-peer-id",
                    "debug-feature",
                ]
                .contains(&d.long)
                // Our own settings are not in the C dump.
                || options::extensions().any(|e| e.long == d.long);
            assert!(covered, "{}", d.long);
        }
        assert_eq!(dump_line(&[], "[Trace]/Verbose"), "[Trace]/Verbose=1");
        let o = run(&["--verbose", "--", "true"]);
        assert!(o.out.contains("[Trace]/Verbose=1\n"));
        // tls-check-peer-id: dump printed, then the check fails
        let o = run(&["-V", "--tls-check-peer-id=yes", "--", "true"]);
        assert_eq!(o.result, Err(99));
        assert!(o.out.contains("[TLS]/TlsCheckPeerId=1\n"));
        assert!(o.out.ends_with(
            "ERROR: TLS check peer id can not be specified without full TLS configuration.\n"
        ));
        assert_eq!(o.err, "Configuration is not valid, cannot go on!\n");
        let o = run(&[
            "--tls-certificate",
            fp,
            "--tls-private-key",
            fp,
            "--tls-ca-certificate",
            fp,
            "--tls-check-peer-id",
            "Y",
            "--",
            "true",
        ]);
        assert!(o.result.unwrap().config.tls_check_peer_id);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn default_dump_from_cli() {
        let o = run(&["-V", "true"]);
        let c = Config {
            verbose: true,
            ..Config::default()
        };
        assert_eq!(o.out, c.verbose_dump());
        assert!(o.out.starts_with("[Trace]/DaemonTraceFile=''\n"));
        assert!(o.err.is_empty());
    }

    #[test]
    fn config_file_option() {
        let dir = temp_dir("cfgopt");
        let f = dir.join("flom.conf");
        std::fs::write(&f, "[Resource]\nTimeout=77\n[Trace]\nVerbose=yes\n").unwrap();
        let fp = f.to_str().unwrap();
        for a in [vec!["-c", fp], vec!["--config-file", fp]] {
            let mut args = a.clone();
            args.extend(["--", "true"]);
            let o = run(&args);
            let inv = o.result.unwrap();
            assert_eq!(inv.config.resource_timeout, 77);
            // Verbose=yes in a file alone prints the dump
            assert!(o.out.contains("[Resource]/Timeout=77\n"));
        }
        let eq = format!("--config-file={fp}");
        assert_eq!(cfg(&[&eq]).resource_timeout, 77);
        // missing -c file
        let missing = dir.join("nope.conf");
        let mp = missing.to_str().unwrap();
        let o = run(&["-c", mp, "--", "true"]);
        assert_eq!(o.result, Err(99));
        assert_eq!(o.out, format!("ERROR: error while loading file '{mp}'\n"));
        assert!(
            o.err.starts_with(&format!("flom: {mp}: cannot read")),
            "{}",
            o.err
        );
        // invalid value
        std::fs::write(&f, "[Resource]\n\nLockMode=onlyex\n").unwrap();
        let o = run(&["-c", fp, "--", "true"]);
        assert_eq!(o.result, Err(99));
        assert_eq!(
            o.out,
            format!("ERROR: invalid configuration found in file '{fp}'\n")
        );
        assert!(o
            .err
            .starts_with(&format!("flom: {fp}:3: [Resource]/LockMode: 'onlyex'")));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn precedence_system_user_custom_cli() {
        let dir = temp_dir("prec");
        let sys = dir.join("flom.conf");
        let user = dir.join("user");
        let custom = dir.join("custom");
        std::fs::write(
            &sys,
            "[Resource]\nTimeout=1\nIdleLifespan=234\n[Daemon]\nLifespan=231\nUnicastPort=1000\n[Network]\nDiscoveryAttempts=9\n",
        )
        .unwrap();
        std::fs::write(&user, "[Resource]\nTimeout=2\n[Daemon]\nUnicastPort=2000\n").unwrap();
        std::fs::write(&custom, "[Resource]\nTimeout=3\n").unwrap();
        let c = ctx(Some(&sys), Some(&user));
        let cp = custom.to_str().unwrap();
        let get = |args: &[&str]| {
            let mut a = args.to_vec();
            a.extend(["--", "true"]);
            run_ctx(&a, &c).result.unwrap().config
        };
        let conf = get(&[]);
        assert_eq!(
            (
                conf.resource_timeout,
                conf.unicast_port,
                conf.daemon_lifespan
            ),
            (2, 2000, 231)
        );
        assert_eq!(get(&["-c", cp]).resource_timeout, 3);
        assert_eq!(get(&["-c", cp, "-o", "4"]).resource_timeout, 4);
        // the command line wins even with the built-in default value
        assert_eq!(get(&["-c", cp, "-o", "-1"]).resource_timeout, -1);
        assert_eq!(get(&["-d", "5000"]).daemon_lifespan, 5000);
        assert_eq!(get(&["-i", "0"]).resource_idle_lifespan, 0);
        assert_eq!(get(&["-p", "28015"]).unicast_port, 28015);
        assert_eq!(get(&["-D", "2"]).discovery_attempts, 2);
        assert_eq!(get(&[]).discovery_attempts, 9);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn verbose_only_turns_on() {
        let dir = temp_dir("verbose");
        let user = dir.join("user");
        std::fs::write(&user, "[Trace]\nVerbose=y\n").unwrap();
        let o = run_ctx(&["--", "true"], &ctx(None, Some(&user)));
        assert!(o.result.unwrap().config.verbose);
        assert_eq!(o.out.lines().count(), 29);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn normalisations() {
        let o = run(&["-q", "-3", "--", "true"]);
        assert_eq!(o.result.unwrap().config.resource_quantity, 1);
        assert_eq!(
            o.err,
            "Resource quantity ignored because negative values (-3) are meaningless\n"
        );
        assert_eq!(cfg(&["-q", "0"]).resource_quantity, 1);
        assert_eq!(cfg(&["-i", "-5"]).resource_idle_lifespan, 5);
        assert_eq!(cfg(&["-p", "-27750"]).unicast_port, 27750);
        assert_eq!(cfg(&["-P", "-27751"]).multicast_port, 27751);
        assert_eq!(cfg(&["-D", "0"]).discovery_attempts, 1);
        assert_eq!(cfg(&["-D", "-3"]).discovery_attempts, 3);
        assert_eq!(cfg(&["-I", "-7"]).discovery_timeout, 7);
        assert_eq!(cfg(&["--discovery-ttl", "0"]).discovery_ttl, 1);
        assert_eq!(cfg(&["--discovery-ttl", "-2"]).discovery_ttl, 2);
        assert_eq!(cfg(&["--tcp-keepalive-time", "-1"]).tcp_keepalive_time, 1);
        assert_eq!(cfg(&["--tcp-keepalive-intvl", "-2"]).tcp_keepalive_intvl, 2);
        assert_eq!(
            cfg(&["--tcp-keepalive-probes", "-3"]).tcp_keepalive_probes,
            3
        );
        assert_eq!(cfg(&["-d", "-1"]).daemon_lifespan, -1);
        assert_eq!(cfg(&["-r", "a", "-r", "b"]).resource_name, "b");
        assert_eq!(cfg(&["-s", ""]).socket_name, None);
    }

    #[test]
    fn resource_name_errors() {
        let o = run(&["-r", "a-b", "--", "true"]);
        assert_eq!(o.result, Err(99));
        assert_eq!(o.out, "ERROR: 'a-b' is not a valid name for a resource\n");
        assert_eq!(o.err, "flom_config_set_resource_name: ret_cod=-14\n");
        let o = run(&["--resource-name=_RESOURCE", "--", "true"]);
        assert_eq!(o.result, Err(99));
        assert_eq!(
            o.out,
            "ERROR: '_RESOURCE' is a reserved resource name and can not be set by user\n"
        );
        assert_eq!(o.err, "flom_config_set_resource_name: ret_cod=-14\n");
    }

    #[test]
    fn strict_values() {
        assert_eq!(cfg(&["-l", "pr"]).lock_mode, LockMode::ProtectedRead);
        assert_eq!(cfg(&["-l", "EXCLUSIVE"]).lock_mode, LockMode::Exclusive);
        assert_eq!(cfg(&["-l", "nl"]).lock_mode, LockMode::NullLock);
        let o = run(&["-l", "onlyex", "--", "true"]);
        assert_eq!(o.result, Err(99));
        assert!(o.out.is_empty());
        assert!(o
            .err
            .starts_with("lock-mode: 'onlyex' is an invalid value\nflom: "));

        assert!(!cfg(&["-e", "NO"]).resource_create);
        assert!(cfg(&["-e", "Y"]).resource_create);
        let o = run(&["-e", "maybe", "--", "true"]);
        assert_eq!(o.result, Err(99));
        assert_eq!(o.out, "resource-create: 'maybe' is an invalid value\n");
        assert!(o.err.starts_with("flom: "));

        assert!(cfg(&["--append-trace-file", "YES"]).append_trace_file);
        let o = run(&["--append-trace-file=1", "--", "true"]);
        assert_eq!(o.result, Err(99));
        assert!(o.out.is_empty());
        assert!(o
            .err
            .starts_with("append-trace-file: '1' is an invalid value\nflom: "));

        let o = run(&["--tls-check-peer-id=annoy", "--", "true"]);
        assert_eq!(o.result, Err(99));
        assert_eq!(o.out, "tls-check-peer-id: 'annoy' is an invalid value\n");
    }

    #[test]
    fn path_validations() {
        let long = format!("/tmp/{}", "s".repeat(103));
        let o = run(&["-s", &long, "--", "true"]);
        assert_eq!(o.result, Err(99));
        assert!(o.err.starts_with(&format!(
            "socket-name: '{long}' is an invalid value\nflom: "
        )));
        assert!(o.err.contains("shorter than 108 bytes"));
        assert_eq!(
            cfg(&["-s", &long[..107]]).socket_name.as_deref(),
            Some(&long[..107])
        );

        let o = run(&["-m", "/nonexistent/flom-vfs", "--", "true"]);
        assert_eq!(o.result, Err(99));
        assert!(o
            .err
            .starts_with("mount-point-vfs: '/nonexistent/flom-vfs' is an invalid value\nflom: "));

        let o = run(&["--tls-private-key", "/nonexistent/k.pem", "--", "true"]);
        assert_eq!(o.result, Err(99));
        assert!(o
            .err
            .starts_with("tls-private-key: '/nonexistent/k.pem' is not a valid value\nflom: "));
    }

    #[test]
    fn network_interface_without_ipv6_is_ignored() {
        let o = run(&["-n", "nosuchif0", "--", "true"]);
        assert_eq!(o.result.unwrap().config.network_interface, None);
        assert!(o.err.contains("'nosuchif0' has no IPv6 address"));
        if config::interface_has_ipv6("lo") {
            assert_eq!(
                cfg(&["--network-interface", "lo"])
                    .network_interface
                    .as_deref(),
                Some("lo")
            );
        }
    }

    #[test]
    fn ignore_signals() {
        assert_eq!(
            cfg(&["--ignore-signal=SIGQUIT", "--ignore-signal=SIGTERM"]).ignored_signals,
            vec![3, 15]
        );
        assert_eq!(
            dump_line(
                &["--ignore-signal", "15", "--ignore-signal", "3"],
                "[Monitor]"
            ),
            "[Monitor]/IgnoredSignals='SIGQUIT;SIGTERM'"
        );
        assert_eq!(cfg(&["--ignore-signal", "sigint"]).ignored_signals, vec![2]);
        let o = run(&[
            "--ignore-signal",
            "SIGFOO",
            "--ignore-signal",
            "1",
            "--",
            "true",
        ]);
        assert_eq!(o.result.unwrap().config.ignored_signals, vec![1]);
        assert!(o.err.contains("'SIGFOO' is not a signal name"));
        // the command-line list replaces the config list
        let dir = temp_dir("sig");
        let user = dir.join("user");
        std::fs::write(&user, "[Monitor]\nIgnoredSignals=SIGHUP;SIGINT\n").unwrap();
        let c = ctx(None, Some(&user));
        let o = run_ctx(&["--ignore-signal", "SIGTERM", "--", "true"], &c);
        assert_eq!(o.result.unwrap().config.ignored_signals, vec![15]);
        let o = run_ctx(&["--", "true"], &c);
        assert_eq!(o.result.unwrap().config.ignored_signals, vec![1, 2]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn conflict_check() {
        let o = run(&["-s", "/tmp/x", "-a", "localhost", "--", "true"]);
        assert_eq!(o.result, Err(99));
        assert_eq!(
            o.out,
            "ERROR: flom can not be configured for local (UNIX socket) and network (TCP-UDP/IP) communication at the same time.\n"
        );
        assert_eq!(o.err, "Configuration is not valid, cannot go on!\n");
        // socket name from a config file, -A from the command line
        let dir = temp_dir("conflict");
        let user = dir.join("user");
        std::fs::write(&user, "[Daemon]\nSocketName=/tmp/flom-x\n").unwrap();
        let o = run_ctx(
            &["-A", "239.255.0.1", "--", "true"],
            &ctx(None, Some(&user)),
        );
        assert_eq!(o.result, Err(99));
        // checked before -x and before the "no command" test
        let o = run_ctx(&["-A", "239.255.0.1", "-x"], &ctx(None, Some(&user)));
        assert_eq!(o.result, Err(99));
        let o = run_ctx(&["-V", "-A", "239.255.0.1"], &ctx(None, Some(&user)));
        assert_eq!(o.result, Err(99));
        assert!(o.out.contains("[Daemon]/SocketName='/tmp/flom-x'\n"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn resource_type_adjustment_after_dump() {
        let o = run(&["-V", "-r", "red.green", "-l", "PR", "-q", "3", "--", "true"]);
        assert!(o.out.contains("[Resource]/LockMode=3\n"));
        assert!(o.out.contains("[Resource]/Quantity=3\n"));
        let inv = o.result.unwrap();
        assert_eq!(inv.config.lock_mode, LockMode::Exclusive);
        assert_eq!(inv.config.resource_quantity, 1);
        assert_eq!(o.err.lines().count(), 2);
        // not verbose: silent adjustment
        let o = run(&["-r", "foo[3]", "-l", "CR", "-q", "2", "--", "true"]);
        let inv = o.result.unwrap();
        assert_eq!(
            (inv.config.lock_mode, inv.config.resource_quantity),
            (LockMode::Exclusive, 2)
        );
        assert!(o.err.is_empty());
    }

    #[test]
    fn command_line_and_files_share_each_sentence() {
        let dir = temp_dir("same");
        let conf = dir.join("f.conf");
        let cp = conf.to_str().unwrap();
        let long_socket = format!("/tmp/{}", "s".repeat(110));
        let cases: [(&str, &str); 9] = [
            ("lock-mode", "onlyex"),
            ("resource-create", "maybe"),
            ("append-trace-file", "1"),
            ("tls-check-peer-id", "annoy"),
            ("socket-name", &long_socket),
            ("mount-point-vfs", "/nonexistent/flom-d"),
            ("tls-certificate", "/nonexistent/c.pem"),
            ("network-interface", "nosuchif0"),
            ("ignore-signal", "FOO"),
        ];
        let sentence = |o: &Out| {
            o.err
                .lines()
                .find(|l| l.starts_with("flom: "))
                .unwrap_or_else(|| panic!("no sentence in {:?}", o.err))
                .to_string()
        };
        for (long, value) in cases {
            let setting = options::by_long(long).unwrap();
            let eq = format!("--{long}={value}");
            let from_cli = sentence(&run(&[&eq, "--", "true"]));
            std::fs::write(
                &conf,
                format!("[{}]\n{}={value}\n", setting.group, setting.key),
            )
            .unwrap();
            let from_file = sentence(&run(&["-c", cp, "--", "true"]));
            let cli_place = format!("flom: option {}: ", setting.option_names());
            let file_place = format!("flom: {cp}:2: [{}]/{}: ", setting.group, setting.key);
            assert_eq!(
                from_cli.strip_prefix(&cli_place),
                from_file.strip_prefix(&file_place),
                "{from_cli:?} / {from_file:?}"
            );
            // the sentence names the value (the socket one says its length)
            assert!(
                from_cli.contains(value) || long == "socket-name",
                "{from_cli}"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn event_tokens_and_typed_names() {
        let args: Vec<String> = [
            "-Vo",
            "x",
            "ls",
            "--lock-mode",
            "EX",
            "--resource-timeout=4",
            "-o5",
            "--",
            "-q",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            event_tokens(&args),
            vec!["-Vo", "ls", "--lock-mode", "--resource-timeout=4", "-o5"]
        );
        let d = &find_long("resource-timeout").unwrap();
        assert_eq!(typed_name(d, Some("-Vo")), "-o");
        assert_eq!(
            typed_name(d, Some("--resource-timeout=4")),
            "--resource-timeout"
        );
        assert_eq!(typed_name(d, None), "--resource-timeout");
        let o = run(&["ls", "-Vo", "x"]);
        assert_eq!(
            o.err,
            "option parsing failed: Cannot parse integer value \u{201c}x\u{201d} for -o\n"
        );
    }
}
