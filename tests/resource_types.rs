//! The six resource types with the `flom` command against its own daemon:
//! the use cases of the C test suite for numeric (UC10, UC11), set (UC12,
//! UC13), hierarchical (UC14, UC15), sequence (UC18) and timestamp (UC19)
//! resources and for long-term resources (UC16, UC17: create=no, the
//! incubator and the idle lifespan), spec/tests.md §10–§14 and §16, plus
//! the per-type rules of spec/resources.md and spec/cli.md §2 (lock mode
//! and quantity forced for the types that do not use them, the element
//! appended to the command and printed by `--verbose`).
//!
//! Every client's command logs `NAME start [ELEMENT]` when it gets the lock
//! (the element is whatever flom appended to its argv) and, when it holds,
//! blocks on its own FIFO until the test releases it. A client that must
//! wait talks to the daemon through a tap (a relay recording the daemon's
//! messages), so the test awaits its queued (rc=1) or parked (rc=2) answer
//! before going on (`common::types`).

mod common;

use common::netns::TcpPort;
use common::types::*;
use common::*;
use std::time::{Duration, Instant};

/// The idle time of the long-term resource use cases is the point of them.
fn pause(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

/// A lock request laid out as the C client does for the type of `name`
/// (vectors/README.md: mode only for simple and hierarchical names,
/// quantity only for numeric ones).
fn lock_req(name: &str, mode: u8, wait: bool, create: bool, lifespan: i64) -> String {
    let peer = machine_id();
    let (w, c) = (u8::from(wait), u8::from(create));
    let b = b64(name);
    let body = if name.starts_with('/') || !name.contains(['[', '.']) {
        format!("<resource name=\"{b}\" mode=\"{mode}\" wait=\"{w}\" create=\"{c}\" lifespan=\"{lifespan}\"/>")
    } else if name.contains('[') && !name.starts_with('_') {
        format!("<resource name=\"{b}\" wait=\"{w}\" quantity=\"1\" create=\"{c}\" lifespan=\"{lifespan}\"/>")
    } else {
        format!("<resource name=\"{b}\" wait=\"{w}\" create=\"{c}\" lifespan=\"{lifespan}\"/>")
    };
    format!(
        "{PROLOGUE}<msg level=\"3\" verb=\"1\" step=\"8\"><session peerid=\"{peer}\"/>{body}</msg>"
    )
}

/// A later answer carrying an element.
fn answer24_elem(elem: &str) -> String {
    format!("{PROLOGUE}<msg level=\"3\" verb=\"1\" step=\"24\"><answer rc=\"0\" element=\"{elem}\"/></msg>")
}

/// The element of an answer (None when it has none).
fn element_in(msg: &str) -> Option<String> {
    let (_, rest) = msg.split_once(" element=\"")?;
    Some(rest[..rest.find('"')?].to_string())
}

fn bye(mut r: Raw, name: &str) {
    r.send_ok(&unlock_msg(name, false));
    r.shutdown_write();
    r.expect_closed(T);
}

// ============================================================ numeric

#[test]
fn uc10_1_numeric_two_holders_share_foo2_third_waits() {
    let env = Env::new("uc10a");
    env.start_daemon();
    let s = Scene::new(&env);
    let r = ["-r", "foo[2]"];
    let (mut a, _) = s.granted("A", &r);
    let (mut b, _) = s.granted("B", &r);
    let mut c = s.waiting("C", &r, true, 1);
    env.assert_busy("foo[2]");
    assert!(!s.has_started("C"), "a third holder on foo[2]");
    a.end(0);
    s.started("C");
    b.end(0);
    c.end(0);
    assert_eq!(
        s.lines(),
        ["A start", "B start", "A end", "C start", "B end", "C end"]
    );
    env.assert_free("foo[2]");
}

#[test]
fn uc10_2_quantity_two_fills_foo2_other_resources_stay_free() {
    let env = Env::new("uc10b");
    env.start_daemon();
    let s = Scene::new(&env);
    let (mut a, _) = s.granted("A", &["-r", "foo[2]", "-q", "2"]);
    s.run("B", &["-r", "foo[2]", "-q", "2", "-o", "0"])
        .expect_code(98)
        .expect_stdout("")
        .expect_stderr(BUSY);
    // The default resource is another resource: it runs while A holds.
    s.run("C", &[]).expect_code(0).expect_stderr("");
    a.end(0);
    assert_eq!(s.lines(), ["A start", "C start", "C end", "A end"]);
    env.assert_free("foo[2]");
}

#[test]
fn uc10_3_two_unit_request_waits_until_both_holders_release() {
    let env = Env::new("uc10c");
    env.start_daemon();
    let s = Scene::new(&env);
    let r = ["-r", "foo[2]"];
    let (mut a, _) = s.granted("A", &r);
    let (mut b, _) = s.granted("B", &r);
    s.run("C", &["-r", "foo[2]", "-o", "0"])
        .expect_code(98)
        .expect_stderr(BUSY);
    let mut d = s.waiting("D", &["-r", "foo[2]", "-q", "2"], false, 1);
    a.end(0);
    // One unit is free and D (two units) is still queued: a one-unit
    // request gets it at once.
    s.run("P", &["-r", "foo[2]", "-o", "0"])
        .expect_code(0)
        .expect_stderr("");
    assert!(!s.has_started("D"));
    b.end(0);
    d.end(0).expect_stderr("");
    assert_eq!(
        s.lines(),
        ["A start", "B start", "A end", "P start", "P end", "B end", "D start", "D end"]
    );
    env.assert_free("foo[2]");
}

#[test]
fn numeric_request_larger_than_the_capacity_is_impossible() {
    let env = Env::new("numimp");
    env.start_daemon();
    let s = Scene::new(&env);
    for args in [
        &["-r", "pool[3]", "-q", "4", "-o", "0"][..],
        &["-r", "pool[3]", "-q", "4"],
        &["-r", "pool[3]", "-q", "4", "-o", "5000"],
    ] {
        let out = s.run("X", args);
        out.expect_code(99)
            .expect_stdout("")
            .expect_stderr(IMPOSSIBLE);
        // At once, not after the 5 s wait.
        assert!(
            out.elapsed < Duration::from_millis(4000),
            "{}",
            out.describe()
        );
    }
    assert!(
        s.lines().is_empty(),
        "an impossible request ran its command"
    );
    // The whole capacity is fine.
    s.run("Y", &["-r", "pool[3]", "-q", "3", "-o", "0"])
        .expect_code(0);
}

#[test]
fn numeric_small_request_overtakes_a_queued_large_one() {
    // resources.md §4: a new request is compared with the free capacity
    // only, never with the queue.
    let env = Env::new("numovertake");
    env.start_daemon();
    let s = Scene::new(&env);
    let (mut a, _) = s.granted("A", &["-r", "p[3]", "-q", "2"]);
    let mut big = Raw::connect(&env.sock);
    big.send_ok(&lock_req("p[3]", 5, true, true, 0).replace("quantity=\"1\"", "quantity=\"2\""));
    assert_eq!(big.expect_msg(T), answer16(1), "2 units of 3 with 2 held");
    s.run("B", &["-r", "p[3]", "-o", "0"])
        .expect_code(0)
        .expect_stderr("");
    assert!(big.nothing_pending());
    a.end(0);
    assert_eq!(big.expect_msg(T), answer24(0));
    // The raw client holds 2 units: 2 more are refused, 1 is granted.
    env.flom(&["-r", "p[3]", "-q", "2", "-o", "0", "--", "true"])
        .expect_code(98)
        .expect_stderr(BUSY);
    env.flom(&["-r", "p[3]", "-o", "0", "--", "true"])
        .expect_code(0);
    bye(big, "p[3]");
    env.assert_free("p[3]");
}

/// UC11: a writer (`-l PW`) and readers (`-l CR`) on the default resource,
/// each reader running an inner `flom -r bar[2]`.
fn reader_args<'a>(env: &'a Env, outer: &'a [&'a str], inner: &'a [&'a str]) -> Vec<&'a str> {
    let mut v = outer.to_vec();
    v.extend(["-l", "CR", "--", BIN, "-s", env.sock.as_str()]);
    v.extend_from_slice(inner);
    v.extend(["-r", "bar[2]"]);
    v
}

#[test]
fn uc11_1_readers_writer_with_an_inner_numeric_and_trace_files() {
    let env = Env::new("uc11a");
    let s = Scene::new(&env);
    let p = |n: &str| env.path(n);
    let (d1, c1) = (p("d1"), p("c1"));
    let tf: Vec<[String; 4]> = (2..=4)
        .map(|i| {
            [
                p(&format!("d{i}f")),
                p(&format!("c{i}f")),
                p(&format!("d{i}c")),
                p(&format!("c{i}c")),
            ]
        })
        .collect();
    // The writer starts the daemon (with its trace file).
    let (mut w, _) = s.granted("W", &["-t", &d1, "-T", &c1, "-l", "PW"]);
    let mut readers = Vec::new();
    // R4's inner flom talks through a tap: its queued answer is awaited.
    let tap = Tap::new(&env);
    for (i, t) in tf.iter().enumerate() {
        let outer = ["-t", t[0].as_str(), "-T", t[1].as_str()];
        let mut inner = vec!["-t", t[2].as_str(), "-T", t[3].as_str()];
        if i == 2 {
            inner.extend(["-s", tap.path.as_str()]);
        }
        let name = format!("R{}", i + 2);
        let c = s.holder(&name, &reader_args(&env, &outer, &inner));
        if i < 2 {
            s.started(&name);
        }
        readers.push(c);
    }
    // R4 holds the default resource (CR) but its inner flom waits for bar[2].
    tap.wait_first_rc(1);
    wait_conns(&env.sock, 7);
    assert!(!s.has_started("R4"));
    // Readers and the writer hold the default resource together.
    env.assert_busy("_RESOURCE");
    readers[0].end(0).expect_stderr("");
    s.started("R4");
    readers[1].end(0).expect_stderr("");
    readers[2].end(0).expect_stderr("");
    w.end(0).expect_stderr("");
    assert_eq!(
        s.lines(),
        ["W start", "R2 start", "R3 start", "R2 end", "R4 start", "R3 end", "R4 end", "W end"]
    );
    // -T files are opened by every flom, outer and inner.
    for f in std::iter::once(&c1).chain(tf.iter().flat_map(|t| [&t[1], &t[3]])) {
        assert!(exists(f), "no command trace file {f}");
    }
    assert!(exists(&d1), "the daemon did not open its trace file {d1}");
    env.assert_free("_RESOURCE");
    env.assert_free("bar[2]");
}

#[test]
fn uc11_2_inner_no_wait_reader_exits_98() {
    let env = Env::new("uc11b");
    env.start_daemon();
    let s = Scene::new(&env);
    let (mut w, _) = s.granted("W", &["-l", "PW"]);
    let (mut r2, _) = s.granted("R2", &reader_args(&env, &[], &[]));
    let (mut r3, _) = s.granted("R3", &reader_args(&env, &[], &[]));
    // The fourth reader gets the default resource (CR next to PW and CR)
    // but not bar[2]; its inner flom does not wait and fails, and the outer
    // flom exits with its command's status.
    s.run("R4", &reader_args(&env, &[], &["-o", "0"]))
        .expect_code(98)
        .expect_stdout("")
        .expect_stderr(BUSY);
    r2.end(0);
    r3.end(0);
    w.end(0);
    assert_eq!(
        s.lines(),
        ["W start", "R2 start", "R3 start", "R2 end", "R3 end", "W end"]
    );
    env.assert_free("_RESOURCE");
}

// ================================================================ set

#[test]
fn uc12_three_clients_get_red_green_blue() {
    let env = Env::new("uc12");
    env.start_daemon();
    let s = Scene::new(&env);
    let r = ["-r", "red.green.blue"];
    let mut cs: Vec<Client> = Vec::new();
    for n in ["A", "B", "C"] {
        let (c, _) = s.granted(n, &r);
        cs.push(c);
    }
    for c in &mut cs {
        c.end(0).expect_stderr("");
    }
    assert_eq!(
        s.lines(),
        [
            "A start red",
            "B start green",
            "C start blue",
            "A end",
            "B end",
            "C end"
        ]
    );
}

#[test]
fn uc13_1_all_elements_busy_then_red_again() {
    let env = Env::new("uc13a");
    env.start_daemon();
    let s = Scene::new(&env);
    let r = ["-r", "red.green.blue"];
    let mut cs: Vec<Client> = ["A", "B", "C"].iter().map(|n| s.granted(n, &r).0).collect();
    s.run("D", &["-r", "red.green.blue", "-o", "0"])
        .expect_code(98)
        .expect_stdout("")
        .expect_stderr(BUSY);
    for c in &mut cs {
        c.end(0);
    }
    s.run("E", &r).expect_code(0);
    assert_eq!(s.elements(), ["red", "green", "blue", "red"]);
    assert!(!s.has_started("D"));
}

#[test]
fn uc13_2_released_green_is_handed_out_again() {
    let env = Env::new("uc13b");
    env.start_daemon();
    let s = Scene::new(&env);
    let r = ["-r", "red.green.blue"];
    let (mut a, _) = s.granted("A", &r);
    let (mut b, _) = s.granted("B", &r);
    let (mut c, _) = s.granted("C", &r);
    b.end(0);
    // The cursor is back at red (3 grants): red is busy, green is free.
    let (mut d, e) = s.granted("D", &r);
    assert_eq!(e, "green");
    d.end(0);
    a.end(0);
    c.end(0);
    // The printed sequence of the C test: each element when its holder ends.
    let printed: Vec<String> = s
        .lines()
        .iter()
        .filter_map(|l| l.strip_suffix(" end"))
        .map(|n| s.element_of(n).unwrap())
        .collect();
    assert_eq!(printed, ["green", "green", "red", "blue"]);
    // The cursor moved one step from its old value (red → green) at D's
    // grant: the next free scan starts at green.
    s.run("E", &r).expect_code(0);
    assert_eq!(s.element_of("E").unwrap(), "green");
}

#[test]
fn set_with_duplicate_elements_has_one_slot_per_element() {
    let env = Env::new("setdup");
    env.start_daemon();
    let s = Scene::new(&env);
    let r = ["-r", "a.a.b"];
    let mut cs: Vec<Client> = ["A", "B", "C"].iter().map(|n| s.granted(n, &r).0).collect();
    env.assert_busy("a.a.b");
    for c in &mut cs {
        c.end(0);
    }
    assert_eq!(s.elements(), ["a", "a", "b"]);
}

// ======================================================= hierarchical

/// Three-step scenes: `first` granted, `second` must wait for it (when
/// `serial`) or run next to it.
fn hier_pair(test: &str, first: &[&str], second: &[&str], serial: bool) {
    let env = Env::new(test);
    env.start_daemon();
    let s = Scene::new(&env);
    let (mut a, _) = s.granted("A", first);
    if serial {
        let mut b = s.waiting("B", second, true, 1);
        assert!(!s.has_started("B"), "{second:?} ran while {first:?} held");
        a.end(0);
        s.started("B");
        b.end(0);
        assert_eq!(s.lines(), ["A start", "A end", "B start", "B end"]);
    } else {
        let (mut b, _) = s.granted("B", second);
        a.end(0);
        b.end(0);
        assert_eq!(s.lines(), ["A start", "B start", "A end", "B end"]);
    }
    let root = format!("/{}", first[1].split('/').nth(1).unwrap());
    env.assert_free(&root);
}

#[test]
fn uc14_1_different_roots_are_independent() {
    let env = Env::new("uc14a");
    env.start_daemon();
    let s = Scene::new(&env);
    let (mut a, _) = s.granted("A", &["-r", "/apple"]);
    let (mut b, _) = s.granted("B", &["-r", "/pear"]);
    let (mut c, _) = s.granted("C", &["-r", "/banana"]);
    let mut d = s.waiting("D", &["-r", "/apple"], false, 1);
    c.end(0);
    b.end(0);
    assert!(!s.has_started("D"));
    a.end(0);
    d.end(0);
    assert_eq!(
        s.lines(),
        ["A start", "B start", "C start", "C end", "B end", "A end", "D start", "D end"]
    );
}

/// UC14 (2/6), (3/6): three EX requests on one branch, in `paths` order:
/// each waits for the previous one.
fn hier_chain(test: &str, paths: [&str; 3]) {
    let env = Env::new(test);
    env.start_daemon();
    let s = Scene::new(&env);
    let (mut a, _) = s.granted("A", &["-r", paths[0]]);
    let mut b = s.waiting("B", &["-r", paths[1]], true, 1);
    let mut c = s.waiting("C", &["-r", paths[2]], true, 1);
    a.end(0);
    s.started("B");
    assert!(!s.has_started("C"), "{} ran next to {}", paths[2], paths[1]);
    b.end(0);
    s.started("C");
    c.end(0);
    assert_eq!(
        s.lines(),
        ["A start", "A end", "B start", "B end", "C start", "C end"]
    );
    env.assert_free("/apple");
}

#[test]
fn uc14_2_ancestor_then_descendants_serialise() {
    hier_chain("uc14b", ["/apple", "/apple/pear", "/apple/pear/banana"]);
}

#[test]
fn uc14_3_descendant_then_ancestors_serialise() {
    hier_chain("uc14c", ["/apple/pear/banana", "/apple/pear", "/apple"]);
}

/// UC14 (4/6), (5/6): three compatible holders on one branch, then an EX
/// on the root waits for all of them.
fn hier_compatible_three(test: &str, reqs: [[&str; 4]; 3]) {
    let env = Env::new(test);
    env.start_daemon();
    let s = Scene::new(&env);
    let mut cs: Vec<Client> = ["A", "B", "C"]
        .iter()
        .zip(reqs.iter())
        .map(|(n, r)| s.granted(n, r).0)
        .collect();
    let mut d = s.waiting("D", &["-r", "/apple"], false, 1);
    for c in cs.iter_mut().rev() {
        assert!(!s.has_started("D"));
        c.end(0);
    }
    d.end(0);
    assert_eq!(
        s.lines(),
        ["A start", "B start", "C start", "C end", "B end", "A end", "D start", "D end"]
    );
}

#[test]
fn uc14_4_cr_root_pw_leaf_cr_middle_are_concurrent() {
    hier_compatible_three(
        "uc14d",
        [
            ["-l", "CR", "-r", "/apple"],
            ["-l", "PW", "-r", "/apple/pear/banana"],
            ["-l", "CR", "-r", "/apple/pear"],
        ],
    );
}

#[test]
fn uc14_5_cr_leaf_cr_middle_pr_root_are_concurrent() {
    hier_compatible_three(
        "uc14e",
        [
            ["-l", "CR", "-r", "/apple/pear/banana"],
            ["-l", "CR", "-r", "/apple/pear"],
            ["-l", "PR", "-r", "/apple"],
        ],
    );
}

#[test]
fn uc14_6_siblings_are_concurrent_a_child_waits_for_its_parent() {
    let env = Env::new("uc14f");
    env.start_daemon();
    let s = Scene::new(&env);
    let (mut a, _) = s.granted("A", &["-r", "/apple/pear/banana"]);
    let (mut b, _) = s.granted("B", &["-r", "/apple/watermelon"]);
    let mut c = s.waiting("C", &["-r", "/apple/watermelon/bilberry"], true, 1);
    assert!(!s.has_started("C"));
    b.end(0);
    s.started("C");
    assert!(a.running(), "A ended by itself");
    a.end(0);
    c.end(0);
    assert_eq!(
        s.lines(),
        ["A start", "B start", "B end", "C start", "A end", "C end"]
    );
    env.assert_free("/apple");
}

#[test]
fn uc15_1_pr_and_ex_on_sibling_branches_are_concurrent() {
    hier_pair(
        "uc15a",
        &["-r", "/foo/bar", "-l", "PR"],
        &["-r", "/foo/blue/apple", "-l", "EX"],
        false,
    );
}

#[test]
fn uc15_2_pr_then_ex_on_a_child_serialise() {
    hier_pair(
        "uc15b",
        &["-r", "/foo/bar", "-l", "PR"],
        &["-r", "/foo/bar/apple", "-l", "EX"],
        true,
    );
}

#[test]
fn uc15_3_ex_on_a_child_then_pr_on_its_parent_serialise() {
    hier_pair(
        "uc15c",
        &["-r", "/foo/bar/apple", "-l", "EX"],
        &["-r", "/foo/bar", "-l", "PR"],
        true,
    );
}

#[test]
fn uc15_4_pr_then_ex_on_a_grandchild_serialise() {
    hier_pair(
        "uc15d",
        &["-r", "/foo/bar", "-l", "PR"],
        &["-r", "/foo/bar/fruit/apple", "-l", "EX"],
        true,
    );
}

#[test]
fn uc15_5_ex_on_a_grandchild_then_pr_on_its_ancestor_serialise() {
    hier_pair(
        "uc15e",
        &["-r", "/foo/bar/fruit/apple", "-l", "EX"],
        &["-r", "/foo/bar", "-l", "PR"],
        true,
    );
}

#[test]
fn uc15_6_pr_along_one_branch_is_concurrent() {
    let env = Env::new("uc15f");
    env.start_daemon();
    let s = Scene::new(&env);
    let mut cs: Vec<Client> = [("A", "/foo/bar"), ("B", "/foo/bar/fruit"), ("C", "/foo")]
        .iter()
        .map(|(n, p)| s.granted(n, &["-r", p, "-l", "PR"]).0)
        .collect();
    for p in ["/foo", "/foo/bar/fruit/x", "/foo/other"] {
        // EX conflicts with the PR on /foo (ancestor of everything).
        env.assert_busy(p);
    }
    for c in &mut cs {
        c.end(0);
    }
    assert_eq!(
        s.lines(),
        ["A start", "B start", "C start", "A end", "B end", "C end"]
    );
    env.assert_free("/foo");
}

/// UC15 (7/8), (8/8): A and B granted together, C waits for B only.
fn hier_third_waits_for_second(test: &str, reqs: [[&str; 4]; 3]) {
    let env = Env::new(test);
    env.start_daemon();
    let s = Scene::new(&env);
    let (mut a, _) = s.granted("A", &reqs[0]);
    let (mut b, _) = s.granted("B", &reqs[1]);
    let mut c = s.waiting("C", &reqs[2], true, 1);
    assert!(!s.has_started("C"));
    b.end(0);
    s.started("C");
    a.end(0);
    c.end(0);
    assert_eq!(
        s.lines(),
        ["A start", "B start", "B end", "C start", "A end", "C end"]
    );
    env.assert_free("/foo");
}

#[test]
fn uc15_7_pr_on_the_root_waits_for_ex_on_a_descendant() {
    hier_third_waits_for_second(
        "uc15g",
        [
            ["-r", "/foo/bar", "-l", "PR"],
            ["-r", "/foo/blue/apple", "-l", "EX"],
            ["-r", "/foo", "-l", "PR"],
        ],
    );
}

#[test]
fn uc15_8_ex_on_a_descendant_waits_for_pr_on_the_root() {
    hier_third_waits_for_second(
        "uc15h",
        [
            ["-r", "/foo/bar", "-l", "PR"],
            ["-r", "/foo", "-l", "PR"],
            ["-r", "/foo/blue/apple", "-l", "EX"],
        ],
    );
}

#[test]
fn hierarchical_lock_of_a_killed_client_is_released() {
    // resources.md §5: the C 1.7.2 leak (cleanup looking at the path of the
    // last unlock only) must not be reproduced.
    let env = Env::new("hierkill");
    env.start_daemon();
    let s = Scene::new(&env);
    let (mut a, _) = s.granted("A", &["-r", "/a/x"]);
    s.run("B", &["-r", "/a/y"]).expect_code(0);
    env.assert_busy("/a/x");
    a.bg.signal(libc::SIGKILL);
    a.bg.wait_status(T);
    // The client is gone; the daemon releases when it handles the hang-up.
    wait_until(
        T,
        "the daemon to close the killed holder's connection",
        || conn_count(&env.sock) == 0,
    );
    env.assert_free("/a/x");
    env.assert_free("/a");
}

// =========================================================== sequence

#[test]
fn uc18_1_sequential_runs_get_1_2_3() {
    let env = Env::new("uc18a");
    env.start_daemon();
    let s = Scene::new(&env);
    for n in ["A", "B", "C"] {
        s.run(n, &["-i", "1000", "-r", "_s_a[1]"])
            .expect_code(0)
            .expect_stderr("");
    }
    assert_eq!(
        s.lines(),
        [
            "A start 1",
            "A end",
            "B start 2",
            "B end",
            "C start 3",
            "C end"
        ]
    );
}

#[test]
fn uc18_2_queued_clients_get_values_in_grant_order() {
    let env = Env::new("uc18b");
    env.start_daemon();
    let s = Scene::new(&env);
    let r = ["-i", "1000", "-r", "_s_a[1]"];
    let (mut a, e) = s.granted("A", &r);
    assert_eq!(e, "1");
    let mut waiters = Vec::new();
    for n in ["B", "C", "D"] {
        waiters.push(s.waiting(n, &r, true, 1));
    }
    a.end(0);
    for (i, w) in waiters.iter_mut().enumerate() {
        assert_eq!(s.started(&w.name), (i + 2).to_string());
        w.end(0);
    }
    assert_eq!(s.elements(), ["1", "2", "3", "4"]);
    assert_eq!(
        s.lines(),
        [
            "A start 1",
            "A end",
            "B start 2",
            "B end",
            "C start 3",
            "C end",
            "D start 4",
            "D end"
        ]
    );
}

/// UC18 (3/6), (4/6): the 13 runs of the C test; returns the concatenated
/// stdout (`echo` prints the value, `true`/`false` print nothing).
fn thirteen_runs(env: &Env, res: &str) -> String {
    let cmds = [
        "true", "true", "true", "echo", "true", "true", "echo", "false", "echo", "false", "echo",
        "true", "echo",
    ];
    let mut all = String::new();
    for cmd in cmds {
        let out = env.flom(&["-i", "1000", "-r", res, "--", cmd]);
        out.expect_code(if cmd == "false" { 1 } else { 0 })
            .expect_stderr("");
        all.push_str(&out.stdout);
    }
    all
}

#[test]
fn uc18_3_transactional_sequence_reuses_rolled_back_values() {
    let env = Env::new("uc18c");
    env.start_daemon();
    assert_eq!(thirteen_runs(&env, "_S_a[1]"), "4\n7\n8\n9\n11\n");
}

#[test]
fn uc18_4_non_transactional_sequence_never_reuses() {
    let env = Env::new("uc18d");
    env.start_daemon();
    assert_eq!(thirteen_runs(&env, "_s_a[1]"), "4\n7\n9\n11\n13\n");
}

#[test]
fn uc18_5_three_slots_fourth_client_waits_and_gets_4() {
    let env = Env::new("uc18e");
    env.start_daemon();
    let s = Scene::new(&env);
    let r = ["-r", "_s_a[3]"];
    let (mut a, _) = s.granted("A", &r);
    let mut b = s.holder_rc("B", &r, 1);
    s.started("B");
    let (mut c, _) = s.granted("C", &r);
    let mut d = s.waiting("D", &r, true, 1);
    assert!(!s.has_started("D"));
    b.end(1);
    // Non-transactional: the failed holder's 2 is not reused.
    assert_eq!(s.started("D"), "4");
    d.end(0);
    a.end(0);
    c.end(0);
    s.run("E", &r).expect_code(0);
    let printed: Vec<String> = s
        .lines()
        .iter()
        .filter_map(|l| l.strip_suffix(" end"))
        .map(|n| s.element_of(n).unwrap())
        .collect();
    assert_eq!(printed, ["2", "4", "1", "3", "5"]);
}

#[test]
fn uc18_6_transactional_three_slots_prints_2_2_1_4_3_3() {
    let env = Env::new("uc18f");
    env.start_daemon();
    let s = Scene::new(&env);
    let r = ["-r", "_S_a[3]"];
    let (mut c1, _) = s.granted("C1", &r);
    let mut c2 = s.holder_rc("C2", &r, 1);
    s.started("C2");
    let mut c3 = s.holder_rc("C3", &r, 1);
    s.started("C3");
    let mut c4 = s.waiting("C4", &r, true, 1);
    assert!(!s.has_started("C4"));
    // C2 fails: its 2 goes back and the waiting C4 gets it.
    c2.end(1);
    assert_eq!(s.started("C4"), "2");
    let mut c5 = s.waiting("C5", &r, true, 1);
    assert!(!s.has_started("C5"));
    // C4 commits 2: C5 gets a fresh number.
    c4.end(0);
    assert_eq!(s.started("C5"), "4");
    c1.end(0);
    c5.end(0);
    // C3 fails: 3 goes back for the next client.
    c3.end(1);
    s.run("C6", &r).expect_code(0);
    let printed: Vec<String> = s
        .lines()
        .iter()
        .filter_map(|l| l.strip_suffix(" end"))
        .map(|n| s.element_of(n).unwrap())
        .collect();
    assert_eq!(printed, ["2", "2", "1", "4", "3", "3"]);
}

#[test]
fn transactional_value_of_a_killed_client_or_command_is_reused() {
    let env = Env::new("seqkill");
    env.start_daemon();
    let s = Scene::new(&env);
    let r = ["-i", "5000", "-r", "_S_k[1]"];
    let (mut a, e) = s.granted("A", &r);
    assert_eq!(e, "1");
    // flom itself dies: the connection is lost without an unlock.
    a.bg.signal(libc::SIGKILL);
    a.bg.wait_status(T);
    drop(a);
    s.run("B", &r).expect_code(0);
    assert_eq!(
        s.element_of("B").unwrap(),
        "1",
        "lost connection = rollback"
    );
    // The command is killed by a signal: a failure too.
    let out = env.flom(&[
        "-i",
        "5000",
        "-r",
        "_S_k[1]",
        "--",
        "sh",
        "-c",
        "echo $0; kill -TERM $$",
    ]);
    out.expect_code(143).expect_stdout("2\n");
    let out = env.flom(&["-i", "5000", "-r", "_S_k[1]", "--", "echo"]);
    out.expect_code(0).expect_stdout("2\n");
    // Non-transactional: never reused.
    let (mut c, e) = s.granted("C", &["-i", "5000", "-r", "_s_k[1]"]);
    assert_eq!(e, "1");
    c.bg.signal(libc::SIGKILL);
    c.bg.wait_status(T);
    drop(c);
    env.flom(&["-i", "5000", "-r", "_s_k[1]", "--", "echo"])
        .expect_code(0)
        .expect_stdout("2\n");
}

#[test]
fn resources_of_capacity_0_are_refused_by_the_client() {
    // C: busy with -o 0, a wait for ever without; we refuse them (exit 99).
    let env = Env::new("cap0");
    env.start_daemon();
    for name in ["zero[0]", "_s_z[0]", "_S_z[0]", "_t_z%S[0]"] {
        env.flom(&["-r", name, "-o", "0", "--", "echo"])
            .expect_code(99)
            .expect_stdout("")
            .expect_stderr(&format!(
                "flom: resource '{name}' has capacity 0, so it can never be locked: write a capacity of at least 1 between the brackets.\n"
            ));
    }
}

// ========================================================== timestamp

#[test]
fn uc19_valid_formats() {
    let env = Env::new("tsvalid");
    env.start_daemon();
    for f in [
        "%S", "%M", "%H", "%S#f", "%M#ff", "%H#fff", "%c", "%r", "%s", "%T", "%X", "%R", "%I",
    ] {
        let name = format!("_t_a{f}[1]");
        let before = now_secs();
        let out = env.flom(&["-r", &name, "--", "echo"]);
        out.expect_code(0).expect_stderr("");
        let e = out.stdout.trim_end_matches('\n');
        assert!(
            ts_matches(&name, e, before, now_secs()),
            "{name}: {:?} is not the local time",
            out.stdout
        );
    }
}

#[test]
fn uc19_invalid_slow_formats_and_the_same_with_a_fraction() {
    let env = Env::new("tsinvalid");
    env.start_daemon();
    let slow = "%a%A%b%B%d%D%e%E%F%G%g%h%j%m%p%P%u%U%V%w%W%x%y%Y%z%Z";
    env.flom(&["-r", &format!("_t_invalid{slow}[1]"), "--", "echo", "ran"])
        .expect_code(99)
        .expect_stdout("")
        .expect_stderr(&refused_format(&format!("invalid{slow}")));
    for only in ["%Y%m%d", "%Z"] {
        env.flom(&["-r", &format!("_t_{only}[1]"), "--", "echo", "ran"])
            .expect_code(99)
            .expect_stdout("")
            .expect_stderr(&refused_format(only));
    }
    let out = env.flom(&["-r", &format!("_t_invalid#f{slow}[1]"), "--", "echo"]);
    out.expect_code(0).expect_stderr("");
    assert!(out.stdout.starts_with("invalid."), "{}", out.describe());
    // The daemon survived the refused formats.
    env.assert_free("_RESOURCE");
}

#[test]
fn uc19_1_sequential_tenths() {
    let env = Env::new("uc19a");
    env.start_daemon();
    let s = Scene::new(&env);
    let name = "_t_tmstmp%S#f[1]";
    let before = now_secs();
    for n in ["A", "B", "C"] {
        s.run(n, &["-i", "1000", "-r", name]).expect_code(0);
    }
    check_timestamps(name, &s.elements(), before, now_secs());
}

#[test]
fn uc19_2_one_second_grain_one_slot_later_clients_wait() {
    let env = Env::new("uc19b");
    env.start_daemon();
    let s = Scene::new(&env);
    let name = "_t_tmstmp%S[1]";
    let r = ["-i", "1000", "-r", name];
    let before = now_secs();
    let t0 = Instant::now();
    let (mut a, _) = s.granted("A", &r);
    let mut ws = Vec::new();
    for n in ["B", "C", "D"] {
        ws.push(s.waiting(n, &r, false, 1));
    }
    assert_eq!(s.lines().len(), 1, "a waiter ran: {:?}", s.lines());
    a.end(0);
    for w in &mut ws {
        w.end(0).expect_stderr("");
    }
    // A was granted in some second s (after t0); B, C and D each need a
    // second of their own: D's grant is at s + 3 at the earliest.
    assert!(
        t0.elapsed() >= Duration::from_millis(2000),
        "four grants in {:?}",
        t0.elapsed()
    );
    let l = s.lines();
    let order: Vec<&str> = l.iter().map(|l| &l[..1]).collect();
    assert_eq!(order, ["A", "A", "B", "B", "C", "C", "D", "D"], "{l:?}");
    check_timestamps(name, &s.elements(), before, now_secs());
}

#[test]
fn uc19_3_hundredths_four_slots_mixed_exit_codes() {
    let env = Env::new("uc19c");
    env.start_daemon();
    let s = Scene::new(&env);
    let name = "_t_tmstmp%S#ff[4]";
    let r = ["-r", name];
    let before = now_secs();
    let mut cs = Vec::new();
    for (n, rc) in [("C1", 0), ("C2", 1), ("C3", 0), ("C4", 0)] {
        cs.push(s.holder_rc(n, &r, rc));
        s.started(n);
    }
    // Four slots, all taken.
    env.flom(&["-r", name, "-o", "0", "--", "true"])
        .expect_code(98)
        .expect_stderr(BUSY);
    cs[1].end(1);
    cs[3].end(0);
    cs[0].end(0);
    cs[2].end(0);
    s.run("C5", &r).expect_code(0);
    let ends: Vec<String> = s
        .lines()
        .iter()
        .filter_map(|l| l.strip_suffix(" end").map(str::to_string))
        .collect();
    assert_eq!(ends, ["C2", "C4", "C1", "C3", "C5"]);
    let el = s.elements();
    assert_eq!(el.len(), 5);
    check_timestamps(name, &el, before, now_secs());
}

#[test]
fn uc19_4_three_clients_on_one_second_grain_three_slots() {
    let env = Env::new("uc19d");
    env.start_daemon();
    let s = Scene::new(&env);
    let name = "_t_tmstmp%S[3]";
    let r = ["-i", "1000", "-r", name];
    let before = now_secs();
    let mut cs: Vec<Client> = ["A", "B", "C"].iter().map(|n| s.holder(n, &r)).collect();
    for c in &cs {
        s.started(&c.name);
    }
    let el = s.elements();
    check_timestamps(name, &el, before, now_secs());
    for c in &mut cs {
        c.end(0);
    }
}

/// UC19 (5/10 … 10/10): five clients on a timestamp with 4 slots, each with
/// its own command trace file (and daemon trace file): 5 distinct values.
/// The first four race to start the daemon.
fn five_clients_four_slots(test: &str, fraction: &str, tcp: bool) {
    let env = Env::new(test);
    let port = TcpPort::new();
    let s = if tcp {
        Scene::with_base(&env, &port.args())
    } else {
        Scene::new(&env)
    };
    let name = format!("_t_tmstmp%S{fraction}[4]");
    let traces: Vec<(String, String)> = (1..=5)
        .map(|i| {
            (
                env.path(&format!("ctrc{i}.txt")),
                env.path(&format!("d{i}.trc")),
            )
        })
        .collect();
    let args: Vec<Vec<&str>> = traces
        .iter()
        .map(|(c, d)| vec!["-T", c, "-t", d, "-i", "1000", "-r", &name])
        .collect();
    let before = now_secs();
    let names = ["C1", "C2", "C3", "C4", "C5"];
    let mut cs: Vec<Client> = (0..4).map(|i| s.holder(names[i], &args[i])).collect();
    for c in &cs {
        s.started(&c.name);
    }
    let mut fifth = if tcp {
        let c = s.holder("C5", &args[4]);
        port.wait_conns(5);
        c
    } else {
        s.waiting("C5", &args[4], true, 1)
    };
    assert!(!s.has_started("C5"), "a fifth holder with 4 slots");
    cs[0].end(0);
    s.started("C5");
    for c in cs.iter_mut().skip(1) {
        c.end(0);
    }
    fifth.end(0);
    let el = s.elements();
    assert_eq!(el.len(), 5);
    check_timestamps(&name, &el, before, now_secs());
    for (c, _) in &traces {
        assert!(exists(c), "no command trace file {c}");
    }
    if tcp {
        assert!(port.listening());
    } else {
        assert_eq!(daemon_pids(&env.sock).len(), 1, "one daemon");
    }
}

#[test]
fn uc19_5_tenths_five_clients_four_slots_local() {
    five_clients_four_slots("uc19e", "#f", false);
}

#[test]
fn uc19_6_tenths_five_clients_four_slots_tcp() {
    five_clients_four_slots("uc19f", "#f", true);
}

#[test]
fn uc19_7_hundredths_five_clients_four_slots_local() {
    five_clients_four_slots("uc19g", "#ff", false);
}

#[test]
fn uc19_8_hundredths_five_clients_four_slots_tcp() {
    five_clients_four_slots("uc19h", "#ff", true);
}

#[test]
fn uc19_9_thousandths_five_clients_four_slots_local() {
    five_clients_four_slots("uc19i", "#fff", false);
}

#[test]
fn uc19_10_thousandths_five_clients_four_slots_tcp() {
    five_clients_four_slots("uc19j", "#fff", true);
}

#[test]
fn timestamp_no_wait_in_the_same_grain_is_busy() {
    let env = Env::new("tsbusy");
    env.start_daemon();
    // One-hour grain, two slots: the second request of the same hour can
    // only wait, so -o 0 is refused (unless the hour just changed).
    let name = "_t_h%H[2]";
    let before = now_secs();
    let first = env.flom(&["-r", name, "--", "echo"]);
    first.expect_code(0);
    let out = env.flom(&["-r", name, "-o", "0", "--", "echo"]);
    let after = now_secs();
    assert_eq!(first.stdout, format!("{}\n", strftime_local("h%H", before)));
    if strftime_local("%H", before) == strftime_local("%H", after) {
        out.expect_code(98).expect_stdout("").expect_stderr(BUSY);
    } else {
        eprintln!("the hour changed between the two requests: second run not checked");
    }
}

#[test]
fn timestamp_value_format_and_fraction_digits() {
    let env = Env::new("tsfmt");
    env.start_daemon();
    for (name, digits) in [
        ("_t_tm%S#fff[1]", 3),
        ("_t_tmstmp%S#f[1]", 1),
        ("_t_x%S#ffffff[1]", 6),
        ("_t_a.b:c%S#ff[2]", 2),
    ] {
        let before = now_secs();
        let out = env.flom(&["-r", name, "--", "echo"]);
        out.expect_code(0).expect_stderr("");
        let e = out.stdout.trim_end();
        assert!(ts_matches(name, e, before, now_secs()), "{name}: {e:?}");
        let frac = e.rsplit('.').next().unwrap();
        assert_eq!(frac.len(), digits, "{name}: {e:?}");
    }
}

// ========================================= forced mode, element, verbose

/// `-V` output: the dump, `Locked element is 'E'` (when there is an
/// element), then the command's own lines.
#[test]
fn verbose_prints_the_locked_element_before_the_command_runs() {
    let env = Env::new("verbose");
    env.start_daemon();
    let before = now_secs();
    for (name, elem) in [
        ("red.green.blue", Some("red")),
        ("_s_v[1]", Some("1")),
        ("_S_v[1]", Some("1")),
        ("_t_v%S#fff[1]", None),
        ("v[2]", None),
        ("/v/w", None),
        ("v", None),
    ] {
        let out = env.flom(&["-r", name, "-V", "--", "printf", "[%s]\n", "arg"]);
        out.expect_code(0).expect_plain_stderr("");
        let lines: Vec<&str> = out.stdout.lines().collect();
        let n = lines.len();
        let locked: Vec<&&str> = lines
            .iter()
            .filter(|l| l.starts_with("Locked element is"))
            .collect();
        if name.starts_with("_t_") {
            assert_eq!(locked.len(), 1, "{}", out.describe());
            let e = lines[n - 1]
                .strip_prefix('[')
                .and_then(|l| l.strip_suffix(']'))
                .unwrap();
            assert!(ts_matches(name, e, before, now_secs()), "{e:?}");
            let want = [
                format!("Locked element is '{e}'"),
                "[arg]".into(),
                format!("[{e}]"),
            ];
            assert_eq!(&lines[n - 3..], &want[..], "{}", out.describe());
        } else if let Some(e) = elem {
            assert_eq!(locked.len(), 1, "{}", out.describe());
            let want = [
                format!("Locked element is '{e}'"),
                "[arg]".into(),
                format!("[{e}]"),
            ];
            assert_eq!(&lines[n - 3..], &want[..], "{}", out.describe());
        } else {
            assert!(locked.is_empty(), "{}", out.describe());
            assert_eq!(lines[n - 1], "[arg]", "{}", out.describe());
            assert!(
                lines[..n - 1].iter().all(|l| l.starts_with('[')),
                "{}",
                out.describe()
            );
        }
        // The dump names the resource.
        assert!(
            lines.contains(&format!("[Resource]/Name='{name}'").as_str()),
            "{}",
            out.describe()
        );
    }
}

#[test]
fn element_is_the_last_argument_of_the_command() {
    let env = Env::new("lastarg");
    env.start_daemon();
    for (name, elem) in [("red.green.blue", "red"), ("_s_l[1]", "1")] {
        env.flom(&["-r", name, "--", "printf", "<%s>", "a b", "", "c"])
            .expect_code(0)
            .expect_stdout(&format!("<a b><><c><{elem}>"));
    }
    // No element, nothing appended.
    env.flom(&["-r", "l[1]", "--", "printf", "<%s>", "a b", "c"])
        .expect_code(0)
        .expect_stdout("<a b><c>");
}

/// The lines of `stderr` that are flom warnings.
fn warnings(out: &Out) -> Vec<String> {
    out.stderr_without_notes()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn lock_mode_and_quantity_forced_for_types_that_ignore_them() {
    // cli.md §2: EX forced for non simple/hierarchical types, quantity 1 for
    // non-numeric types; a warning on stderr in verbose mode only.
    let env = Env::new("forced");
    env.start_daemon();
    // (name, mode warning expected, quantity warning expected)
    for (name, mode_w, qty_w) in [
        ("red.green.blue", true, true),
        ("_s_f[1]", true, true),
        ("_S_f[1]", true, true),
        ("_t_f%S#fff[1]", true, true),
        ("f[3]", true, false),
        ("/f/g", false, true),
        ("f", false, true),
    ] {
        let quiet = env.flom(&["-r", name, "-l", "PR", "-q", "3", "--", "true"]);
        quiet.expect_code(0).expect_stdout("").expect_stderr("");
        let out = env.flom(&["-r", name, "-l", "PR", "-q", "3", "-V", "--", "true"]);
        out.expect_code(0);
        let w = warnings(&out);
        let expected = usize::from(mode_w) + usize::from(qty_w);
        assert_eq!(w.len(), expected, "{name}: {}", out.describe());
        for l in &w {
            assert!(
                l.to_lowercase().contains("warning"),
                "{name}: not a warning: {l:?}"
            );
        }
        if mode_w {
            assert!(
                w.iter().any(|l| l.contains("PR") || l.contains("(3)")),
                "{name}: no lock mode warning: {}",
                out.describe()
            );
        }
        if qty_w {
            assert!(
                w.iter().any(|l| l.contains('3') && l.contains("quantity")),
                "{name}: no quantity warning: {}",
                out.describe()
            );
        }
    }
    // The numeric resource really is locked 3 units (not forced to 1).
    let s = Scene::new(&env);
    let (mut a, _) = s.granted("A", &["-r", "n[3]", "-q", "3", "-l", "PR"]);
    env.flom(&["-r", "n[3]", "-o", "0", "--", "true"])
        .expect_code(98);
    a.end(0);
    // A set requested with -l NL is still one exclusive element per holder:
    // two holders of x.y get x and y, a third is refused.
    let (mut b, e1) = s.granted("B", &["-r", "x.y", "-l", "NL"]);
    let (mut c, e2) = s.granted("C", &["-r", "x.y", "-l", "NL"]);
    assert_eq!((e1.as_str(), e2.as_str()), ("x", "y"));
    env.flom(&["-r", "x.y", "-l", "NL", "-o", "0", "--", "true"])
        .expect_code(98);
    b.end(0);
    c.end(0);
}

// ============================================== long-term resources

#[test]
fn uc16_1_create_no_requester_waits_for_the_holder_over_tcp() {
    let env = Env::new("uc16a");
    let port = TcpPort::new();
    let s = Scene::with_base(&env, &port.args());
    // The first client starts the TCP daemon on the loopback address.
    let (mut a, _) = s.granted("A", &["-e", "y"]);
    let mut b = s.holder("B", &["-e", "n"]);
    port.wait_conns(2);
    let mut c = s.quick("C", &["-e", "y"]);
    port.wait_conns(3);
    assert!(!s.has_started("B"));
    a.end(0);
    s.started("B");
    b.end(0).expect_stderr("");
    c.end(0).expect_stderr("");
    assert_eq!(
        s.lines(),
        ["A start", "A end", "B start", "B end", "C start", "C end"]
    );
}

#[test]
fn uc16_2_creating_request_is_served_before_the_parked_one() {
    let env = Env::new("uc16b");
    env.start_daemon();
    let s = Scene::new(&env);
    let mut p = s.waiting("P", &["-e", "n", "-r", "ABC[1]"], true, 2);
    let (mut k, _) = s.granted("K", &["-e", "y", "-r", "ABC[1]"]);
    let mut q = s.waiting("Q", &["-e", "y", "-r", "ABC[1]"], false, 1);
    assert!(!s.has_started("P"), "the parked request ran next to K");
    k.end(0);
    s.started("P");
    assert!(!s.has_started("Q"));
    p.end(0).expect_stderr("");
    q.end(0).expect_stderr("");
    assert_eq!(
        s.lines(),
        ["K start", "K end", "P start", "P end", "Q start", "Q end"]
    );
}

#[test]
fn uc16_3_no_wait_on_a_missing_set_exits_96() {
    let env = Env::new("uc16c");
    env.start_daemon();
    let s = Scene::new(&env);
    let out = s.run("X", &["-e", "n", "-o", "0", "-r", "B.C.D"]);
    out.expect_code(96)
        .expect_stdout("")
        .expect_stderr(CANT_WAIT);
    assert!(s.lines().is_empty());
}

#[test]
fn uc16_4_parked_hierarchical_request_times_out_with_98() {
    let env = Env::new("uc16d");
    env.start_daemon();
    let s = Scene::new(&env);
    let out = s.run("X", &["-e", "n", "-o", "100", "-r", "/CDE"]);
    out.expect_code(98)
        .expect_stdout("")
        .expect_stderr(&timeout_msg(100));
    assert!(
        out.elapsed >= Duration::from_millis(95),
        "{:?}",
        out.elapsed
    );
    assert!(s.lines().is_empty());
}

/// UC16 (5/8 … 8/8): three `-e n` clients park, a `-e y -i 2000` one
/// creates the resource; `check` follows the grants; then, after the last
/// client and 1 s of idle time, `-e n -o 0` follow-ups still find it.
fn parked_then_created(
    test: &str,
    parked: [&[&str]; 3],
    creator: &[&str],
    follow_ups: [&[&str]; 3],
    check: impl FnOnce(&Scene, &mut [Client; 4]),
) -> Vec<String> {
    let env = Env::new(test);
    env.start_daemon();
    let s = Scene::new(&env);
    let mut ps = Vec::new();
    for (i, a) in parked.iter().enumerate() {
        ps.push(s.waiting(&format!("P{}", i + 1), &cat(a, &["-e", "n"]), true, 2));
    }
    assert!(s.lines().is_empty(), "a parked client ran");
    let k = s.holder("K", &cat(creator, &["-e", "y", "-i", "2000"]));
    s.started("K");
    let mut all: [Client; 4] = {
        let mut it = ps.into_iter();
        [
            it.next().unwrap(),
            it.next().unwrap(),
            it.next().unwrap(),
            k,
        ]
    };
    check(&s, &mut all);
    for c in all.iter_mut().filter(|c| !c.ended()) {
        c.end(0).expect_stderr("");
    }
    pause(1000);
    for (i, a) in follow_ups.iter().enumerate() {
        s.run(&format!("F{}", i + 5), &cat(a, &["-e", "n", "-o", "0"]))
            .expect_code(0)
            .expect_stderr("");
    }
    s.lines()
}

#[test]
fn uc16_5_parked_simple_requests_adopted_by_the_creator() {
    let l = parked_then_created(
        "uc16e",
        [
            &["-r", "RES", "-l", "CR"],
            &["-r", "RES", "-l", "CW"],
            &["-r", "RES", "-l", "PR"],
        ],
        &["-r", "RES", "-l", "PW"],
        [
            &["-r", "RES", "-l", "EX"],
            &["-r", "RES", "-l", "CR"],
            &["-r", "RES", "-l", "CW"],
        ],
        |s, c| {
            // PW (the creator) then CR next to it; CW and PR wait.
            s.started("P1");
            assert!(!s.has_started("P2") && !s.has_started("P3"));
            c[3].end(0);
            // CW next to CR; PR (vs CW) still waits.
            s.started("P2");
            c[0].end(0);
            assert!(!s.has_started("P3"));
            c[1].end(0);
            s.started("P3");
        },
    );
    let mut first = l[..2].to_vec();
    first.sort();
    assert_eq!(first, ["K start", "P1 start"]);
    assert_eq!(
        l[2..],
        [
            "K end", "P2 start", "P1 end", "P2 end", "P3 start", "P3 end", "F5 start", "F5 end",
            "F6 start", "F6 end", "F7 start", "F7 end"
        ]
    );
}

#[test]
fn uc16_6_parked_numeric_requests_adopted_by_the_creator() {
    let r: &[&str] = &["-r", "N[2]"];
    let l = parked_then_created("uc16f", [r, r, r], r, [r, r, r], |s, c| {
        s.started("P1");
        assert!(!s.has_started("P2") && !s.has_started("P3"));
        c[3].end(0);
        s.started("P2");
        assert!(!s.has_started("P3"));
        c[0].end(0);
        s.started("P3");
    });
    let mut first = l[..2].to_vec();
    first.sort();
    assert_eq!(first, ["K start", "P1 start"]);
    assert_eq!(
        l[2..8],
        ["K end", "P2 start", "P1 end", "P3 start", "P2 end", "P3 end"]
    );
    assert_eq!(l.len(), 14);
}

#[test]
fn uc16_7_parked_set_requests_adopted_by_the_creator() {
    let r: &[&str] = &["-r", "B.C.D"];
    let l = parked_then_created("uc16g", [r, r, r], r, [r, r, r], |s, c| {
        // The creator gets B, the parked ones C and D, the third waits.
        assert_eq!(s.started("P1"), "C");
        assert_eq!(s.started("P2"), "D");
        assert!(!s.has_started("P3"));
        assert_eq!(s.element_of("K").unwrap(), "B");
        c[3].end(0);
        assert_eq!(s.started("P3"), "B");
    });
    // The follow-ups continue the cursor: C, D, B.
    let f: Vec<&String> = l.iter().filter(|x| x.starts_with('F')).collect();
    assert_eq!(
        f,
        [
            "F5 start C",
            "F5 end",
            "F6 start D",
            "F6 end",
            "F7 start B",
            "F7 end"
        ]
    );
}

#[test]
fn uc16_8_parked_hierarchical_requests_adopted_by_the_creator() {
    let l = parked_then_created(
        "uc16h",
        [
            &["-r", "/res", "-l", "CR"],
            &["-r", "/res/res", "-l", "CW"],
            &["-r", "/res/foo", "-l", "PR"],
        ],
        &["-r", "/res/bar", "-l", "PW"],
        [
            &["-r", "/res/res", "-l", "EX"],
            &["-r", "/res/bar", "-l", "CR"],
            &["-r", "/res/foo", "-l", "CW"],
        ],
        |s, _| {
            // All compatible: everybody holds at once.
            for p in ["P1", "P2", "P3"] {
                s.started(p);
            }
        },
    );
    let mut first = l[..4].to_vec();
    first.sort();
    assert_eq!(first, ["K start", "P1 start", "P2 start", "P3 start"]);
}

#[test]
fn uc17_1_create_and_idle_lifespan_apply_to_the_root_only() {
    let env = Env::new("uc17a");
    env.start_daemon();
    env.flom(&["-e", "y", "-r", "/foo", "-i", "2000", "--", "true"])
        .expect_code(0);
    env.flom(&["-e", "n", "-r", "/bar", "-o", "100", "--", "true"])
        .expect_code(98)
        .expect_stderr(&timeout_msg(100));
    env.flom(&["-e", "n", "-r", "/foo", "-o", "500", "--", "true"])
        .expect_code(0)
        .expect_stderr("");
}

#[test]
fn uc17_2_descendants_of_a_created_root_exist() {
    let env = Env::new("uc17b");
    env.start_daemon();
    env.flom(&["-e", "y", "-r", "/bar", "-i", "2000", "--", "true"])
        .expect_code(0);
    env.flom(&["-e", "n", "-r", "/bar/foo", "-o", "500", "--", "true"])
        .expect_code(0)
        .expect_stderr("");
    pause(1000);
    env.flom(&["-e", "n", "-r", "/bar/foo/goofy", "-o", "500", "--", "true"])
        .expect_code(0)
        .expect_stderr("");
}

#[test]
fn idle_lifespan_of_the_creating_request_for_every_type() {
    // resources.md §8: an unused locker lives its creator's idle lifespan
    // (+ 1 s); with the default 0, about 2 s. 2.6 s after the last use the
    // -i 3000 resources are still there (the sequence goes on), the others
    // are gone (the sequence restarts at 1).
    let env = Env::new("idleall");
    env.start_daemon();
    // (created as, checked as)
    let kept = [
        ("k", "k"),
        ("n[2]", "n[2]"),
        ("x.y", "x.y"),
        ("/keep/a", "/keep/b"),
        ("_S_q[1]", "_S_q[1]"),
        ("_t_q%S#f[1]", "_t_q%S#f[1]"),
    ];
    let gone = [
        ("k0", "k0"),
        ("n0[2]", "n0[2]"),
        ("x0.y", "x0.y"),
        ("/gone/a", "/gone/b"),
        ("_S_q0[1]", "_S_q0[1]"),
        ("_t_q0%S#f[1]", "_t_q0%S#f[1]"),
    ];
    for (name, _) in kept {
        env.flom(&["-r", name, "-i", "3000", "--", "true"])
            .expect_code(0);
    }
    env.flom(&["-r", "_s_keep[1]", "-i", "3000", "--", "echo"])
        .expect_code(0)
        .expect_stdout("1\n");
    for (name, _) in gone {
        env.flom(&["-r", name, "--", "true"]).expect_code(0);
    }
    env.flom(&["-r", "_s_gone[1]", "--", "echo"])
        .expect_code(0)
        .expect_stdout("1\n");
    let used = Instant::now();
    pause(2600u64.saturating_sub(used.elapsed().as_millis() as u64));
    for (_, name) in kept {
        env.flom(&["-e", "n", "-r", name, "-o", "0", "--", "true"])
            .expect_code(0)
            .expect_stderr("");
    }
    env.flom(&["-r", "_s_keep[1]", "--", "echo"])
        .expect_code(0)
        .expect_stdout("2\n");
    for (_, name) in gone {
        env.flom(&["-e", "n", "-r", name, "-o", "0", "--", "true"])
            .expect_code(96)
            .expect_stderr(CANT_WAIT);
    }
    env.flom(&["-r", "_s_gone[1]", "--", "echo"])
        .expect_code(0)
        .expect_stdout("1\n");
}

#[test]
fn create_no_without_wait_on_every_missing_type_exits_96() {
    let env = Env::new("cantwait");
    env.start_daemon();
    for name in [
        "m",
        "m[2]",
        "m.n",
        "/m/n",
        "_s_m[1]",
        "_S_m[1]",
        "_t_m%S[1]",
    ] {
        env.flom(&["-e", "n", "-o", "0", "-r", name, "--", "echo", "ran"])
            .expect_code(96)
            .expect_stdout("")
            .expect_stderr(CANT_WAIT);
    }
}

#[test]
fn parked_request_of_every_type_is_adopted_by_the_creator() {
    // A raw parked request (create=0, wait=1) of each type: step 16 rc=2,
    // then, once a flom client created the resource, either queued (step
    // 24 rc=1) and granted when the creator ends, or granted at once with
    // the next element.
    let env = Env::new("adopt");
    env.start_daemon();
    let s = Scene::new(&env);
    // (parked name, creator name, queued behind the creator, element)
    let cases: [(&str, &str, bool, Option<&str>); 7] = [
        ("k", "k", true, None),
        ("n[1]", "n[1]", true, None),
        ("x.y", "x.y", false, Some("y")),
        ("/h/y", "/h", true, None),
        ("_s_q[1]", "_s_q[1]", true, Some("2")),
        ("_S_q[1]", "_S_q[1]", true, Some("2")),
        ("_t_t%S#fff[1]", "_t_t%S#fff[1]", true, None),
    ];
    for (i, (parked, creator, queued, elem)) in cases.iter().enumerate() {
        let mut raw = Raw::connect(&env.sock);
        raw.send_ok(&lock_req(parked, 5, true, false, 0));
        assert_eq!(raw.expect_msg(T), answer16(2), "{parked}");
        let before = now_secs();
        let (mut k, _) = s.granted(&format!("K{i}"), &["-r", creator]);
        let grant = if *queued {
            assert_eq!(raw.expect_msg(T), answer24(1), "{parked}");
            assert!(raw.nothing_pending());
            k.end(0);
            raw.expect_msg(T)
        } else {
            let g = raw.expect_msg(T);
            k.end(0);
            g
        };
        match (elem, parked.starts_with("_t_")) {
            (Some(e), _) => assert_eq!(grant, answer24_elem(e), "{parked}"),
            (None, true) => {
                let e = element_in(&grant).expect("a timestamp element");
                assert_eq!(grant, answer24_elem(&e));
                assert!(ts_matches(parked, &e, before, now_secs()), "{e:?}");
                assert_ne!(Some(e), s.element_of(&format!("K{i}")));
            }
            (None, false) => assert_eq!(grant, answer24(0), "{parked}"),
        }
        bye(raw, parked);
    }
}

// ============================================================= extras

#[test]
fn timestamp_matcher_of_these_tests_rejects_wrong_values() {
    let t = now_secs();
    let sec = strftime_local("%S", t);
    assert!(ts_matches("_t_a%S[1]", &format!("a{sec}"), t, t));
    assert!(!ts_matches("_t_a%S[1]", "a61", t, t));
    assert!(!ts_matches("_t_a%S[1]", &format!("b{sec}"), t, t));
    assert!(ts_matches("_t_x%S#fff[1]", &format!("x{sec}.123"), t, t));
    assert!(!ts_matches("_t_x%S#fff[1]", &format!("x{sec}.12"), t, t));
    assert!(!ts_matches("_t_x%S#fff[1]", &format!("x{sec}.1234"), t, t));
    assert!(!ts_matches("_t_x%S#fff[1]", &format!("x{sec}:123"), t, t));
}

#[test]
fn names_differing_in_capacity_kind_or_order_are_different_resources() {
    // resources.md §2: byte-exact routing for non-hierarchical names.
    let env = Env::new("routing");
    env.start_daemon();
    let s = Scene::new(&env);
    let held = [
        ("foo[2]", "foo[3]"),
        ("red.green", "green.red"),
        ("_s_a[1]", "_S_a[1]"),
        ("_s_b[1]", "_s_b[2]"),
        ("_t_a%S[1]", "_t_a%S[2]"),
    ];
    let mut cs = Vec::new();
    for (i, (a, _)) in held.iter().enumerate() {
        let args: &[&str] = if a.starts_with("foo") {
            &["-r", a, "-q", "2"]
        } else {
            &["-r", a]
        };
        cs.push(s.holder(&format!("H{i}"), args));
        s.started(&format!("H{i}"));
        if !a.starts_with("red") {
            env.assert_busy(a);
        }
    }
    for (_, b) in held {
        env.assert_free(b);
    }
    for c in &mut cs {
        c.end(0);
    }
}

#[test]
fn numeric_release_grants_every_waiter_that_fits_in_queue_order() {
    let env = Env::new("numscan");
    env.start_daemon();
    let lock = |q: u32| -> Raw {
        let mut r = Raw::connect(&env.sock);
        r.send_ok(
            &lock_req("s[3]", 5, true, true, 0)
                .replace("quantity=\"1\"", &format!("quantity=\"{q}\"")),
        );
        r
    };
    let mut all = lock(3);
    assert_eq!(all.expect_msg(T), answer16(0));
    let mut q1 = lock(1);
    assert_eq!(q1.expect_msg(T), answer16(1));
    let mut q2 = lock(2);
    assert_eq!(q2.expect_msg(T), answer16(1));
    let mut q1b = lock(1);
    assert_eq!(q1b.expect_msg(T), answer16(1));
    let mut q1c = lock(1);
    assert_eq!(q1c.expect_msg(T), answer16(1));
    bye(all, "s[3]");
    // 1 + 2 fill the 3 units; the last two keep waiting.
    assert_eq!(q1.expect_msg(T), answer24(0));
    assert_eq!(q2.expect_msg(T), answer24(0));
    assert!(q1b.nothing_pending() && q1c.nothing_pending());
    bye(q2, "s[3]");
    assert_eq!(q1b.expect_msg(T), answer24(0));
    assert_eq!(q1c.expect_msg(T), answer24(0));
    bye(q1, "s[3]");
    bye(q1b, "s[3]");
    bye(q1c, "s[3]");
    env.assert_free("s[3]");
}

#[test]
fn a_waiter_that_gives_up_takes_no_sequence_number_and_no_element() {
    let env = Env::new("giveup");
    env.start_daemon();
    let s = Scene::new(&env);
    for (name, first, next) in [
        ("_s_g[1]", "1", "2"),
        ("_S_g[1]", "1", "2"),
        ("one.two", "", ""),
    ] {
        let (mut a, e) = s.granted(&format!("A{name}"), &["-r", name]);
        if name.contains('.') {
            // Both elements taken: A has one, a raw holder the other.
            let mut other = Raw::connect(&env.sock);
            other.send_ok(&lock_req(name, 5, true, true, 0));
            let m = other.expect_msg(T);
            assert_eq!(element_in(&m).as_deref(), Some("two"), "{m}");
            assert_eq!(e, "one");
            env.flom(&["-r", name, "-o", "200", "--", "echo"])
                .expect_code(98)
                .expect_stderr(&timeout_msg(200));
            bye(other, name);
            a.end(0);
            // The cursor went one.two → back at one.
            env.flom(&["-r", name, "--", "echo"])
                .expect_code(0)
                .expect_stdout("one\n");
            continue;
        }
        assert_eq!(e, first);
        env.flom(&["-r", name, "-o", "200", "--", "echo"])
            .expect_code(98)
            .expect_stdout("")
            .expect_stderr(&timeout_msg(200));
        a.end(0);
        env.flom(&["-r", name, "--", "echo"])
            .expect_code(0)
            .expect_stdout(&format!("{next}\n"));
    }
}

#[test]
fn timestamp_waiter_that_gives_up_is_dropped() {
    let env = Env::new("tsgiveup");
    env.start_daemon();
    let s = Scene::new(&env);
    let name = "_t_g%S#fff[1]";
    let before = now_secs();
    let (mut a, _) = s.granted("A", &["-r", name]);
    s.run("B", &["-r", name, "-o", "200"])
        .expect_code(98)
        .expect_stderr(&timeout_msg(200));
    a.end(0);
    s.run("C", &["-r", name]).expect_code(0);
    let el = s.elements();
    assert_eq!(el.len(), 2, "{el:?}");
    check_timestamps(name, &el, before, now_secs());
}

#[test]
fn hierarchical_unlock_naming_another_root_drops_the_connection_and_releases() {
    // resources.md §7: the locker closes the connection (FLM009W); the close
    // releases the lock.
    let env = Env::new("hierwrong");
    env.start_daemon();
    let mut r = Raw::connect(&env.sock);
    r.send_ok(&lock_req("/w/x", 5, true, true, 0));
    assert_eq!(r.expect_msg(T), answer16(0));
    env.assert_busy("/w");
    r.send_ok(&unlock_msg("/z", false));
    r.expect_closed(T);
    env.assert_free("/w/x");
    env.assert_free("/w");
}

#[test]
fn transactional_sequence_recycles_oldest_rollback_first() {
    let env = Env::new("seqfifo");
    env.start_daemon();
    let s = Scene::new(&env);
    let r = ["-i", "5000", "-r", "_S_r[3]"];
    let mut a = s.holder_rc("A", &r, 1);
    assert_eq!(s.started("A"), "1");
    let (mut b, e) = s.granted("B", &r);
    assert_eq!(e, "2");
    let mut c = s.holder_rc("C", &r, 1);
    assert_eq!(s.started("C"), "3");
    // 3 rolled back first, then 1: they come back in that order, then 4.
    c.end(1);
    a.end(1);
    b.end(0);
    for want in ["3", "1", "4"] {
        env.flom(&["-i", "5000", "-r", "_S_r[3]", "--", "echo"])
            .expect_code(0)
            .expect_stdout(&format!("{want}\n"));
    }
}

#[test]
fn numeric_capacity_with_leading_zeros_is_decimal() {
    let env = Env::new("num007");
    env.start_daemon();
    env.flom(&["-r", "a[010]", "-q", "10", "-o", "0", "--", "true"])
        .expect_code(0);
    env.flom(&["-r", "a[010]", "-q", "11", "-o", "0", "--", "true"])
        .expect_code(99)
        .expect_stderr(IMPOSSIBLE);
}

#[test]
fn hierarchical_components_with_spaces_and_symbols() {
    let env = Env::new("hierodd");
    env.start_daemon();
    let s = Scene::new(&env);
    let (mut a, _) = s.granted("A", &["-r", "/a b/c d"]);
    env.assert_busy("/a b");
    env.assert_busy("/a b/c d/e");
    env.assert_free("/a b/c");
    env.assert_free("/a");
    let (mut b, _) = s.granted("B", &["-r", "/_x/%$"]);
    env.assert_busy("/_x");
    env.assert_free("/_x/%");
    a.end(0);
    b.end(0);
    env.assert_free("/a b");
    env.assert_free("/_x");
}

#[test]
fn timestamp_fraction_runs_longest_first() {
    let env = Env::new("tsruns");
    env.start_daemon();
    for name in ["_t_a#ff%S#f[1]", "_t_x%S#fffffff[1]", "_t_b#fff#fff%M[1]"] {
        let before = now_secs();
        let out = env.flom(&["-r", name, "--", "echo"]);
        out.expect_code(0).expect_stderr("");
        let e = out.stdout.trim_end();
        assert!(ts_matches(name, e, before, now_secs()), "{name}: {e:?}");
    }
}

/// The second `-o 0` request of the same time unit on a 2-slot timestamp
/// is refused; checked only when the unit did not change meanwhile.
fn same_unit_busy(env: &Env, name: &str, unit: &str) {
    let before = now_secs();
    env.flom(&["-r", name, "--", "true"]).expect_code(0);
    let out = env.flom(&["-r", name, "-o", "0", "--", "true"]);
    if strftime_local(unit, before) == strftime_local(unit, now_secs()) {
        out.expect_code(98).expect_stderr(BUSY);
    } else {
        eprintln!("{name}: the {unit} unit changed meanwhile, not checked");
    }
}

#[test]
fn timestamp_grain_of_minutes_and_hours() {
    let env = Env::new("tsgrain");
    env.start_daemon();
    same_unit_busy(&env, "_t_m%H%M[2]", "%H%M");
    same_unit_busy(&env, "_t_r%R[2]", "%H%M");
    same_unit_busy(&env, "_t_i%I[2]", "%H");
    same_unit_busy(&env, "_t_d%Y%m%d%H[2]", "%H");
    // A fraction makes the grain short again: no wait worth mentioning.
    env.flom(&["-r", "_t_f%H#ff[2]", "--", "true"])
        .expect_code(0);
    env.flom(&["-r", "_t_f%H#ff[2]", "--", "true"])
        .expect_code(0);
}
