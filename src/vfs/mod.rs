//! The VFS (`-m DIR`): a read-only FUSE file system showing the status table
//! (`status.rs`), served with fuse-backend-rs over /dev/fuse by a thread of
//! its own. The daemon loop only updates the table; this thread only reads
//! it, for as short a time as a copy takes, and never blocks the loop.
//!
//! It mounts as `flom on DIR type fuse.flom` (no `allow_other`: only the
//! daemon's user sees it), owned by the daemon's uid/gid, directories 0550,
//! files 0440, attributes and entries cached 1 s. Writes of any kind are
//! refused with EACCES, extended attributes with ENOTSUP.

mod fs;

pub use fs::ino_of;
use fs::StatusFs;

use crate::status::Status;
use fuse_backend_rs::api::server::Server;
use fuse_backend_rs::transport::{FuseChannel, FuseSession};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

/// A mounted VFS and the thread serving it. `unmount` (or drop) unmounts
/// and joins the thread.
pub struct Vfs {
    session: Option<FuseSession>,
    thread: Option<JoinHandle<()>>,
    mount_point: PathBuf,
}

/// The absolute form of `dir` without resolving its last component (which
/// may be a dead mount that cannot be stat'ed).
fn absolute(dir: &Path) -> io::Result<PathBuf> {
    let dir = if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        std::env::current_dir()?.join(dir)
    };
    match (dir.parent(), dir.file_name()) {
        (Some(parent), Some(name)) => Ok(parent.canonicalize()?.join(name)),
        _ => Ok(dir),
    }
}

/// `dir` made absolute against the current directory (not resolved: the
/// mount code does that), so a daemon that changes directory still finds it.
pub fn absolute_path(dir: &str) -> String {
    let p = Path::new(dir);
    if p.is_absolute() {
        return dir.to_string();
    }
    match std::env::current_dir() {
        Ok(cwd) => cwd.join(p).to_string_lossy().into_owned(),
        Err(_) => dir.to_string(),
    }
}

/// Sends a warning to syslog (the daemon has no terminal).
pub fn log_warning(msg: &str) {
    crate::syslog::warning(msg);
}

/// Decodes the octal escapes (`\040` …) of a /proc/self/mountinfo field.
fn unescape_mountinfo(field: &str) -> Vec<u8> {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') as u32 * 64
                + (b[i + 2] - b'0') as u32 * 8
                + (b[i + 3] - b'0') as u32;
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// The file system types mounted at `dir`, as /proc/self/mountinfo lists
/// them (bottom first).
pub fn mounts_at(dir: &Path) -> Vec<String> {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    let want = dir.as_os_str().as_bytes();
    let mut found = Vec::new();
    for line in info.lines() {
        // id parent major:minor root mountpoint options [optional…] - fstype source super
        let fields: Vec<&str> = line.split(' ').collect();
        if fields.len() < 5 || unescape_mountinfo(fields[4]) != want {
            continue;
        }
        if let Some(dash) = fields.iter().position(|f| *f == "-") {
            if let Some(fstype) = fields.get(dash + 1) {
                found.push(fstype.to_string());
            }
        }
    }
    found
}

/// Clears FUSE mounts left at `dir` by a daemon that was killed: they
/// answer every access with ENOTCONN.
fn clear_stale_mounts(dir: &Path) {
    for _ in 0..16 {
        let stale = matches!(
            std::fs::metadata(dir),
            Err(e) if e.raw_os_error() == Some(libc::ENOTCONN)
        );
        let on_top_is_fuse = mounts_at(dir)
            .last()
            .is_some_and(|t| t == "fuse" || t.starts_with("fuse."));
        if !(stale && on_top_is_fuse) {
            return;
        }
        let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
            return;
        };
        // SAFETY: umount2 with a valid C string.
        if unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) } != 0 {
            // Not allowed to unmount (not root): let fusermount3 try.
            let ok = std::process::Command::new("fusermount3")
                .args(["-u", "-z", "-q", "--"])
                .arg(dir)
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                return;
            }
        }
    }
}

impl Vfs {
    /// Mounts the VFS of `status` at `dir` and starts serving it. Errors
    /// say what failed: the directory is missing or not one, /dev/fuse
    /// cannot be used, or the mount was refused.
    pub fn mount(dir: &str, status: Status) -> io::Result<Vfs> {
        let fail = |what: String| io::Error::other(what);
        let path =
            absolute(Path::new(dir)).map_err(|e| fail(format!("VFS mount point {dir}: {e}")))?;
        clear_stale_mounts(&path);
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(fail(format!("VFS mount point {dir} is not a directory"))),
            Err(e) => return Err(fail(format!("VFS mount point {dir}: {e}"))),
        }
        let mut session = FuseSession::new(&path, "flom", "flom", false)
            .map_err(|e| fail(format!("cannot mount the VFS on {dir}: {e}")))?;
        session.set_allow_other(false);
        session
            .mount()
            .map_err(|e| fail(format!("cannot mount the VFS on {dir}: {e}")))?;
        let channel = match session.new_channel() {
            Ok(c) => c,
            Err(e) => {
                let _ = session.umount();
                return Err(fail(format!("cannot serve the VFS on {dir}: {e}")));
            }
        };
        // SAFETY: getuid/getgid cannot fail.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        let fs = StatusFs::new(status, uid, gid);
        let server = Arc::new(Server::new(fs));
        let thread = std::thread::Builder::new()
            .name("flom-vfs".into())
            .spawn(move || serve(server, channel));
        match thread {
            Ok(t) => Ok(Vfs {
                session: Some(session),
                thread: Some(t),
                mount_point: path,
            }),
            Err(e) => {
                let _ = session.umount();
                Err(fail(format!("cannot start the VFS thread: {e}")))
            }
        }
    }

    pub fn mount_point(&self) -> &Path {
        &self.mount_point
    }

    /// Unmounts (lazily: a reader still inside sees the end of the
    /// connection) and joins the serving thread. Idempotent.
    pub fn unmount(&mut self) {
        if let Some(mut session) = self.session.take() {
            let _ = session.umount();
            let _ = session.wake();
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }
}

impl Drop for Vfs {
    fn drop(&mut self) {
        self.unmount();
    }
}

/// The serving loop of the VFS thread: one request at a time until the
/// connection ends or the session wakes it to stop.
fn serve(server: Arc<Server<StatusFs>>, mut channel: FuseChannel) {
    loop {
        match channel.get_request() {
            Ok(Some((reader, writer))) => {
                // Replying failed because the connection is gone: stop.
                if let Err(fuse_backend_rs::Error::EncodeMessage(e)) =
                    server.handle_message(reader, writer.into(), None, None)
                {
                    if matches!(e.raw_os_error(), Some(libc::EBADF) | Some(libc::ENODEV)) {
                        return;
                    }
                }
            }
            Ok(None) | Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape_mountinfo("/tmp/a\\040b"), b"/tmp/a b");
        assert_eq!(unescape_mountinfo("/x\\134y"), b"/x\\y");
        assert_eq!(unescape_mountinfo("/plain"), b"/plain");
        assert_eq!(unescape_mountinfo("/end\\04"), b"/end\\04");
    }

    #[test]
    fn mount_point_must_be_a_directory() {
        let e = Vfs::mount("/nonexistent/flom-vfs-test", Status::new())
            .err()
            .expect("missing dir");
        assert!(e.to_string().contains("/nonexistent/flom-vfs-test"), "{e}");
        let file = std::env::temp_dir().join(format!("flom-vfs-unit-{}", std::process::id()));
        std::fs::write(&file, "x").unwrap();
        let e = Vfs::mount(file.to_str().unwrap(), Status::new())
            .err()
            .expect("not a dir");
        let _ = std::fs::remove_file(&file);
        assert!(e.to_string().contains("not a directory"), "{e}");
    }
}
