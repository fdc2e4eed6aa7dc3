//! The settings of a handle, with C libflom's rules: which state allows a
//! change (otherwise `ImmutableHandle`), and how values are normalised
//! (absolute values, 0 ignored or raised to 1, addresses exclusive).

use super::{FlomHandle, HandleState};
use crate::error::FlomError;
use crate::rc;
use crate::resource::LockMode;

/// When a setting may change.
#[derive(Clone, Copy)]
enum Changeable {
    /// Only when not connected (`Init`, `Disconnected`): connection settings.
    WhenDisconnected,
    /// Also when connected without a lock: lock request settings.
    WhenUnlocked,
}

impl FlomHandle {
    fn may_change(&self, setting: &'static str, when: Changeable) -> Result<(), FlomError> {
        let ok = matches!(
            (self.state, when),
            (HandleState::Init | HandleState::Disconnected, _)
                | (HandleState::Connected, Changeable::WhenUnlocked)
        );
        if ok {
            Ok(())
        } else {
            Err(FlomError::ImmutableHandle {
                setting,
                state: self.state,
            })
        }
    }

    /// Whether the handle may start a daemon when there is none (the `flom`
    /// command does; C libflom never does).
    pub fn auto_start(&self) -> bool {
        self.auto_start
    }

    pub fn set_auto_start(&mut self, on: bool) -> Result<(), FlomError> {
        self.may_change("auto start", Changeable::WhenDisconnected)?;
        self.auto_start = on;
        Ok(())
    }

    /// The AF_UNIX socket path, when the handle does not use the network.
    pub fn socket_name(&self) -> Option<String> {
        (!self.config.uses_network()).then(|| self.config.socket_path())
    }

    /// Sets the AF_UNIX socket path (`None`: the default one); clears the
    /// unicast and multicast addresses.
    pub fn set_socket_name(&mut self, path: Option<&str>) -> Result<(), FlomError> {
        self.may_change("socket name", Changeable::WhenDisconnected)?;
        if let Some(p) = path {
            if p.len() >= 108 {
                return Err(FlomError::InvalidSetting {
                    rc: rc::BUFFER_OVERFLOW,
                    setting: "socket name",
                    value: p.to_string(),
                });
            }
            self.config.unicast_address = None;
            self.config.multicast_address = None;
        }
        self.config.socket_name = path.map(str::to_string);
        Ok(())
    }

    pub fn resource_name(&self) -> &str {
        &self.config.resource_name
    }

    /// Sets the resource name; like C libflom, an invalid name is not an
    /// error but keeps the previous name.
    pub fn set_resource_name(&mut self, name: &str) -> Result<(), FlomError> {
        self.may_change("resource name", Changeable::WhenUnlocked)?;
        if crate::resource::resource_type(name).is_some() {
            self.config.resource_name = name.to_string();
        }
        Ok(())
    }

    pub fn lock_mode(&self) -> LockMode {
        self.config.lock_mode
    }

    pub fn set_lock_mode(&mut self, mode: LockMode) -> Result<(), FlomError> {
        self.may_change("lock mode", Changeable::WhenUnlocked)?;
        self.config.lock_mode = mode;
        Ok(())
    }

    pub fn resource_quantity(&self) -> i32 {
        self.config.resource_quantity
    }

    /// Sets the quantity of a numeric resource (absolute value; 0 ignored).
    pub fn set_resource_quantity(&mut self, quantity: i32) -> Result<(), FlomError> {
        self.may_change("resource quantity", Changeable::WhenUnlocked)?;
        if quantity != 0 {
            self.config.resource_quantity = quantity.saturating_abs();
        }
        Ok(())
    }

    /// Milliseconds a lock may wait: 0 no wait, >0 at most, <0 forever.
    pub fn resource_timeout(&self) -> i32 {
        self.config.resource_timeout
    }

    pub fn set_resource_timeout(&mut self, timeout_ms: i32) -> Result<(), FlomError> {
        self.may_change("resource timeout", Changeable::WhenUnlocked)?;
        self.config.resource_timeout = timeout_ms;
        Ok(())
    }

    pub fn resource_create(&self) -> bool {
        self.config.resource_create
    }

    pub fn set_resource_create(&mut self, create: bool) -> Result<(), FlomError> {
        self.may_change("resource create", Changeable::WhenDisconnected)?;
        self.config.resource_create = create;
        Ok(())
    }

    pub fn resource_idle_lifespan(&self) -> i32 {
        self.config.resource_idle_lifespan
    }

    /// Milliseconds an unused resource is kept (absolute value; 0 ignored).
    pub fn set_resource_idle_lifespan(&mut self, ms: i32) -> Result<(), FlomError> {
        self.may_change("resource idle lifespan", Changeable::WhenUnlocked)?;
        if ms != 0 {
            self.config.resource_idle_lifespan = ms.saturating_abs();
        }
        Ok(())
    }

    pub fn unicast_address(&self) -> Option<&str> {
        self.config.unicast_address.as_deref()
    }

    /// Sets the daemon's TCP address; clears the socket name and the
    /// multicast address.
    pub fn set_unicast_address(&mut self, address: Option<&str>) -> Result<(), FlomError> {
        self.may_change("unicast address", Changeable::WhenDisconnected)?;
        if address.is_some() {
            self.config.socket_name = None;
            self.config.multicast_address = None;
        }
        self.config.unicast_address = address.map(str::to_string);
        Ok(())
    }

    pub fn unicast_port(&self) -> i32 {
        self.config.unicast_port
    }

    pub fn set_unicast_port(&mut self, port: i32) -> Result<(), FlomError> {
        self.may_change("unicast port", Changeable::WhenDisconnected)?;
        self.config.unicast_port = port.saturating_abs();
        Ok(())
    }

    pub fn multicast_address(&self) -> Option<&str> {
        self.config.multicast_address.as_deref()
    }

    /// Sets the multicast group of discovery; clears the socket name and
    /// the unicast address.
    pub fn set_multicast_address(&mut self, group: Option<&str>) -> Result<(), FlomError> {
        self.may_change("multicast address", Changeable::WhenDisconnected)?;
        if group.is_some() {
            self.config.socket_name = None;
            self.config.unicast_address = None;
        }
        self.config.multicast_address = group.map(str::to_string);
        Ok(())
    }

    pub fn multicast_port(&self) -> i32 {
        self.config.multicast_port
    }

    pub fn set_multicast_port(&mut self, port: i32) -> Result<(), FlomError> {
        self.may_change("multicast port", Changeable::WhenDisconnected)?;
        self.config.multicast_port = port.saturating_abs();
        Ok(())
    }

    pub fn network_interface(&self) -> Option<&str> {
        self.config.network_interface.as_deref()
    }

    /// Sets the network interface of IPv6 link-local addresses; it must
    /// exist and have an IPv6 address.
    pub fn set_network_interface(&mut self, name: Option<&str>) -> Result<(), FlomError> {
        self.may_change("network interface", Changeable::WhenDisconnected)?;
        if let Some(n) = name {
            if crate::net::ipv6_interface_index(n).is_none() {
                return Err(FlomError::InvalidSetting {
                    rc: rc::INVALID_IPV6_NETWORK_INTERFACE,
                    setting: "network interface",
                    value: n.to_string(),
                });
            }
        }
        self.config.network_interface = name.map(str::to_string);
        Ok(())
    }

    pub fn discovery_attempts(&self) -> i32 {
        self.config.discovery_attempts
    }

    /// Discovery datagrams sent (absolute value; 0 means 1).
    pub fn set_discovery_attempts(&mut self, n: i32) -> Result<(), FlomError> {
        self.may_change("discovery attempts", Changeable::WhenDisconnected)?;
        self.config.discovery_attempts = n.saturating_abs().max(1);
        Ok(())
    }

    pub fn discovery_timeout(&self) -> i32 {
        self.config.discovery_timeout
    }

    /// Milliseconds to wait for each discovery reply (absolute value).
    pub fn set_discovery_timeout(&mut self, ms: i32) -> Result<(), FlomError> {
        self.may_change("discovery timeout", Changeable::WhenDisconnected)?;
        self.config.discovery_timeout = ms.saturating_abs();
        Ok(())
    }

    pub fn discovery_ttl(&self) -> i32 {
        self.config.discovery_ttl
    }

    /// Hops of the discovery datagrams (absolute value; 0 means 1).
    pub fn set_discovery_ttl(&mut self, hops: i32) -> Result<(), FlomError> {
        self.may_change("discovery TTL", Changeable::WhenDisconnected)?;
        self.config.discovery_ttl = hops.saturating_abs().max(1);
        Ok(())
    }
}
