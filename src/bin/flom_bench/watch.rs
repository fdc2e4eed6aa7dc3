//! The watchdog that keeps every scenario bounded in time: when nothing has
//! progressed for the I/O timeout while armed (a stalled daemon, a blocked
//! connect), or when the whole run exceeds its maximum time, it kills the
//! child process `cli` may be waiting for, removes the tool's temporary
//! files and exits.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static PROGRESS: AtomicU64 = AtomicU64::new(0);
static ARMED: AtomicBool = AtomicBool::new(false);
static CHILD: AtomicI32 = AtomicI32::new(0);
static TEMP_FILES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Something completed (a cycle, a grant, a connection).
#[inline]
pub fn tick() {
    PROGRESS.fetch_add(1, Ordering::Relaxed);
}

/// Arms or disarms the stall detection (disarmed while the tool sleeps on purpose).
pub fn arm(on: bool) {
    tick();
    ARMED.store(on, Ordering::SeqCst);
}

pub fn set_child(pid: u32) {
    CHILD.store(pid as i32, Ordering::SeqCst);
}

pub fn clear_child() {
    CHILD.store(0, Ordering::SeqCst);
}

pub fn add_temp_file(p: PathBuf) {
    TEMP_FILES.lock().unwrap_or_else(|e| e.into_inner()).push(p);
}

pub fn remove_temp_file(p: &std::path::Path) {
    let _ = std::fs::remove_file(p);
    TEMP_FILES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|q| q != p);
}

/// Removes the temporary files and exits with `code`.
pub fn die(code: i32, msg: &str) -> ! {
    let child = CHILD.load(Ordering::SeqCst);
    if child > 0 {
        // SAFETY: plain kill(2) of the child this tool spawned.
        unsafe {
            libc::kill(child, libc::SIGKILL);
        }
    }
    for p in TEMP_FILES.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        let _ = std::fs::remove_file(p);
    }
    eprintln!("flom-bench: {msg}");
    std::process::exit(code);
}

/// Starts the watchdog thread.
pub fn start(io_timeout: Duration, max_time: Duration) {
    let start = Instant::now();
    std::thread::Builder::new()
        .name("watchdog".into())
        .spawn(move || {
            let mut last = PROGRESS.load(Ordering::Relaxed);
            let mut since = Instant::now();
            loop {
                std::thread::sleep(Duration::from_millis(50));
                let now = Instant::now();
                let p = PROGRESS.load(Ordering::Relaxed);
                if p != last || !ARMED.load(Ordering::SeqCst) {
                    last = p;
                    since = now;
                } else if now - since > io_timeout {
                    die(
                        3,
                        &format!(
                            "no progress for {} ms: the daemon stalled or stopped answering",
                            io_timeout.as_millis()
                        ),
                    );
                }
                if now - start > max_time {
                    die(
                        3,
                        &format!("run exceeded --max-time ({} s)", max_time.as_secs_f64()),
                    );
                }
            }
        })
        .expect("spawn watchdog");
}
