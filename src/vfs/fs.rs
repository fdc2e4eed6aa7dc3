//! The file system the VFS serves: the kernel's node ids and the FUSE
//! operations over the status table (lookup, getattr, readdir, read); every
//! write is refused. `mod.rs` mounts it and runs the serving thread.

use crate::status::{Node, Status};
use fuse_backend_rs::abi::fuse_abi::{stat64, CreateIn, OpenOptions, SetattrValid};
use fuse_backend_rs::api::filesystem::{
    Context, DirEntry, Entry, FileSystem, GetxattrReply, ListxattrReply, ZeroCopyReader,
    ZeroCopyWriter,
};
use std::collections::HashMap;
use std::ffi::CStr;
use std::io;
use std::sync::{Mutex, PoisonError};
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
pub(super) struct StatusFs {
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
impl StatusFs {
    /// The file system over `status`, its files owned by `uid`/`gid`.
    pub(super) fn new(status: Status, uid: u32, gid: u32) -> StatusFs {
        StatusFs {
            status,
            nodes: Mutex::new(Nodes::default()),
            uid,
            gid,
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
}
