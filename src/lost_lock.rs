//! The client's watch over a lock kept in etcd while its command runs: a
//! daemon that lost its etcd lease closes its holders' connections, so a
//! hang-up of the connection means the lock is gone. Then the client says
//! so at once, sends the command SIGTERM (SIGKILL after a grace period),
//! and `flom` exits 99. A thread of the client (not of the daemon) polls the
//! connection for the peer's hang-up only, so no byte is read from it.

use std::os::unix::io::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How long the command has between SIGTERM and SIGKILL.
pub const GRACE: Duration = Duration::from_secs(3);
const POLL_MS: i32 = 100;

pub struct LostLockWatch {
    stop: Arc<AtomicBool>,
    /// Written by `finish` to end the thread's poll at once.
    wake: RawFd,
    lost: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl LostLockWatch {
    /// Watches `fd` (the connection holding the lock on `resource`).
    pub fn start(fd: RawFd, resource: &str) -> LostLockWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let lost = Arc::new(AtomicBool::new(false));
        // SAFETY: creating an eventfd; a failure (-1) only makes the poll time out.
        let wake = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        let (s, l, name) = (stop.clone(), lost.clone(), resource.to_string());
        let thread = thread::Builder::new()
            .name("flom-lock-watch".into())
            .spawn(move || watch(fd, wake, &name, &s, &l))
            .ok();
        LostLockWatch {
            stop,
            wake,
            lost,
            thread,
        }
    }

    /// Ends the watch; true when the lock was lost meanwhile.
    pub fn finish(mut self) -> bool {
        self.stop.store(true, Ordering::SeqCst);
        let one: u64 = 1;
        // SAFETY: an 8-byte write to our eventfd.
        unsafe { libc::write(self.wake, (&one as *const u64).cast(), 8) };
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // SAFETY: closing our eventfd once the thread is gone.
        unsafe { libc::close(self.wake) };
        self.lost.load(Ordering::SeqCst)
    }
}

fn watch(fd: RawFd, wake: RawFd, resource: &str, stop: &AtomicBool, lost: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        let mut p = [
            libc::pollfd {
                fd,
                events: libc::POLLRDHUP,
                revents: 0,
            },
            libc::pollfd {
                fd: wake,
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: polling descriptors kept open until this thread is joined.
        let n = unsafe { libc::poll(p.as_mut_ptr(), 2, POLL_MS) };
        let hung_up = p[0].revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR) != 0;
        if n <= 0 || !hung_up {
            continue;
        }
        if stop.load(Ordering::SeqCst) {
            return;
        }
        lost.store(true, Ordering::SeqCst);
        eprintln!(
            "flom: the lock on '{resource}' was lost (its daemon closed the connection: etcd lease lost?); stopping the command"
        );
        let pid = crate::exec::running_child();
        if pid <= 0 {
            return;
        }
        // SAFETY: signalling our own child.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let end = Instant::now() + GRACE;
        while Instant::now() < end {
            if crate::exec::running_child() != pid {
                return;
            }
            thread::sleep(Duration::from_millis(50));
        }
        if crate::exec::running_child() == pid {
            // SAFETY: as above.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        return;
    }
}
