//! Local security: who owns a file or a daemon, and what may be opened or
//! trusted. Private files (the `<socket>.lock` guard, trace files) are
//! opened without following symbolic links and created with mode 0600; a
//! path of the wrong type or owned by another user is refused with one
//! sentence naming it and its owner. Also: SO_PEERCRED of a UNIX-socket
//! peer, the daemon's `SocketAccess` policy (who may connect) and the
//! client's `DaemonOwner` trust (whose daemon it talks to).

use nix::unistd::{Gid, Group, Uid, User};
use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::io::RawFd;
use std::path::Path;

/// The name of user `uid`, or `uid N` when it has none.
pub fn user_name(uid: u32) -> String {
    match User::from_uid(Uid::from_raw(uid)) {
        Ok(Some(u)) => u.name,
        _ => format!("uid {uid}"),
    }
}

/// The effective uid of this process.
pub fn euid() -> u32 {
    Uid::effective().as_raw()
}

/// What kind of file `meta` (from `lstat`) describes, with an article.
pub fn kind_of(meta: &Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_file() {
        "a regular file"
    } else {
        "a device"
    }
}

/// How a private file is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenHow {
    /// Read and write, never truncated (the `<socket>.lock` guard).
    Guard,
    /// Write from the start (a trace file, truncated once it is known ours).
    Truncate,
    /// Append (a trace file with AppendTraceFile).
    Append,
}

/// The sentence for a path that is refused: `role` says what it was for
/// ("the lock file", "the trace file").
fn refusal(role: &str, path: &Path, what: &str) -> String {
    format!(
        "flom: refusing to use '{}' as {role}: it is {what}; remove it or choose another path",
        path.display()
    )
}

/// Why an existing path (from `lstat`) cannot be our private regular file;
/// None when it is a regular file owned by us.
fn wrong_file(meta: &Metadata) -> Option<String> {
    // Names are looked up (in the password database) only for a message.
    let owner = || user_name(meta.uid());
    if !meta.file_type().is_file() {
        return Some(format!("{} owned by {}", kind_of(meta), owner()));
    }
    if meta.uid() != euid() {
        return Some(format!(
            "a file owned by {}, not by {}",
            owner(),
            user_name(euid())
        ));
    }
    None
}

/// Checks, without opening it, that `path` is absent or a regular file of
/// ours (the client's check of the daemon's files before starting it).
pub fn check_private(path: &Path, role: &str) -> Result<(), String> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) => match wrong_file(&meta) {
            Some(what) => Err(refusal(role, path, &what)),
            None => Ok(()),
        },
        Err(_) => Ok(()),
    }
}

/// Why `open_private` did not open a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotOpened {
    /// The `flom: ` sentence.
    pub message: String,
    /// The path is there but refused (wrong type, another user's, a
    /// symbolic link), rather than impossible to open or create.
    pub unsafe_path: bool,
}

/// Opens (creating it with mode 0600) a file only this user may own: no
/// symbolic link is followed, a FIFO never blocks, and a path of another
/// type or owner is refused with a sentence. An existing file of ours that
/// others may write is made 0600.
pub fn open_private(path: &Path, how: OpenHow, role: &str) -> Result<File, NotOpened> {
    let refused = |message: String| NotOpened {
        message,
        unsafe_path: true,
    };
    let mut o = OpenOptions::new();
    match how {
        OpenHow::Guard => o.read(true).write(true),
        OpenHow::Truncate => o.write(true),
        OpenHow::Append => o.append(true),
    };
    o.create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC);
    let file = match o.open(path) {
        Ok(f) => f,
        Err(e) => {
            return Err(match std::fs::symlink_metadata(path) {
                Ok(meta) if wrong_file(&meta).is_some() => {
                    refused(refusal(role, path, &wrong_file(&meta).unwrap_or_default()))
                }
                _ => NotOpened {
                    message: format!("flom: cannot open {role} '{}': {e}", path.display()),
                    unsafe_path: false,
                },
            });
        }
    };
    let meta = file.metadata().map_err(|e| NotOpened {
        message: format!("flom: cannot open {role} '{}': {e}", path.display()),
        unsafe_path: false,
    })?;
    if let Some(what) = wrong_file(&meta) {
        return Err(refused(refusal(role, path, &what)));
    }
    if meta.mode() & 0o077 != 0 {
        let _ = file.set_permissions(std::fs::Permissions::from_mode(0o600));
    }
    if how == OpenHow::Truncate {
        let _ = file.set_len(0);
    }
    Ok(file)
}

/// The peer of a connected UNIX socket: (pid, uid, gid) from SO_PEERCRED.
pub fn peer_credentials(fd: RawFd) -> io::Result<(i32, u32, u32)> {
    use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
    let c = getsockopt(fd, PeerCredentials).map_err(|e| io::Error::from_raw_os_error(e as i32))?;
    Ok((c.pid(), c.uid(), c.gid()))
}

// ------------------------------------------------------------ policies

/// Who may connect to a daemon's UNIX socket besides its own user and root
/// (`[Daemon]/SocketAccess`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum SocketAccess {
    /// Only the daemon's user and root (the default).
    #[default]
    User,
    /// Also the members of this group.
    Group { name: String, gid: u32 },
    /// Every local user.
    All,
}

impl SocketAccess {
    /// Parses `user`, `group:NAME` (or a numeric gid) or `all`.
    pub fn parse(text: &str) -> Result<SocketAccess, String> {
        match text {
            "user" => return Ok(SocketAccess::User),
            "all" => return Ok(SocketAccess::All),
            _ => {}
        }
        let Some(name) = text.strip_prefix("group:") else {
            return Err(format!(
                "'{text}' is not a socket access; use user, group:NAME or all"
            ));
        };
        let group = match name.parse::<u32>() {
            Ok(gid) => Group::from_gid(Gid::from_raw(gid)),
            Err(_) => Group::from_name(name),
        };
        match group {
            Ok(Some(g)) => Ok(SocketAccess::Group {
                name: g.name,
                gid: g.gid.as_raw(),
            }),
            _ => Err(format!("group '{name}' does not exist")),
        }
    }

    /// The policy a configuration asks for (a bad value was refused when
    /// it was read: it falls back to the default here).
    pub fn of(value: Option<&str>) -> SocketAccess {
        value
            .and_then(|v| SocketAccess::parse(v).ok())
            .unwrap_or(SocketAccess::User)
    }

    /// The mode of the socket file.
    pub fn socket_mode(&self) -> u32 {
        match self {
            SocketAccess::User => 0o600,
            SocketAccess::Group { .. } => 0o660,
            SocketAccess::All => 0o666,
        }
    }

    /// Whether a peer with `uid` and primary group `gid` may use a daemon
    /// run by `daemon_uid`.
    pub fn allows(&self, daemon_uid: u32, uid: u32, gid: u32) -> bool {
        if uid == daemon_uid || uid == 0 {
            return true;
        }
        match self {
            SocketAccess::User => false,
            SocketAccess::All => true,
            SocketAccess::Group { gid: g, .. } => {
                gid == *g
                    || Group::from_gid(Gid::from_raw(*g))
                        .ok()
                        .flatten()
                        .is_some_and(|grp| grp.mem.contains(&user_name(uid)))
            }
        }
    }
}

/// Checks a `[Daemon]/DaemonOwner` value: `any`, a user name or a uid.
pub fn check_daemon_owner(text: &str) -> Result<(), String> {
    if text == "any" || owner_uid(text).is_some() {
        Ok(())
    } else {
        Err(format!(
            "user '{text}' does not exist; give a user name, a uid or any"
        ))
    }
}

fn owner_uid(text: &str) -> Option<u32> {
    match text.parse::<u32>() {
        Ok(uid) => Some(uid),
        Err(_) => User::from_name(text).ok().flatten().map(|u| u.uid.as_raw()),
    }
}

/// Whether the socket at `path` was placed by root or the user where
/// nobody else can place one: the socket file and its directory belong to
/// root or the user and the directory is writable by its owner only (e.g.
/// `/run/flom` of `flom.socket`). Whoever then serves it (a service's
/// dynamic user) was chosen by them.
pub fn socket_placed_by_trusted(path: &Path) -> bool {
    let mine = |uid: u32| uid == 0 || uid == euid();
    let Ok(sock) = std::fs::symlink_metadata(path) else {
        return false;
    };
    let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return false;
    };
    let Ok(dir_meta) = std::fs::symlink_metadata(dir) else {
        return false;
    };
    sock.file_type().is_socket()
        && mine(sock.uid())
        && dir_meta.is_dir()
        && mine(dir_meta.uid())
        && dir_meta.mode() & 0o022 == 0
}

/// Whether the client trusts a daemon (or socket file) owned by `uid`:
/// its own user, root, and the `DaemonOwner` of the configuration.
pub fn trusts_owner(daemon_owner: Option<&str>, uid: u32) -> bool {
    if uid == 0 || uid == euid() || uid == Uid::current().as_raw() {
        return true;
    }
    match daemon_owner {
        Some("any") => true,
        Some(name) => owner_uid(name) == Some(uid),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_access_values() {
        assert_eq!(SocketAccess::parse("user").unwrap(), SocketAccess::User);
        assert_eq!(SocketAccess::parse("all").unwrap(), SocketAccess::All);
        assert!(matches!(
            SocketAccess::parse("group:root").unwrap(),
            SocketAccess::Group { gid: 0, .. }
        ));
        assert!(SocketAccess::parse("group:no-such-group-xyz").is_err());
        assert!(SocketAccess::parse("everyone").is_err());
        let user = SocketAccess::User;
        assert!(user.allows(1000, 1000, 5) && user.allows(1000, 0, 0));
        assert!(!user.allows(1000, 1001, 5));
        assert!(SocketAccess::All.allows(1000, 1001, 5));
        let g = SocketAccess::Group {
            name: "x".into(),
            gid: 4242,
        };
        assert!(g.allows(1000, 1001, 4242));
        assert_eq!(user.socket_mode(), 0o600);
    }

    #[test]
    fn private_files() {
        let dir = std::env::temp_dir().join(format!("flom-sec-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("f");
        drop(open_private(&f, OpenHow::Guard, "the lock file").unwrap());
        let mode = std::fs::metadata(&f).unwrap().mode();
        assert_eq!(mode & 0o777, 0o600);
        let link = dir.join("l");
        std::os::unix::fs::symlink(&f, &link).unwrap();
        let e = open_private(&link, OpenHow::Truncate, "the trace file").unwrap_err();
        assert!(e.unsafe_path);
        let e = e.message;
        assert!(e.contains("it is a symbolic link owned by"), "{e}");
        let sub = dir.join("d");
        std::fs::create_dir(&sub).unwrap();
        let e = open_private(&sub, OpenHow::Guard, "the lock file")
            .unwrap_err()
            .message;
        assert!(e.contains("it is a directory owned by"), "{e}");
        assert!(check_private(&sub, "x").is_err() && check_private(&f, "x").is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
