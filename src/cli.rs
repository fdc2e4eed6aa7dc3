//! TEMPORARY stub of the command line (replaced by the full parser).
use crate::config::Config;
use crate::resource::LockMode;

pub enum Action {
    Run(Vec<String>),
    Shutdown { immediate: bool },
    DebugFeature(String),
}
pub struct Invocation {
    pub config: Config,
    pub action: Action,
}

pub fn parse(args: &[String]) -> Result<Invocation, i32> {
    let mut c = Config::default();
    let mut o = getopts::Options::new();
    o.parsing_style(getopts::ParsingStyle::FloatingFrees);
    for (s, l) in [
        ("s", "socket-name"),
        ("r", "resource-name"),
        ("l", "lock-mode"),
        ("o", "resource-timeout"),
        ("d", "daemon-lifespan"),
        ("e", "resource-create"),
        ("i", "resource-idle-lifespan"),
        ("q", "resource-quantity"),
        ("m", "mount-point-vfs"),
    ] {
        o.optopt(s, l, "", "");
    }
    o.optflag("x", "quiesce-exit", "");
    o.optflag("X", "immediate-exit", "");
    o.optflag("V", "verbose", "");
    let m = o.parse(&args[1..]).map_err(|e| {
        eprintln!("option parsing failed: {e}");
        99
    })?;
    if let Some(v) = m.opt_str("s") {
        c.socket_name = Some(v);
    }
    if let Some(v) = m.opt_str("r") {
        c.resource_name = v;
    }
    if let Some(v) = m.opt_str("l") {
        c.lock_mode = LockMode::parse(&v).ok_or(99)?;
    }
    if let Some(v) = m.opt_str("o") {
        c.resource_timeout = v.parse().map_err(|_| 99)?;
    }
    if let Some(v) = m.opt_str("d") {
        c.daemon_lifespan = v.parse().map_err(|_| 99)?;
    }
    if let Some(v) = m.opt_str("i") {
        c.resource_idle_lifespan = v.parse().map_err(|_| 99)?;
    }
    if let Some(v) = m.opt_str("q") {
        c.resource_quantity = v.parse().map_err(|_| 99)?;
    }
    if let Some(v) = m.opt_str("e") {
        c.resource_create = v.starts_with('y');
    }
    c.mount_point_vfs = m.opt_str("m");
    c.verbose = m.opt_present("V");
    let action = if m.opt_present("x") || m.opt_present("X") {
        Action::Shutdown {
            immediate: m.opt_present("X"),
        }
    } else if m.free.is_empty() {
        eprintln!("No command to execute!");
        return Err(97);
    } else {
        Action::Run(m.free)
    };
    Ok(Invocation { config: c, action })
}
