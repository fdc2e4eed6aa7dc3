//! The VFS (`-m DIR`): a read-only FUSE file system showing the status table
//! (`status.rs`), served with fuse-backend-rs over /dev/fuse by a thread of
//! its own. The daemon loop only updates the table; this thread only reads
//! it, for as short a time as a copy takes, and never blocks the loop.
//!
//! It mounts as `flom on DIR type fuse.flom` (no `allow_other`: only the
//! daemon's user sees it), owned by the daemon's uid/gid, directories 0550,
//! files 0440, attributes and entries cached 1 s. Writes of any kind are
//! refused with EACCES, extended attributes with ENOTSUP.

use crate::status::{Node, Status};
use fuse_backend_rs::abi::fuse_abi::{stat64, CreateIn, OpenOptions, SetattrValid};
use fuse_backend_rs::api::filesystem::{
    Context, DirEntry, Entry, FileSystem, GetxattrReply, ListxattrReply, ZeroCopyReader,
    ZeroCopyWriter,
};
use fuse_backend_rs::api::server::Server;
use fuse_backend_rs::transport::{FuseChannel, FuseSession};
use std::collections::HashMap;
use std::ffi::CStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Kernel attribute and entry cache timeout.
const TTL: Duration = Duration::from_secs(1);
const ROOT_INO: u64 = 1;

fn errno(code: i32) -> io::Error {
    io::Error::from_raw_os_error(code)
}

/// The inode number of a path: a hash of it (FNV-1a over its fields), so
/// it is the same whenever the path exists. 1 is the root; numbers below 16
/// are never produced otherwise.
pub fn ino_of(node: &Node) -> u64 {
    use crate::status::{ConnFile, IncubatorFile, LockerFile};
    if *node == Node::Root {
        return ROOT_INO;
    }
    let (tag, a, b, c, d): (u64, u64, u64, u64, u64) = match *node {
        Node::Root => (0, 0, 0, 0, 0),
        Node::Status => (1, 0, 0, 0, 0),
        Node::Incubator => (2, 0, 0, 0, 0),
        Node::Lockers => (3, 0, 0, 0, 0),
        Node::Incubated(u) => (4, u, 0, 0, 0),
        Node::IncubatedFile(u, f) => (
            5,
            u,
            match f {
                IncubatorFile::PeerName => 0,
                IncubatorFile::ResourceName => 1,
                IncubatorFile::ResourceType => 2,
            },
            0,
            0,
        ),
        Node::Locker(u) => (6, u, 0, 0, 0),
        Node::LockerFile(u, f) => (
            7,
            u,
            match f {
                LockerFile::ResourceName => 0,
                LockerFile::ResourceType => 1,
            },
            0,
            0,
        ),
        Node::List(u, l) => (8, u, l as u64, 0, 0),
        Node::Conn(u, l, c) => (9, u, l as u64, c, 0),
        Node::ConnFile(u, l, c, f) => (
            10,
            u,
            l as u64,
            c,
            match f {
                ConnFile::PeerName => 0,
                ConnFile::LockMode => 1,
                ConnFile::Quantity => 2,
                ConnFile::SequenceValue => 3,
                ConnFile::TimestampValue => 4,
            },
        ),
    };
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for word in [tag, a, b, c, d] {
        for byte in word.to_le_bytes() {
            h ^= u64::from(byte);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    let h = h & (i64::MAX as u64);
    if h < 16 {
        h + 16
    } else {
        h
    }
}

/// The kernel's node ids: the inode numbers of the paths it has looked up,
/// with their lookup counts (an entry goes when the kernel forgets it).
#[derive(Default)]
struct Nodes {
    by_ino: HashMap<u64, (Node, u64)>,
    by_node: HashMap<Node, u64>,
}

impl Nodes {
    fn get(&self, ino: u64) -> Option<Node> {
        if ino == ROOT_INO {
            return Some(Node::Root);
        }
        self.by_ino.get(&ino).map(|(n, _)| *n)
    }

    /// Counts one more lookup of `node`; returns its node id.
    fn remember(&mut self, node: Node) -> u64 {
        if node == Node::Root {
            return ROOT_INO;
        }
        if let Some(&ino) = self.by_node.get(&node) {
            if let Some(e) = self.by_ino.get_mut(&ino) {
                e.1 += 1;
            }
            return ino;
        }
        // A hash collision (never seen in practice) moves to the next free id.
        let mut ino = ino_of(&node);
        while ino <= ROOT_INO || self.by_ino.contains_key(&ino) {
            ino = ino.wrapping_add(1) & (i64::MAX as u64);
        }
        self.by_ino.insert(ino, (node, 1));
        self.by_node.insert(node, ino);
        ino
    }

    fn forget(&mut self, ino: u64, count: u64) {
        if let Some(e) = self.by_ino.get_mut(&ino) {
            e.1 = e.1.saturating_sub(count);
            if e.1 == 0 {
                let node = e.0;
                self.by_ino.remove(&ino);
                self.by_node.remove(&node);
            }
        }
    }

    /// The inode number a lookup of `node` gives (for readdir).
    fn ino(&self, node: &Node) -> u64 {
        if *node == Node::Root {
            return ROOT_INO;
        }
        self.by_node
            .get(node)
            .copied()
            .unwrap_or_else(|| ino_of(node))
    }
}

/// The file system served to the kernel.
struct StatusFs {
    status: Status,
    nodes: Mutex<Nodes>,
    uid: u32,
    gid: u32,
}

fn split_time(t: SystemTime) -> (i64, i64) {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, i64::from(d.subsec_nanos())),
        Err(_) => (0, 0),
    }
}

impl StatusFs {
    fn nodes(&self) -> std::sync::MutexGuard<'_, Nodes> {
        self.nodes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn node(&self, ino: u64) -> io::Result<Node> {
        self.nodes().get(ino).ok_or_else(|| errno(libc::ENOENT))
    }

    fn stat(&self, ino: u64, node: &Node) -> io::Result<stat64> {
        let attr = self
            .status
            .table()
            .attr(node)
            .ok_or_else(|| errno(libc::ENOENT))?;
        // SAFETY: stat64 is plain old data; all-zero is a valid value.
        let mut st: stat64 = unsafe { std::mem::zeroed() };
        st.st_ino = ino;
        if attr.dir {
            st.st_mode = libc::S_IFDIR | 0o550;
            st.st_nlink = 2;
        } else {
            st.st_mode = libc::S_IFREG | 0o440;
            st.st_nlink = 1;
            st.st_size = attr.size as i64;
        }
        st.st_uid = self.uid;
        st.st_gid = self.gid;
        st.st_blksize = 4096;
        let (cs, cn) = split_time(attr.ctime);
        let (ms, mn) = split_time(attr.mtime);
        st.st_ctime = cs;
        st.st_ctime_nsec = cn;
        st.st_mtime = ms;
        st.st_mtime_nsec = mn;
        st.st_atime = ms;
        st.st_atime_nsec = mn;
        Ok(st)
    }
}

fn refused<T>() -> io::Result<T> {
    Err(errno(libc::EACCES))
}

impl FileSystem for StatusFs {
    type Inode = u64;
    type Handle = u64;

    fn lookup(&self, _ctx: &Context, parent: u64, name: &CStr) -> io::Result<Entry> {
        let parent = self.node(parent)?;
        let name = name.to_str().map_err(|_| errno(libc::ENOENT))?;
        let child = self
            .status
            .table()
            .child(&parent, name)
            .ok_or_else(|| errno(libc::ENOENT))?;
        let ino = self.nodes().remember(child);
        let attr = match self.stat(ino, &child) {
            Ok(a) => a,
            Err(e) => {
                self.nodes().forget(ino, 1);
                return Err(e);
            }
        };
        Ok(Entry {
            inode: ino,
            generation: 0,
            attr,
            attr_flags: 0,
            attr_timeout: TTL,
            entry_timeout: TTL,
        })
    }

    fn forget(&self, _ctx: &Context, inode: u64, count: u64) {
        self.nodes().forget(inode, count);
    }

    fn getattr(
        &self,
        _ctx: &Context,
        inode: u64,
        _handle: Option<u64>,
    ) -> io::Result<(stat64, Duration)> {
        let node = self.node(inode)?;
        Ok((self.stat(inode, &node)?, TTL))
    }

    fn setattr(
        &self,
        _ctx: &Context,
        _inode: u64,
        _attr: stat64,
        _handle: Option<u64>,
        _valid: SetattrValid,
    ) -> io::Result<(stat64, Duration)> {
        refused()
    }

    fn symlink(&self, _: &Context, _: &CStr, _: u64, _: &CStr) -> io::Result<Entry> {
        refused()
    }

    fn mknod(&self, _: &Context, _: u64, _: &CStr, _: u32, _: u32, _: u32) -> io::Result<Entry> {
        refused()
    }

    fn mkdir(&self, _: &Context, _: u64, _: &CStr, _: u32, _: u32) -> io::Result<Entry> {
        refused()
    }

    fn unlink(&self, _: &Context, _: u64, _: &CStr) -> io::Result<()> {
        refused()
    }

    fn rmdir(&self, _: &Context, _: u64, _: &CStr) -> io::Result<()> {
        refused()
    }

    fn rename(&self, _: &Context, _: u64, _: &CStr, _: u64, _: &CStr, _: u32) -> io::Result<()> {
        refused()
    }

    fn link(&self, _: &Context, _: u64, _: u64, _: &CStr) -> io::Result<Entry> {
        refused()
    }

    fn open(
        &self,
        _ctx: &Context,
        inode: u64,
        flags: u32,
        _fuse_flags: u32,
    ) -> io::Result<(Option<u64>, OpenOptions, Option<u32>)> {
        let node = self.node(inode)?;
        if node.is_dir() {
            return Err(errno(libc::EISDIR));
        }
        if !self.status.table().exists(&node) {
            return Err(errno(libc::ENOENT));
        }
        if flags as i32 & libc::O_ACCMODE != libc::O_RDONLY {
            return refused();
        }
        Ok((None, OpenOptions::empty(), None))
    }

    fn create(
        &self,
        _: &Context,
        _: u64,
        _: &CStr,
        _: CreateIn,
    ) -> io::Result<(Entry, Option<u64>, OpenOptions, Option<u32>)> {
        refused()
    }

    fn read(
        &self,
        _ctx: &Context,
        inode: u64,
        _handle: u64,
        w: &mut dyn ZeroCopyWriter,
        size: u32,
        offset: u64,
        _lock_owner: Option<u64>,
        _flags: u32,
    ) -> io::Result<usize> {
        let node = self.node(inode)?;
        let mut content = Vec::new();
        // A file removed while open reads as empty, as on /proc.
        self.status.table().read(&node, &mut content);
        let start = (offset.min(content.len() as u64)) as usize;
        let end = start.saturating_add(size as usize).min(content.len());
        w.write_all(&content[start..end])?;
        Ok(end - start)
    }

    fn write(
        &self,
        _: &Context,
        _: u64,
        _: u64,
        _: &mut dyn ZeroCopyReader,
        _: u32,
        _: u64,
        _: Option<u64>,
        _: bool,
        _: u32,
        _: u32,
    ) -> io::Result<usize> {
        refused()
    }

    fn flush(&self, _: &Context, _: u64, _: u64, _: u64) -> io::Result<()> {
        Ok(())
    }

    fn fallocate(&self, _: &Context, _: u64, _: u64, _: u32, _: u64, _: u64) -> io::Result<()> {
        refused()
    }

    fn release(
        &self,
        _: &Context,
        _: u64,
        _: u32,
        _: u64,
        _: bool,
        _: bool,
        _: Option<u64>,
    ) -> io::Result<()> {
        Ok(())
    }

    fn setxattr(&self, _: &Context, _: u64, _: &CStr, _: &[u8], _: u32) -> io::Result<()> {
        Err(errno(libc::ENOTSUP))
    }

    fn getxattr(&self, _: &Context, _: u64, _: &CStr, _: u32) -> io::Result<GetxattrReply> {
        Err(errno(libc::ENOTSUP))
    }

    fn listxattr(&self, _: &Context, _: u64, _: u32) -> io::Result<ListxattrReply> {
        Err(errno(libc::ENOTSUP))
    }

    fn removexattr(&self, _: &Context, _: u64, _: &CStr) -> io::Result<()> {
        Err(errno(libc::ENOTSUP))
    }

    fn opendir(
        &self,
        _ctx: &Context,
        inode: u64,
        _flags: u32,
    ) -> io::Result<(Option<u64>, OpenOptions)> {
        let node = self.node(inode)?;
        if !node.is_dir() {
            return Err(errno(libc::ENOTDIR));
        }
        if !self.status.table().exists(&node) {
            return Err(errno(libc::ENOENT));
        }
        Ok((None, OpenOptions::empty()))
    }

    fn readdir(
        &self,
        _ctx: &Context,
        inode: u64,
        _handle: u64,
        size: u32,
        offset: u64,
        add_entry: &mut dyn FnMut(DirEntry) -> io::Result<usize>,
    ) -> io::Result<()> {
        let node = self.node(inode)?;
        if !node.is_dir() {
            return Err(errno(libc::ENOTDIR));
        }
        // Offsets: 1 after ".", 2 after "..", 2 + cookie after a child.
        // A dirent takes at least 32 bytes: list no more than fit.
        let max = size as usize / 32 + 1;
        let mut children = Vec::new();
        if !self
            .status
            .table()
            .list(&node, offset.saturating_sub(2), max, &mut children)
        {
            return Err(errno(libc::ENOENT));
        }
        let mut entries: Vec<(u64, u64, u32, String)> = Vec::with_capacity(children.len() + 2);
        {
            let nodes = self.nodes();
            if offset < 1 {
                entries.push((1, nodes.ino(&node), libc::DT_DIR as u32, ".".into()));
            }
            if offset < 2 {
                let parent = node.parent();
                entries.push((2, nodes.ino(&parent), libc::DT_DIR as u32, "..".into()));
            }
            for (cookie, child) in &children {
                let kind = if child.is_dir() {
                    libc::DT_DIR
                } else {
                    libc::DT_REG
                };
                entries.push((cookie + 2, nodes.ino(child), kind as u32, child.name()));
            }
        }
        for (off, ino, type_, name) in &entries {
            let added = add_entry(DirEntry {
                ino: *ino,
                offset: *off,
                type_: *type_,
                name: name.as_bytes(),
            })?;
            if added == 0 {
                break;
            }
        }
        Ok(())
    }

    fn releasedir(&self, _: &Context, _: u64, _: u32, _: u64) -> io::Result<()> {
        Ok(())
    }
}

// ------------------------------------------------------------ mounting

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
        let fs = StatusFs {
            status,
            nodes: Mutex::new(Nodes::default()),
            uid,
            gid,
        };
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
    use crate::status::{ConnFile, List};

    #[test]
    fn inode_numbers_are_stable_and_distinct() {
        let a = Node::ConnFile(4, List::Holders, 3, ConnFile::PeerName);
        assert_eq!(ino_of(&a), ino_of(&a));
        assert_eq!(ino_of(&Node::Root), 1);
        let nodes = [
            Node::Status,
            Node::Incubator,
            Node::Lockers,
            Node::Locker(4),
            Node::Incubated(4),
            Node::List(4, List::Holders),
            Node::List(4, List::Waitings),
            Node::Conn(4, List::Holders, 3),
            Node::Conn(4, List::Waitings, 3),
            a,
        ];
        let mut inos: Vec<u64> = nodes.iter().map(ino_of).collect();
        assert!(inos.iter().all(|&i| (16..=i64::MAX as u64).contains(&i)));
        inos.sort();
        inos.dedup();
        assert_eq!(inos.len(), nodes.len());
    }

    #[test]
    fn node_ids_follow_lookup_counts() {
        let mut n = Nodes::default();
        let node = Node::Locker(7);
        let ino = n.remember(node);
        assert_eq!(ino, ino_of(&node));
        assert_eq!(n.remember(node), ino);
        assert_eq!(n.get(ino), Some(node));
        n.forget(ino, 1);
        assert_eq!(n.get(ino), Some(node));
        n.forget(ino, 1);
        assert_eq!(n.get(ino), None);
        assert_eq!(n.ino(&node), ino_of(&node));
        assert_eq!(n.get(ROOT_INO), Some(Node::Root));
        assert_eq!(n.remember(Node::Root), ROOT_INO);
    }

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
