//! libflom, the C API, as a user of the installed package sees it: `make
//! install` into a DESTDIR stage, C and C++ programs compiled with `cc` /
//! `c++` against the staged headers and linked with `-lflom` through the
//! staged `flom.pc`, run against our daemon (`flom -s SOCK -d -1 -- true`):
//! every function of the API (tests/c/api_cases.c, whose expected output is
//! also what C FLoM 1.7.2's library prints), wire vector 18's program, the
//! C++ wrapper, eight threads with a handle each, and `make uninstall`.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// How many tests use the shared stage; the last one to finish removes it.
const STAGE_USERS: usize = 5;
static STAGE_DONE: AtomicUsize = AtomicUsize::new(0);

/// Held by a test while it uses the stage (also when it fails).
struct StageUse(&'static Stage);

impl Drop for StageUse {
    fn drop(&mut self) {
        if STAGE_DONE.fetch_add(1, Ordering::SeqCst) + 1 == STAGE_USERS {
            let _ = std::fs::remove_dir_all(&self.0.root);
        }
    }
}

/// The repository (where the Makefile is).
fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The built `libflom.so`: beside the binary under test, else the release
/// build's (`make check` builds both).
fn built_library() -> PathBuf {
    let beside = Path::new(BIN).with_file_name("libflom.so");
    let release = repo().join("target/release/libflom.so");
    [beside, release]
        .into_iter()
        .find(|p| p.is_file())
        .expect("libflom.so is not built: run cargo build --release")
}

/// A cargo target dir for `make install`: `release/` holds the binary under
/// test and the built library.
fn fake_target(root: &Path) -> PathBuf {
    let target = root.join("cargo-target");
    let _ = std::fs::remove_dir_all(&target);
    std::fs::create_dir_all(target.join("release")).unwrap();
    std::os::unix::fs::symlink(BIN, target.join("release/flom")).unwrap();
    std::os::unix::fs::symlink(built_library(), target.join("release/libflom.so")).unwrap();
    target
}

fn ok(out: Output, what: &str) -> Output {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `make GOAL` (build taken as done) into `stage` with PREFIX=/usr.
fn make(stage: &Path, goal: &str) -> Output {
    let target = fake_target(stage);
    Command::new("make")
        .current_dir(repo())
        .args(["-s", "-o", "build", goal])
        .arg(format!("DESTDIR={}", stage.display()))
        .arg("PREFIX=/usr")
        .arg(format!("CARGO_TARGET_DIR={}", target.display()))
        .env_remove("MAKEFLAGS")
        .env_remove("MFLAGS")
        .output()
        .expect("run make")
}

/// The staged installation and the test programs built against it, made
/// once for all tests of this file.
struct Stage {
    root: PathBuf,
    bin: PathBuf,
}

impl Stage {
    fn libdir(&self) -> PathBuf {
        self.root.join("usr/lib")
    }

    fn program(&self, name: &str) -> String {
        self.bin.join(name).to_string_lossy().into_owned()
    }

    /// Runs a staged test program with the staged library and a private HOME.
    fn run(&self, env: &Env, program: &str, args: &[&str]) -> Output {
        let home = env.path("home");
        std::fs::create_dir_all(&home).unwrap();
        Command::new(self.program(program))
            .args(args)
            .env("LD_LIBRARY_PATH", self.libdir())
            .env("HOME", &home)
            .env("USER", crate::login())
            .env_remove("FLOM_TRACE_MASK")
            .output()
            .expect("run test program")
    }
}

fn login() -> String {
    // SAFETY: getpwuid returns static storage or NULL; copied at once.
    unsafe {
        let pw = libc::getpwuid(libc::getuid());
        assert!(!pw.is_null());
        std::ffi::CStr::from_ptr((*pw).pw_name)
            .to_string_lossy()
            .into_owned()
    }
}

fn pkg_config(stage: &Path, args: &[&str]) -> Vec<String> {
    let out = ok(
        Command::new("pkg-config")
            .args(args)
            .arg("flom")
            .env("PKG_CONFIG_PATH", stage.join("usr/lib/pkgconfig"))
            .env("PKG_CONFIG_SYSROOT_DIR", stage)
            .env_remove("PKG_CONFIG_LIBDIR")
            .output()
            .expect("run pkg-config"),
        "pkg-config",
    );
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(String::from)
        .collect()
}

fn stage() -> StageUse {
    StageUse(built_stage())
}

fn built_stage() -> &'static Stage {
    static STAGE: OnceLock<Stage> = OnceLock::new();
    STAGE.get_or_init(|| {
        let root = PathBuf::from(format!(
            "/tmp/flom-test-libflom-stage-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&root);
        ok(make(&root, "install"), "make install");
        let bin = root.join("programs");
        std::fs::create_dir_all(&bin).unwrap();
        let cflags = pkg_config(&root, &["--cflags"]);
        let libs = pkg_config(&root, &["--libs"]);
        assert!(cflags
            .iter()
            .any(|f| f.starts_with("-I") && f.contains("flom-test-libflom-stage")));
        let sources = repo().join("tests/c");
        for (compiler, source, program) in [
            ("cc", "api_cases.c", "api_cases"),
            ("cc", "capi_test.c", "capi_test"),
            ("c++", "cpp_test.cc", "cpp_test"),
            ("cc", "threads.c", "threads"),
        ] {
            ok(
                Command::new(compiler)
                    .args(["-Wall", "-Werror", "-pthread", "-o"])
                    .arg(bin.join(program))
                    .arg(sources.join(source))
                    .args(&cflags)
                    .args(&libs)
                    .output()
                    .expect("run the compiler"),
                &format!("{compiler} {source}"),
            );
        }
        Stage { root, bin }
    })
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn staged_install_has_library_links_headers_and_pkg_config() {
    let use_ = stage();
    let s = use_.0;
    let lib = s.libdir();
    for link in ["libflom.so", "libflom.so.0"] {
        assert!(
            std::fs::symlink_metadata(lib.join(link))
                .unwrap()
                .file_type()
                .is_symlink(),
            "{link} is a link"
        );
    }
    assert_eq!(
        std::fs::canonicalize(lib.join("libflom.so")).unwrap(),
        std::fs::canonicalize(lib.join("libflom.so.0.2.0")).unwrap()
    );
    let dynamic = ok(
        Command::new("readelf")
            .arg("-d")
            .arg(lib.join("libflom.so.0.2.0"))
            .output()
            .expect("readelf"),
        "readelf",
    );
    assert!(
        stdout(&dynamic).contains("Library soname: [libflom.so.0]"),
        "{}",
        stdout(&dynamic)
    );
    for h in [
        "flom.h",
        "flom_errors.h",
        "flom_handle.h",
        "flom_types.h",
        "flom.hh",
        "FlomHandle.hh",
    ] {
        assert!(
            s.root.join("usr/include").join(h).is_file(),
            "{h} installed"
        );
    }
    let pc = std::fs::read_to_string(lib.join("pkgconfig/flom.pc")).unwrap();
    assert!(
        pc.contains("libdir=/usr/lib") && pc.contains("includedir=/usr/include"),
        "{pc}"
    );
    let libs = pkg_config(&s.root, &["--libs"]);
    assert!(libs.contains(&"-lflom".to_string()), "{libs:?}");
}

#[test]
fn every_function_of_the_c_api_behaves_as_c_flom_s() {
    let use_ = stage();
    let s = use_.0;
    let env = Env::new("libflom-api");
    env.start_daemon();
    let out = s.run(&env, "api_cases", &[&env.sock, BIN, "extra"]);
    let expected = std::fs::read_to_string(repo().join("tests/c/api_cases.expected")).unwrap();
    let got = stdout(&out);
    if got != expected {
        let first = got
            .lines()
            .zip(expected.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(got.lines().count().min(expected.lines().count()));
        panic!(
            "api_cases output differs from tests/c/api_cases.expected at line {}:\n got: {:?}\nwant: {:?}\nstderr:\n{}",
            first + 1,
            got.lines().nth(first),
            expected.lines().nth(first),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(out.status.success(), "exit status {}", out.status);
    // The program stopped the daemon under a held lock; nothing is left.
    wait_until(T, "the daemon to exit", || {
        daemon_pids(&env.sock).is_empty()
    });
}

#[test]
fn vector_18_program_locks_a_simple_resource_and_a_set() {
    let use_ = stage();
    let s = use_.0;
    let env = Env::new("libflom-v18");
    env.start_daemon();
    let a = s.run(&env, "capi_test", &[&env.sock, "capi"]);
    assert_eq!(stdout(&a), "locked, element=(null)\ndone\n");
    assert!(a.status.success() && a.stderr.is_empty(), "{:?}", a);
    let b = s.run(&env, "capi_test", &[&env.sock, "red.green.blue"]);
    assert_eq!(stdout(&b), "locked, element=red\ndone\n");
    assert!(b.status.success() && b.stderr.is_empty(), "{:?}", b);
    // Without a daemon the API never starts one.
    let none = env.path("none");
    let c = s.run(&env, "capi_test", &[&none, "capi"]);
    assert_eq!(c.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&c.stderr),
        "capi_test: ret_cod=-105 (ERROR: 'connect' function returned an error condition)\n"
    );
    assert!(!exists(&none), "the API started a daemon on {none}");
}

#[test]
fn cpp_wrapper_locks_and_reports_like_the_c_api() {
    let use_ = stage();
    let s = use_.0;
    let env = Env::new("libflom-cpp");
    env.start_daemon();
    let out = s.run(&env, "cpp_test", &[&env.sock]);
    assert_eq!(
        stdout(&out),
        "getNetworkInterface() = ''\n\
         getUnicastAddress() = ''\n\
         getResourceName() = '_RESOURCE'\n\
         getLockMode() = 5\n\
         getResourceTimeout() = -1\n\
         setSocketName(string) = 0\n\
         setSocketName(char*) = 0\n\
         setResourceName = 0\n\
         setResourceName = 0\n\
         setResourceQuantity(-2) = 0\n\
         getResourceQuantity() = 2\n\
         setLockMode = 0\n\
         stat.lock = 0\n\
         stat element = red\n\
         dyn.lock = 0\n\
         dyn element = blue\n\
         setSocketName while locked = 11\n\
         dyn.unlock = 0\n\
         dyn element after unlock = ''\n\
         stat.unlockRollback = 12\n\
         FlomException(-17).what() = ERROR: API function called using an invalid sequence\n\
         done\n"
    );
    assert!(out.status.success(), "{:?}", out);
    env.assert_free("red.blue.green");
}

#[test]
fn one_handle_per_thread_and_a_once_per_process_initialisation() {
    let use_ = stage();
    let s = use_.0;
    let env = Env::new("libflom-threads");
    env.start_daemon();
    let out = s.run(&env, "threads", &[&env.sock]);
    assert_eq!(
        stdout(&out),
        "threads ok, 200 critical sections\n",
        "{:?}",
        out
    );
    assert!(out.status.success() && out.stderr.is_empty(), "{:?}", out);
}

#[test]
fn make_uninstall_removes_what_install_put() {
    let root = PathBuf::from(format!(
        "/tmp/flom-test-libflom-uninstall-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&root);
    ok(make(&root, "install-libflom"), "make install-libflom");
    assert!(root.join("usr/lib/libflom.so.0.2.0").is_file());
    ok(make(&root, "uninstall-libflom"), "make uninstall-libflom");
    let mut left = Vec::new();
    for dir in ["usr/lib", "usr/lib/pkgconfig", "usr/include"] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            let e = e.unwrap();
            if !e.file_type().unwrap().is_dir() {
                left.push(e.path());
            }
        }
    }
    assert!(left.is_empty(), "left after uninstall: {left:?}");
    let _ = std::fs::remove_dir_all(&root);
}
