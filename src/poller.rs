//! A thin wrapper over `poll(2)`: a persistent array of pollfds addressed by
//! token, so registering, changing and removing a descriptor is O(1) and the
//! daemon loop never rebuilds the array.

use std::io;
use std::os::unix::io::RawFd;

pub type Token = usize;

pub const READABLE: i16 = libc::POLLIN;
pub const WRITABLE: i16 = libc::POLLOUT;

pub struct Poller {
    fds: Vec<libc::pollfd>,
    token_of_slot: Vec<Token>,
    slot_of_token: Vec<usize>,
}

const NO_SLOT: usize = usize::MAX;

/// One ready descriptor.
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

impl Default for Poller {
    fn default() -> Self {
        Self::new()
    }
}

impl Poller {
    pub fn new() -> Poller {
        Poller {
            fds: Vec::new(),
            token_of_slot: Vec::new(),
            slot_of_token: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.fds.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fds.is_empty()
    }

    pub fn register(&mut self, fd: RawFd, token: Token, events: i16) {
        if token >= self.slot_of_token.len() {
            self.slot_of_token.resize(token + 1, NO_SLOT);
        }
        debug_assert_eq!(self.slot_of_token[token], NO_SLOT, "token registered twice");
        self.slot_of_token[token] = self.fds.len();
        self.fds.push(libc::pollfd {
            fd,
            events,
            revents: 0,
        });
        self.token_of_slot.push(token);
    }

    pub fn set_events(&mut self, token: Token, events: i16) {
        let slot = self.slot_of_token[token];
        self.fds[slot].events = events;
    }

    pub fn deregister(&mut self, token: Token) {
        let slot = std::mem::replace(&mut self.slot_of_token[token], NO_SLOT);
        if slot == NO_SLOT {
            return;
        }
        self.fds.swap_remove(slot);
        self.token_of_slot.swap_remove(slot);
        if slot < self.fds.len() {
            self.slot_of_token[self.token_of_slot[slot]] = slot;
        }
    }

    /// Waits up to `timeout_ms` (-1: forever) and appends the ready
    /// descriptors to `events`.
    pub fn wait(&mut self, timeout_ms: i32, events: &mut Vec<Event>) -> io::Result<()> {
        // SAFETY: fds is a valid array of pollfd of the given length.
        let n = unsafe {
            libc::poll(
                self.fds.as_mut_ptr(),
                self.fds.len() as libc::nfds_t,
                timeout_ms,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted {
                Ok(())
            } else {
                Err(e)
            };
        }
        let mut left = n as usize;
        for (slot, p) in self.fds.iter_mut().enumerate() {
            if left == 0 {
                break;
            }
            if p.revents != 0 {
                events.push(Event {
                    token: self.token_of_slot[slot],
                    revents: p.revents,
                });
                p.revents = 0;
                left -= 1;
            }
        }
        Ok(())
    }
}
