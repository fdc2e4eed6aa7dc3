//! Readiness of the daemon's descriptors: a thin wrapper over level-triggered
//! `epoll(7)`, addressed by token, so registering, changing and removing a
//! descriptor is O(1) and a wake-up costs O(ready descriptors), not O(all).
//! (The design started with `poll(2)`; the README's "Design" section gives
//! the measurements that made us change.)

use std::io;
use std::os::unix::io::RawFd;

pub type Token = usize;

pub const READABLE: i16 = libc::POLLIN;
pub const WRITABLE: i16 = libc::POLLOUT;

/// Events fetched per `epoll_wait`; more ready descriptors are simply
/// reported by the next call (level-triggered).
const BATCH: usize = 256;

pub struct Poller {
    epfd: RawFd,
    fd_of_token: Vec<RawFd>,
    registered: usize,
    buf: Vec<libc::epoll_event>,
}

/// One ready descriptor, with `poll(2)`-style flags.
#[derive(Clone, Copy, Debug)]
pub struct Event {
    pub token: Token,
    pub revents: i16,
}

impl Event {
    pub fn readable(&self) -> bool {
        self.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0
    }
    pub fn writable(&self) -> bool {
        self.revents & (libc::POLLOUT | libc::POLLERR | libc::POLLHUP) != 0
    }
}

fn to_epoll(events: i16) -> u32 {
    let mut e = 0u32;
    if events & libc::POLLIN != 0 {
        e |= libc::EPOLLIN as u32;
    }
    if events & libc::POLLOUT != 0 {
        e |= libc::EPOLLOUT as u32;
    }
    e
}

fn from_epoll(e: u32) -> i16 {
    let mut r = 0i16;
    if e & libc::EPOLLIN as u32 != 0 {
        r |= libc::POLLIN;
    }
    if e & libc::EPOLLOUT as u32 != 0 {
        r |= libc::POLLOUT;
    }
    if e & libc::EPOLLHUP as u32 != 0 {
        r |= libc::POLLHUP;
    }
    if e & libc::EPOLLERR as u32 != 0 {
        r |= libc::POLLERR;
    }
    r
}

impl Drop for Poller {
    fn drop(&mut self) {
        // SAFETY: closing the epoll descriptor we own.
        unsafe { libc::close(self.epfd) };
    }
}

impl Poller {
    /// A new epoll instance (fails when the process is out of descriptors).
    pub fn new() -> io::Result<Poller> {
        // SAFETY: creating an epoll instance we own.
        let epfd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if epfd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Poller {
            epfd,
            fd_of_token: Vec::new(),
            registered: 0,
            buf: vec![libc::epoll_event { events: 0, u64: 0 }; BATCH],
        })
    }

    pub fn len(&self) -> usize {
        self.registered
    }

    pub fn is_empty(&self) -> bool {
        self.registered == 0
    }

    fn ctl(&self, op: i32, fd: RawFd, token: Token, events: i16) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: to_epoll(events),
            u64: token as u64,
        };
        // SAFETY: epoll_ctl on our epoll fd with a valid event struct.
        if unsafe { libc::epoll_ctl(self.epfd, op, fd, &mut ev) } == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Watches `fd` for `events` under `token`; on error nothing is watched.
    pub fn register(&mut self, fd: RawFd, token: Token, events: i16) -> io::Result<()> {
        if token >= self.fd_of_token.len() {
            self.fd_of_token.resize(token + 1, -1);
        }
        if self.fd_of_token[token] != -1 {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "token registered twice",
            ));
        }
        self.ctl(libc::EPOLL_CTL_ADD, fd, token, events)?;
        self.fd_of_token[token] = fd;
        self.registered += 1;
        Ok(())
    }

    /// Changes the events watched under `token` (a token not watched: no-op).
    pub fn set_events(&mut self, token: Token, events: i16) -> io::Result<()> {
        match self.fd_of_token.get(token) {
            Some(&fd) if fd >= 0 => self.ctl(libc::EPOLL_CTL_MOD, fd, token, events),
            _ => Ok(()),
        }
    }

    /// Stops watching `token` (a token not watched: no-op).
    pub fn deregister(&mut self, token: Token) -> io::Result<()> {
        let Some(fd) = self
            .fd_of_token
            .get_mut(token)
            .map(|f| std::mem::replace(f, -1))
        else {
            return Ok(());
        };
        if fd >= 0 {
            self.registered -= 1;
            self.ctl(libc::EPOLL_CTL_DEL, fd, token, 0)?;
        }
        Ok(())
    }

    /// Forgets `token` whose descriptor is about to be closed: closing the
    /// last reference to a file removes it from the epoll set, so no
    /// EPOLL_CTL_DEL is needed. Only for descriptors never duplicated (a
    /// duplicate would keep the file, and its events, alive).
    pub fn forget_closing(&mut self, token: Token) {
        if let Some(fd) = self.fd_of_token.get_mut(token) {
            if *fd >= 0 {
                *fd = -1;
                self.registered -= 1;
            }
        }
    }

    /// Waits up to `timeout_ms` (-1: forever) and appends the ready
    /// descriptors to `events`.
    pub fn wait(&mut self, timeout_ms: i32, events: &mut Vec<Event>) -> io::Result<()> {
        // SAFETY: buf holds BATCH epoll_event entries.
        let n =
            unsafe { libc::epoll_wait(self.epfd, self.buf.as_mut_ptr(), BATCH as i32, timeout_ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted {
                Ok(())
            } else {
                Err(e)
            };
        }
        for ev in &self.buf[..n as usize] {
            let (bits, token) = (ev.events, ev.u64);
            events.push(Event {
                token: token as Token,
                revents: from_epoll(bits),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::io::AsRawFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn readiness_by_token() {
        let (mut a, b) = UnixStream::pair().unwrap();
        let mut p = Poller::new().unwrap();
        p.register(b.as_raw_fd(), 7, READABLE).unwrap();
        assert!(p.register(b.as_raw_fd(), 7, READABLE).is_err());
        let mut ev = Vec::new();
        p.wait(0, &mut ev).unwrap();
        assert!(ev.is_empty());
        a.write_all(b"x").unwrap();
        p.wait(1000, &mut ev).unwrap();
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].token, 7);
        assert!(ev[0].readable());
        p.set_events(7, 0).unwrap();
        ev.clear();
        p.wait(0, &mut ev).unwrap();
        assert!(ev.is_empty());
        p.deregister(7).unwrap();
        assert!(p.is_empty());
        assert!(p.register(-1, 8, READABLE).is_err());
        assert!(p.is_empty());
    }
}
