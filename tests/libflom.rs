//! libflom, the C API, as a user of the installed package sees it: `make
//! install` into a DESTDIR stage, C and C++ programs compiled with `cc` /
//! `c++` against the staged headers and linked with `-lflom` through the
//! staged `flom.pc`, run against our daemon (`flom -s SOCK -d -1 -- true`):
//! every function of the API (tests/c/api_cases.c, whose expected output is
//! also what C FLoM 1.7.2's library prints), wire vector 18's program, the
//! C++ wrapper, eight threads with a handle each, TLS set through the
//! API's setters (tests/c/tls_client.c, certificates made by the `openssl`
//! command), and `make uninstall`.

mod common;
#[path = "../src/tls/test_pki.rs"]
mod pki;

use common::*;
use pki::{Peer, Pki};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// How many tests use the shared stage; the last one to finish removes it.
const STAGE_USERS: usize = 6;
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
            ("cc", "tls_client.c", "tls_client"),
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

/// `flom` options giving a daemon `peer`'s files, trusting `ca`.
fn tls_options(peer: &Peer, ca: &Path) -> Vec<String> {
    vec![
        format!("--tls-certificate={}", peer.cert.display()),
        format!("--tls-private-key={}", peer.key.display()),
        format!("--tls-ca-certificate={}", ca.display()),
    ]
}

/// Starts `flom -s SOCK TLS -d -1 -- true` (a TLS daemon, as the C suite's
/// API cases do) and returns its pid.
fn start_tls_daemon(env: &Env, sock: &str, tls: &[String]) -> i32 {
    let mut args = vec!["-s", sock];
    args.extend(tls.iter().map(String::as_str));
    args.extend(["-d", "-1", "--", "true"]);
    run_flom(&args).expect_code(0).expect_stderr("");
    let pid = the_daemon(sock);
    env.track(pid);
    pid
}

/// What `tls_client` printed for its lock call.
fn lock_line(out: &Output) -> String {
    stdout(out)
        .lines()
        .find(|l| l.starts_with("flom_handle_lock("))
        .unwrap_or_else(|| panic!("no lock line: {out:?}"))
        .to_string()
}

#[test]
fn tls_files_set_through_the_api_lock_over_tls_with_c_s_return_codes() {
    let use_ = stage();
    let s = use_.0;
    let env = Env::new("libflom-tls");
    let pki = Pki::generate(&env.dir.join("pki"), &machine_id());
    let garbage = env.path("garbage.pem");
    std::fs::write(&garbage, "not a PEM file\n").unwrap();
    // A daemon that checks the clients' ids, and one whose CN is wrong.
    let checking = tls_options(&pki.peer1, &pki.ca1)
        .into_iter()
        .chain(["--tls-check-peer-id=yes".to_string()])
        .collect::<Vec<_>>();
    start_tls_daemon(&env, &env.sock, &checking);
    let wrong_cn_sock = env.other_sock("wrong-cn");
    start_tls_daemon(&env, &wrong_cn_sock, &tls_options(&pki.wrong_cn, &pki.ca1));

    let path = |p: &Path| p.to_string_lossy().into_owned();
    let client = |sock: &str, cert: &str, key: &str, ca: &Path, check: &str| {
        s.run(
            &env,
            "tls_client",
            &[sock, cert, key, &path(ca), check, "red.green.blue"],
        )
    };
    let peer2 = (path(&pki.peer2.cert), path(&pki.peer2.key));

    // The three files and the peer-id check: the lock is granted over TLS.
    let good = client(&env.sock, &peer2.0, &peer2.1, &pki.ca1, "1");
    assert_eq!(
        stdout(&good),
        "flom_handle_init(&h) = 0 (OK: no error)\n\
             flom_handle_set_socket_name(&h, target) = 0 (OK: no error)\n\
             flom_handle_set_tls_certificate(&h, cert) = 0 (OK: no error)\n\
             flom_handle_set_tls_private_key(&h, key) = 0 (OK: no error)\n\
             flom_handle_set_tls_ca_certificate(&h, ca) = 0 (OK: no error)\n\
             flom_handle_set_tls_check_peer_id(&h, check) = 0 (OK: no error)\n\
             tls_check_peer_id = 1\n\
             flom_handle_set_resource_name(&h, resource) = 0 (OK: no error)\n\
             flom_handle_lock(&h) = 0 (OK: no error)\n\
             locked element = red\n\
             flom_handle_unlock(&h) = 0 (OK: no error)\n\
         flom_handle_clean(&h) = 0 (OK: no error)\n",
        "{good:?}"
    );
    assert!(good.status.success() && good.stderr.is_empty(), "{good:?}");

    // Failures, with C FLoM 1.7.2's libflom codes (checked by hand with it).
    let cases: Vec<(&str, Output, &str)> = vec![
        (
            "trusting the wrong CA",
            client(&env.sock, &peer2.0, &peer2.1, &pki.ca2, "0"),
            "-407 (ERROR: 'OpenSSL SSL_get_verify_result' function returned an error)",
        ),
        (
            "a certificate the daemon's CA did not sign",
            client(
                &env.sock,
                &path(&pki.ca2_peer.cert),
                &path(&pki.ca2_peer.key),
                &pki.ca1,
                "0",
            ),
            "-409 (ERROR: 'OpenSSL SSL_read' function returned an error)",
        ),
        (
            "a CN that is not our id, against the daemon's check",
            client(
                &env.sock,
                &path(&pki.wrong_cn.cert),
                &path(&pki.wrong_cn.key),
                &pki.ca1,
                "0",
            ),
            "-409 (ERROR: 'OpenSSL SSL_read' function returned an error)",
        ),
        (
            "a daemon whose CN is not its id, with our check",
            client(&wrong_cn_sock, &peer2.0, &peer2.1, &pki.ca1, "1"),
            "-23 (ERROR: the unique ID sent by the peer does not match the CN field inside the X.509 provided certificate)",
        ),
        (
            "a key that does not match the certificate",
            client(&env.sock, &peer2.0, &path(&pki.peer1.key), &pki.ca1, "0"),
            "-404 (ERROR: 'OpenSSL SSL_CTX_use_PrivateKey_file' function returned an error)",
        ),
        (
            "a certificate file that is not PEM",
            client(&env.sock, &garbage, &peer2.1, &pki.ca1, "0"),
            "-403 (ERROR: 'OpenSSL SSL_CTX_use_certificate_file' function returned an error)",
        ),
        (
            "a CA file that is not PEM",
            client(&env.sock, &peer2.0, &peer2.1, Path::new(&garbage), "0"),
            "-401 (ERROR: 'OpenSSL SSL_CTX_load_verify_locations' function returned an error)",
        ),
    ];
    for (what, out, code) in &cases {
        assert_eq!(
            lock_line(out),
            format!("flom_handle_lock(&h) = {code}"),
            "{what}: {out:?}"
        );
        assert_eq!(out.status.code(), Some(1), "{what}: {out:?}");
    }
    // Without the check, the wrong daemon CN does not matter.
    let unchecked = client(&wrong_cn_sock, &peer2.0, &peer2.1, &pki.ca1, "0");
    assert_eq!(
        lock_line(&unchecked),
        "flom_handle_lock(&h) = 0 (OK: no error)"
    );
    // A plain client against a TLS daemon: C's -126.
    let plain = s.run(&env, "capi_test", &[&env.sock, "capi"]);
    assert_eq!(
        String::from_utf8_lossy(&plain.stderr),
        "capi_test: ret_cod=-126 (ERROR: 'recv' function returned an error condition)\n"
    );
    // Nothing is left locked; the daemons end with a TLS shutdown request.
    let again = client(&env.sock, &peer2.0, &peer2.1, &pki.ca1, "1");
    assert_eq!(lock_line(&again), "flom_handle_lock(&h) = 0 (OK: no error)");
    for (sock, tls) in [
        (&env.sock, checking.clone()),
        (&wrong_cn_sock, tls_options(&pki.wrong_cn, &pki.ca1)),
    ] {
        let mut args = vec!["-s", sock.as_str()];
        args.extend(tls.iter().map(String::as_str));
        args.push("-X");
        run_flom(&args).expect_code(0);
        wait_until(T, "the TLS daemon to exit", || daemon_pids(sock).is_empty());
    }
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
