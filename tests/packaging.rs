//! Packaging and documentation: `make install`/`uninstall` with the GNU and
//! the upper-case directory variables into a DESTDIR, `CARGO_FLAGS` on every
//! cargo call, the shell completions (every option, syntax, bash behaviour),
//! the man pages (every option and config key, no placeholders, clean roff),
//! the `--help` closing sections and the README's prerequisites.
//!
//! The make runs pass `CARGO=true` and a private `CARGO_TARGET_DIR` whose
//! `release/flom` is the binary under test, so `install`'s dependency on
//! `build` never rebuilds (or replaces) the binary other tests are running.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{spawn_command, Env, Out, BIN};

const SRC: &str = env!("CARGO_MANIFEST_DIR");
const MAKE_BOUND: Duration = Duration::from_secs(60);

/// Variables a surrounding `make` or the caller's environment could pass
/// down and that would change what the tested make does.
const INHERITED: &[&str] = &[
    "MAKEFLAGS",
    "MFLAGS",
    "MAKELEVEL",
    "DESTDIR",
    "PREFIX",
    "prefix",
    "exec_prefix",
    "BINDIR",
    "bindir",
    "LIBDIR",
    "libdir",
    "INCLUDEDIR",
    "includedir",
    "DATADIR",
    "datadir",
    "datarootdir",
    "MANDIR",
    "mandir",
    "DOCDIR",
    "docdir",
    "SYSCONFDIR",
    "sysconfdir",
    "man1dir",
    "man5dir",
    "bashcompdir",
    "zshcompdir",
    "fishcompdir",
    "SYSTEMDUNITDIR",
    "systemdunitdir",
    "CARGO_FLAGS",
    "CARGO_TARGET_DIR",
];

/// A fake cargo target dir whose `release/flom` is the binary under test.
fn fake_target(env: &Env) -> String {
    let target = env.path("target");
    std::fs::create_dir_all(format!("{target}/release")).unwrap();
    std::os::unix::fs::symlink(BIN, format!("{target}/release/flom")).unwrap();
    let lib = [
        Path::new(BIN).with_file_name("libflom.so"),
        Path::new(SRC).join("target/release/libflom.so"),
    ]
    .into_iter()
    .find(|p| p.is_file())
    .expect("libflom.so is not built: run cargo build --release");
    std::os::unix::fs::symlink(lib, format!("{target}/release/libflom.so")).unwrap();
    target
}

/// Runs `make -C SRC ARGS` (bounded), with nothing inherited from a parent make.
#[track_caller]
fn make(args: &[&str]) -> Out {
    let mut cmd = Command::new("make");
    cmd.arg("--no-print-directory")
        .arg("-C")
        .arg(SRC)
        .args(args);
    for v in INHERITED {
        cmd.env_remove(v);
    }
    let out = spawn_command(cmd, format!("make {}", args.join(" "))).wait(MAKE_BOUND);
    out.expect_code(0);
    out
}

/// Every regular file (or symlink) under `root`, relative to it.
fn files_under(root: &Path) -> BTreeSet<String> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeSet<String>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                walk(&p, root, out);
            } else {
                out.insert(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(root, root, &mut out);
    out
}

fn read(path: impl AsRef<Path>) -> String {
    let p = path.as_ref();
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

fn source(rel: &str) -> String {
    read(Path::new(SRC).join(rel))
}

/// A man page's text with roff's `\-` written as `-`.
fn man_text(rel: &str) -> String {
    source(rel).replace("\\-", "-")
}

/// The options `flom --help` lists: (short letter or "", long name or "").
fn help_options() -> Vec<(String, String)> {
    let out = common::run_flom(&["--help"]);
    out.expect_code(0);
    let mut opts = Vec::new();
    let mut in_options = false;
    for line in out.stdout.lines() {
        if line.ends_with("Options:") || line.is_empty() {
            in_options = !line.is_empty();
            continue;
        }
        if !in_options || !line.trim_start().starts_with('-') {
            continue;
        }
        let spec = line.trim_start().split(['=', ' ']).collect::<Vec<_>>();
        let (short, long) = match spec[0].strip_prefix("--") {
            Some(long) => ("", long),
            None if spec[0].ends_with(',') => (spec[0], spec[1].trim_start_matches("--")),
            None => (spec[0], ""),
        };
        let short = short.trim_start_matches('-').trim_end_matches(',');
        opts.push((short.to_string(), long.to_string()));
    }
    assert!(
        opts.len() > 30,
        "too few options parsed from --help: {opts:?}"
    );
    opts
}

fn which(prog: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(prog))
        .find(|p| p.is_file())
}

// ------------------------------------------------------------ install

fn assert_installed(root: &Path, bindir: &str, datadir: &str, mandir: &str, sysconf: &str) {
    let bin = root.join(bindir.trim_start_matches('/')).join("flom");
    assert_eq!(
        std::fs::read(&bin).unwrap_or_default(),
        std::fs::read(BIN).unwrap(),
        "{} is not the built binary",
        bin.display()
    );
    let config = format!("{sysconf}/flom.conf");
    for page in ["man1/flom.1", "man5/flom.conf.5"] {
        let text = read(root.join(mandir.trim_start_matches('/')).join(page));
        assert!(!text.contains("@SYSCONFDIR@"), "{page} keeps a placeholder");
        assert!(text.contains(&config), "{page} does not name {config}");
        if sysconf != "/etc" {
            assert!(
                !text.contains("/etc/flom.conf"),
                "{page} names /etc/flom.conf"
            );
        }
    }
    let data = root.join(datadir.trim_start_matches('/'));
    for (rel, src) in [
        ("bash-completion/completions/flom", "completions/flom.bash"),
        ("zsh/site-functions/_flom", "completions/_flom"),
        (
            "fish/vendor_completions.d/flom.fish",
            "completions/flom.fish",
        ),
        ("doc/flom/flom.conf", "etc/flom.conf"),
        ("doc/flom/README.md", "README.md"),
        ("doc/flom/COPYING", "COPYING"),
    ] {
        assert_eq!(read(data.join(rel)), source(src), "{rel}");
    }
}

#[test]
fn install_with_gnu_variables_then_uninstall() {
    let env = Env::new("pkg-gnu");
    let target = fake_target(&env);
    let root = env.dir.join("root");
    let vars = [
        format!("DESTDIR={}", root.display()),
        "prefix=/usr".to_string(),
        "sysconfdir=/etc/flom-pkg".to_string(),
        "CARGO=true".to_string(),
        format!("CARGO_TARGET_DIR={target}"),
    ];
    let mut args: Vec<&str> = vec!["install"];
    args.extend(vars.iter().map(String::as_str));
    make(&args);
    assert_installed(
        &root,
        "/usr/bin",
        "/usr/share",
        "/usr/share/man",
        "/etc/flom-pkg",
    );
    let expected: BTreeSet<String> = [
        "usr/bin/flom",
        "usr/share/man/man1/flom.1",
        "usr/share/man/man5/flom.conf.5",
        "usr/share/bash-completion/completions/flom",
        "usr/share/zsh/site-functions/_flom",
        "usr/share/fish/vendor_completions.d/flom.fish",
        "usr/share/doc/flom/flom.conf",
        "usr/share/doc/flom/README.md",
        "usr/share/doc/flom/COPYING",
        "usr/lib/libflom.so.0.2.0",
        "usr/lib/libflom.so.0",
        "usr/lib/libflom.so",
        "usr/lib/pkgconfig/flom.pc",
        "usr/include/flom.h",
        "usr/include/flom_errors.h",
        "usr/include/flom_handle.h",
        "usr/include/flom_types.h",
        "usr/include/flom.hh",
        "usr/include/FlomHandle.hh",
        "usr/lib/systemd/system/flom.service",
        "usr/lib/systemd/system/flom.socket",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(files_under(&root), expected);
    assert_units(&root.join("usr/lib/systemd/system"), "/usr/bin");

    args[0] = "uninstall";
    make(&args);
    assert_eq!(files_under(&root), BTreeSet::new(), "uninstall left files");
    assert!(!root.join("usr/share/doc/flom").exists());
}

#[test]
fn install_with_upper_case_variables() {
    let env = Env::new("pkg-upper");
    let target = fake_target(&env);
    let root = env.dir.join("root");
    let destdir = format!("DESTDIR={}", root.display());
    let target_dir = format!("CARGO_TARGET_DIR={target}");
    let base = [
        "install",
        destdir.as_str(),
        "CARGO=true",
        target_dir.as_str(),
    ];

    // PREFIX alone moves everything; the system config stays /etc
    let mut args = base.to_vec();
    args.push("PREFIX=/opt/flom");
    make(&args);
    assert_installed(
        &root,
        "/opt/flom/bin",
        "/opt/flom/share",
        "/opt/flom/share/man",
        "/etc",
    );

    // upper-case BINDIR, MANDIR, SYSCONFDIR; a lower-case name wins over its
    // upper-case one
    let root2 = env.dir.join("root2");
    let destdir2 = format!("DESTDIR={}", root2.display());
    let mut args = base.to_vec();
    args[1] = destdir2.as_str();
    args.extend([
        "PREFIX=/opt/p",
        "BINDIR=/opt/upper/bin",
        "MANDIR=/opt/man",
        "SYSCONFDIR=/etc/upper",
        "DATADIR=/opt/upper/share",
        "datadir=/opt/lower/share",
    ]);
    make(&args);
    assert!(root2.join("opt/upper/bin/flom").is_file());
    assert!(root2.join("opt/man/man1/flom.1").is_file());
    assert!(read(root2.join("opt/man/man5/flom.conf.5")).contains("/etc/upper/flom.conf"));
    assert!(root2
        .join("opt/lower/share/zsh/site-functions/_flom")
        .is_file());
    assert!(!root2.join("opt/upper/share").exists());
    assert!(root2.join("opt/p/share/doc/flom/COPYING").is_file());
    // the units follow the prefix, or SYSTEMDUNITDIR (systemdunitdir wins)
    assert_units(&root.join("opt/flom/lib/systemd/system"), "/opt/flom/bin");
    assert_units(&root2.join("opt/p/lib/systemd/system"), "/opt/upper/bin");
    let root3 = env.dir.join("root3");
    let destdir3 = format!("DESTDIR={}", root3.display());
    let mut args = base.to_vec();
    args[1] = destdir3.as_str();
    args.extend(["prefix=/usr", "SYSTEMDUNITDIR=/etc/units-upper"]);
    make(&args);
    assert_units(&root3.join("etc/units-upper"), "/usr/bin");
    let root4 = env.dir.join("root4");
    let destdir4 = format!("DESTDIR={}", root4.display());
    let mut args = base.to_vec();
    args[1] = destdir4.as_str();
    args.extend(["SYSTEMDUNITDIR=/x", "systemdunitdir=/lib/systemd/system"]);
    make(&args);
    assert_units(&root4.join("lib/systemd/system"), "/usr/local/bin");
    assert!(!root4.join("x").exists());
}

/// The installed systemd units in `dir`: as in systemd/, the service's
/// ExecStart naming `bindir`/flom.
#[track_caller]
fn assert_units(dir: &Path, bindir: &str) {
    let service = read(dir.join("flom.service"));
    assert!(
        !service.contains("@bindir@"),
        "flom.service keeps a placeholder"
    );
    assert_eq!(
        service,
        source("systemd/flom.service").replace("@bindir@", bindir)
    );
    assert!(service.contains(&format!("\nExecStart={bindir}/flom --foreground-daemon ")));
    assert_eq!(read(dir.join("flom.socket")), source("systemd/flom.socket"));
}

#[test]
fn systemd_units_are_valid() {
    let service = source("systemd/flom.service");
    for line in ["Type=notify", "Requires=flom.socket", "After=flom.socket"] {
        assert!(
            service.lines().any(|l| l == line),
            "flom.service lacks {line}"
        );
    }
    let socket = source("systemd/flom.socket");
    assert!(socket
        .lines()
        .any(|l| l == "ListenStream=/run/flom/flom.sock"));
    assert!(socket.lines().any(|l| l == "#ListenStream=28015"));
    let Some(analyze) = which("systemd-analyze") else {
        common::skip(
            "systemd_units_are_valid",
            "no systemd-analyze to verify the units",
        );
        return;
    };
    // systemd-analyze checks that ExecStart's binary exists: the one under test.
    let env = Env::new("pkg-units");
    let bindir = Path::new(BIN).parent().unwrap().to_str().unwrap();
    let unit = env.path("flom.service");
    std::fs::write(&unit, service.replace("@bindir@", bindir)).unwrap();
    std::fs::write(env.path("flom.socket"), socket).unwrap();
    let mut cmd = Command::new(analyze);
    cmd.args(["verify", "--man=no", &unit, &env.path("flom.socket")]);
    let out = spawn_command(cmd, "systemd-analyze verify".into()).wait(MAKE_BOUND);
    out.expect_code(0).expect_stderr("");
}

#[test]
fn cargo_flags_reach_every_cargo_call() {
    let out = make(&[
        "-n",
        "build",
        "check",
        "install",
        "vendor",
        "clean",
        "CARGO=cargo",
        "CARGO_FLAGS=--locked --offline",
        "DESTDIR=/nonexistent",
    ]);
    let calls: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("cargo "))
        .collect();
    for sub in ["build", "test", "vendor", "clean"] {
        assert!(
            calls
                .iter()
                .any(|l| l.trim_start().starts_with(&format!("cargo {sub} "))),
            "no cargo {sub} in\n{}",
            out.stdout
        );
    }
    for l in &calls {
        assert!(
            l.contains(" --locked --offline"),
            "without CARGO_FLAGS: {l}"
        );
    }
    // make vendor also writes the source replacement cargo reads offline
    assert!(out
        .stdout
        .contains("cargo vendor --locked --offline vendor > .cargo/config.toml"));
}

// --------------------------------------------------- options everywhere

#[test]
fn every_option_is_completed_and_documented() {
    let bash = source("completions/flom.bash");
    let zsh = source("completions/_flom");
    let fish = source("completions/flom.fish");
    let man = man_text("man/flom.1");
    for (short, long) in help_options() {
        if !long.is_empty() {
            let l = format!("--{long}");
            assert!(bash.contains(&l), "{l} missing from the bash completion");
            assert!(zsh.contains(&l), "{l} missing from the zsh completion");
            assert!(
                fish.contains(&format!(" -l {long} ")),
                "{l} missing from the fish completion"
            );
            assert!(man.contains(&l), "{l} missing from flom.1");
        }
        if !short.is_empty() && short != "?" {
            let s = format!("-{short}");
            assert!(
                bash.contains(&format!(" {s} ")) || bash.contains(&format!(" {s}\n")),
                "{s} missing from the bash completion"
            );
            assert!(
                zsh.contains(&format!("{s},")) || zsh.contains(&format!("{s}+,")),
                "{s} missing from the zsh completion"
            );
            assert!(
                fish.contains(&format!(" -s {short} ")),
                "{s} missing from the fish completion"
            );
            assert!(
                man.contains(&format!(".BR {s} ")),
                "{s} missing from flom.1"
            );
        }
    }
}

#[test]
fn every_config_key_is_documented() {
    let conf5 = source("man/flom.conf.5");
    let flom1 = source("man/flom.1");
    let sample = source("etc/flom.conf");
    let env = Env::new("pkg-keys");
    // -V prints every [Group]/Key=value, then stops: no command (exit 97)
    let out = common::run_flom(&["-V", "-c", "/dev/null", "-s", &env.sock]);
    let keys: Vec<(&str, &str)> = out
        .stdout
        .lines()
        .filter_map(|l| {
            let (gk, _) = l.split_once('=')?;
            let (g, k) = gk.strip_prefix('[')?.split_once("]/")?;
            Some((g, k))
        })
        .collect();
    assert_eq!(keys.len(), 29, "{}", out.describe());
    for (group, key) in keys {
        assert!(
            conf5.contains(&format!(".SS [{group}]")),
            "[{group}] missing from flom.conf.5"
        );
        assert!(
            conf5.contains(&format!(".BR {key}= ")),
            "{key} missing from flom.conf.5"
        );
        assert!(
            flom1.contains(&format!(".B {key}\n")),
            "{key} missing from flom.1"
        );
        assert!(
            sample.contains(&format!("#{key}=")),
            "{key} missing from etc/flom.conf"
        );
    }
}

#[test]
fn man_pages_are_clean() {
    for page in ["man/flom.1", "man/flom.conf.5"] {
        let text = source(page);
        assert!(!text.contains("@SYSCONFDIR@"), "{page} has a placeholder");
        assert!(text.contains("/etc/flom.conf"), "{page}");
        assert!(text.contains(".SH SEE ALSO"), "{page}");
    }
    let flom1 = man_text("man/flom.1");
    for section in [
        ".SH EXIT STATUS",
        ".SH FILES",
        ".SH ENVIRONMENT",
        "flom.conf (5)",
    ] {
        assert!(flom1.contains(section), "flom.1 lacks {section}");
    }
    // attached short values work, and the page says so (and nowhere the opposite)
    assert!(!flom1.contains("not accepted"));
    assert!(flom1.contains("-o100"));
    let out = common::run_flom(&["-o100", "-V", "-c", "/dev/null"]);
    assert!(
        out.stdout.contains("[Resource]/Timeout=100\n"),
        "{}",
        out.describe()
    );

    let Some(groff) = which("groff") else {
        eprintln!("SKIPPED man_pages_are_clean (roff part): groff is not installed");
        return;
    };
    for page in ["man/flom.1", "man/flom.conf.5"] {
        let mut cmd = Command::new(&groff);
        cmd.args(["-man", "-ww", "-z", "-Tutf8"])
            .arg(Path::new(SRC).join(page));
        let out = spawn_command(cmd, format!("groff {page}")).wait(MAKE_BOUND);
        out.expect_code(0).expect_stderr("");
    }
}

// --------------------------------------------------------------- --help

#[test]
fn help_has_exit_status_files_and_environment() {
    let out = common::run_flom(&["--help"]);
    out.expect_code(0).expect_stderr("");
    let help = &out.stdout;
    let sections = ["\nExit status:\n", "\nFiles:\n", "\nEnvironment:\n"];
    let mut last = 0;
    for s in sections {
        let at = help
            .find(s)
            .unwrap_or_else(|| panic!("--help lacks {s:?}:\n{help}"));
        assert!(at > last, "{s:?} out of order");
        last = at;
    }
    for fact in [
        "\n  96 ",
        "\n  97 ",
        "\n  98 ",
        "\n  99 ",
        "128+N",
        "flom.conf",
        "~/.flom",
        "/tmp/flom-LOGIN",
        "FLOM_TRACE_MASK",
        "HOME",
        "flom.conf(5)",
    ] {
        assert!(help.contains(fact), "--help lacks {fact:?}");
    }
}

// ---------------------------------------------------------- completions

/// Runs the bash completion for the words `line` (the last one being
/// completed; "=" splits like bash's COMP_WORDBREAKS) and returns COMPREPLY.
fn bash_complete(words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let script = format!(
        "source '{SRC}/completions/flom.bash' || exit 3\n\
         COMP_WORDS=({})\n\
         COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1))\n\
         COMP_LINE=\"${{COMP_WORDS[*]}}\"; COMP_POINT=${{#COMP_LINE}}\n\
         _flom flom \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        quoted.join(" ")
    );
    let mut cmd = Command::new("bash");
    cmd.args(["--norc", "--noprofile", "-c", &script]);
    let out = spawn_command(cmd, format!("bash completion of {words:?}")).wait(MAKE_BOUND);
    out.expect_code(0).expect_stderr("");
    out.stdout
        .lines()
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

#[test]
fn bash_completion_works() {
    let mut cmd = Command::new("bash");
    cmd.arg("-n").arg(format!("{SRC}/completions/flom.bash"));
    spawn_command(cmd, "bash -n".into())
        .wait(MAKE_BOUND)
        .expect_code(0)
        .expect_stderr("");

    assert_eq!(bash_complete(&["flom", "--lock-mo"]), ["--lock-mode="]);
    let modes = bash_complete(&["flom", "-l", ""]);
    assert!(modes.contains(&"EX".to_string()) && modes.contains(&"ProtectedRead".to_string()));
    assert_eq!(bash_complete(&["flom", "--lock-mode", "=", "P"]).len(), 4);
    assert_eq!(bash_complete(&["flom", "-e", "n"]), ["no"]);
    assert!(bash_complete(&["flom", "--ignore-signal", "SIGTE"]).contains(&"SIGTERM".into()));
    // an option's value is not taken for the command; after it comes the command
    assert!(bash_complete(&["flom", "-r", "x", "ech"]).contains(&"echo".into()));
    assert!(bash_complete(&["flom", "-r", "x", "--", "ech"]).contains(&"echo".into()));
    // no value is offered for free-form values
    assert!(bash_complete(&["flom", "-r", ""]).is_empty());
}

#[test]
fn zsh_and_fish_accept_their_completions() {
    for (shell, file) in [
        ("zsh", "completions/_flom"),
        ("fish", "completions/flom.fish"),
    ] {
        let Some(path) = which(shell) else {
            eprintln!("SKIPPED zsh_and_fish_accept_their_completions ({shell} part): {shell} is not installed");
            continue;
        };
        let mut cmd = Command::new(path);
        cmd.arg("-n").arg(Path::new(SRC).join(file));
        spawn_command(cmd, format!("{shell} -n {file}"))
            .wait(MAKE_BOUND)
            .expect_code(0)
            .expect_stderr("");
    }
}

// --------------------------------------------------------------- README

#[test]
fn readme_names_the_prerequisites() {
    let readme = source("README.md");
    assert!(readme.starts_with(
        "# flom — the Free LOck Manager, in Rust\n\n```sh\n\
         make && ./target/release/flom -- echo hello"
    ));
    let prereq = readme
        .split("\n## Prerequisites\n")
        .nth(1)
        .expect("README has a Prerequisites section")
        .split("\n## ")
        .next()
        .unwrap();
    let manifest = source("Cargo.toml");
    let rust = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .expect("Cargo.toml has a rust-version");
    assert!(
        prereq.contains(&format!("Rust {rust}")),
        "Prerequisites lack Rust {rust}"
    );
    for needed in ["make", "iproute2", "fuse3", "root", "make vendor"] {
        assert!(prereq.contains(needed), "Prerequisites lack {needed}");
    }
    let install = readme
        .split("\n## Installing\n")
        .nth(1)
        .expect("README has an Installing section");
    for needed in [
        "prefix",
        "DESTDIR",
        "sysconfdir",
        "CARGO_FLAGS",
        "make vendor",
        "--offline",
    ] {
        assert!(install.contains(needed), "Installing lacks {needed}");
    }
}
