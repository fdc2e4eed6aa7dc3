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
use crate::usage;
use crate::values::ResourceNameError;
pub use crate::values::{parse_c_int, IntError};

/// What `flom` must do once the command line is understood.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Lock, run this command (never empty), unlock.
    Run(Vec<String>),
    /// `-x` (quiesce) or `-X` (immediate): ask the daemon to shut down.
    Shutdown { immediate: bool },
    /// `--status` (`--json`: as one JSON document): show the daemon's state.
    Status { json: bool },
    /// `--debug-feature=NAME`.
    DebugFeature(String),
    /// `--foreground-daemon`: be the daemon, in the foreground (a service).
    ForegroundDaemon,
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
const ACTIONS: [OptDef; 9] = [
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
    flag(
        "",
        "status",
        "Show the daemon's resources, holders, waiters and incubator, and exit",
    ),
    flag("", "json", "With --status: print one JSON document"),
    flag("", "unique-id", "Print the unique id of this host and exit"),
    string("", "debug-feature", "NAME", "Run a debug helper and exit"),
];

/// The application options in help order, by long name: the actions and
/// every setting of the option table.
const HELP_ORDER: [&str; 38] = [
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
    "status",
    "json",
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
    event_positions(args)
        .into_iter()
        .map(|i| args[i].as_str())
        .collect()
}

/// The positions in `args` of the events of [`event_tokens`].
fn event_positions(args: &[String]) -> Vec<usize> {
    let mut ev = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let cur = args[i].as_str();
        i += 1;
        if cur == "--" {
            break;
        }
        ev.push(i - 1);
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

/// The position of the first free word (not an option nor its value)
/// before any `--`: where a command given without `--` starts.
fn first_free_word(args: &[String]) -> Option<usize> {
    event_positions(args)
        .into_iter()
        .find(|&i| args[i] == "-" || !args[i].starts_with('-'))
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

/// [`parse`] with explicit config files and output streams. A usage
/// mistake gets a hint after C FLoM's line: how to put a command after
/// `--` when the words left look like one, else where the help is.
pub fn parse_with(
    args: &[String],
    ctx: &Context,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Invocation, i32> {
    let rest = args.get(1..).unwrap_or(&[]);
    let failed = std::cell::Cell::new(None);
    let r = parse_args(rest, ctx, out, err, &failed);
    if r == Err(rc::ES_GENERIC_ERROR) {
        let command = first_free_word(rest).map(|i| &rest[i..]);
        if let Some(hint) = command.and_then(usage::command_hint) {
            let _ = writeln!(err, "{hint}");
        } else if let Some(unknown) = failed.take() {
            let _ = writeln!(err, "{}", usage::help_hint(unknown));
        }
    }
    r
}

fn parse_args(
    args: &[String],
    ctx: &Context,
    out: &mut dyn Write,
    err: &mut dyn Write,
    failed: &std::cell::Cell<Option<Option<String>>>,
) -> Result<Invocation, i32> {
    let usage_error = |err: &mut dyn Write, msg: String| {
        let _ = writeln!(err, "option parsing failed: {msg}");
        let unknown = msg.strip_prefix("Unknown option ").map(str::to_string);
        failed.set(Some(unknown));
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
        let _ = crate::trace::init(None, false);
    }

    let custom = last(&m, "config-file").map(PathBuf::from);
    let mut warnings = Vec::new();
    let mut read = Vec::new();
    let loaded = Config::load_layers_reporting(
        ctx.system_config.as_deref(),
        ctx.user_config.as_deref(),
        custom.as_deref(),
        &mut warnings,
        &mut read,
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
        "cli: configuration loaded from: {}",
        if read.is_empty() {
            "no file".to_string()
        } else {
            read.iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        }
    );

    apply_overrides(&m, &ints, &mut config, out, err)?;

    if ctx.init_trace {
        if let Some(f) = &config.command_trace_file {
            if let Err(why) = crate::trace::init(Some(f), config.append_trace_file) {
                let _ = writeln!(err, "{why}");
                return Err(rc::ES_GENERIC_ERROR);
            }
        }
    }
    // The daemon opens its own trace file: a refused one is said here.
    if let Some(f) = &config.daemon_trace_file {
        if let Err(why) = crate::security::check_private(std::path::Path::new(f), "the trace file")
        {
            let _ = writeln!(err, "{why}");
            return Err(rc::ES_GENERIC_ERROR);
        }
    }
    if config.verbose {
        let _ = out.write_all(config.verbose_dump().as_bytes());
        let _ = out.flush();
        let _ = writeln!(err, "{}", files_read(&read, ctx));
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
    let shutdown = immediate || m.opt_present("quiesce-exit");
    let status = m.opt_present("status");
    if m.opt_present("json") && !status {
        let _ = writeln!(
            err,
            "flom: --json goes with --status: use flom --status --json"
        );
        return Err(rc::ES_GENERIC_ERROR);
    }
    if status && shutdown {
        let _ = writeln!(
            err,
            "flom: --status cannot be combined with -x/-X: ask for one, then the other"
        );
        return Err(rc::ES_GENERIC_ERROR);
    }
    if status {
        return Ok(Invocation {
            config,
            action: Action::Status {
                json: m.opt_present("json"),
            },
        });
    }
    if shutdown {
        return Ok(Invocation {
            config,
            action: Action::Shutdown { immediate },
        });
    }
    if config.foreground_daemon {
        if !m.free.is_empty() {
            let _ = writeln!(
                err,
                "flom: --foreground-daemon runs the daemon and takes no command; run the command with another flom."
            );
            return Err(rc::ES_GENERIC_ERROR);
        }
        return Ok(Invocation {
            config,
            action: Action::ForegroundDaemon,
        });
    }
    if m.free.is_empty() {
        let _ = writeln!(err, "No command to execute!");
        let _ = writeln!(err, "{}", usage::NO_COMMAND_HINT);
        return Err(rc::ES_UNABLE_TO_EXECUTE_COMMAND);
    }
    Ok(Invocation {
        config,
        action: Action::Run(m.free.clone()),
    })
}

/// The `-V` line (stderr) naming the config files that were read.
fn files_read(read: &[PathBuf], ctx: &Context) -> String {
    let list = |paths: &mut dyn Iterator<Item = &PathBuf>| {
        paths
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if read.is_empty() {
        let looked: Vec<&PathBuf> = ctx.system_config.iter().chain(&ctx.user_config).collect();
        if looked.is_empty() {
            return "flom: no configuration file was read; built-in defaults and the command line apply.".to_string();
        }
        return format!(
            "flom: no configuration file was read (looked for {}); built-in defaults and the command line apply.",
            list(&mut looked.into_iter())
        );
    }
    format!("flom: configuration read from {}.", list(&mut read.iter()))
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
#[path = "cli_tests.rs"]
mod tests;
