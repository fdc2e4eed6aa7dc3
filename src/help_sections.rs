//! The closing sections of `flom --help`: exit statuses, files and
//! environment, the same facts as the EXIT STATUS, FILES and ENVIRONMENT
//! sections of flom(1).

use crate::config;

/// Appended to the option list of `--help`; `{SYSTEM_CONFIG}` stands for the
/// system configuration file compiled into this binary.
const HELP_EPILOGUE: &str = "
Exit status:
  N    the command's own exit status; 128+N if a signal N killed it
  0    --help, --version, --signal-list, --unique-id; -x/-X request delivered
  96   the resource does not exist and the request cannot wait (-e no -o 0)
  97   no command given, or the command cannot be executed
  98   the resource is busy (-o 0) or the -o timeout expired
  99   any other error: bad option or configuration, no daemon with -d 0,
       connection failure, a request that can never be granted
  --debug-feature exits 0 on success and 1 on failure.

Files:
  {SYSTEM_CONFIG} system configuration, see flom.conf(5)
  ~/.flom              user configuration ($HOME/.flom)
  /tmp/flom-LOGIN      default socket of the daemon of user LOGIN
  /tmp/flom-LOGIN.lock lock file that keeps one daemon per socket
  /run/flom/flom.sock  socket of the systemd units flom.socket, flom.service

Environment:
  FLOM_TRACE_MASK      bit mask of the traced modules (decimal or 0x hex;
                       unset or 0: no trace), see -t and -T
  HOME                 where ~/.flom is looked for (password database if unset)
  LISTEN_PID, LISTEN_FDS  socket activation of --foreground-daemon: the
                       listening sockets passed from descriptor 3 on
  NOTIFY_SOCKET        where --foreground-daemon sends READY=1, STOPPING=1
  FLOM_FENCING_TOKEN   set for the command to its lock's fencing token
                       (--fencing), removed otherwise

See flom(1) and flom.conf(5).
";

/// [`HELP_EPILOGUE`] with the real system configuration path.
pub fn help_epilogue() -> String {
    let path = config::system_config_path().display().to_string();
    HELP_EPILOGUE.replace("{SYSTEM_CONFIG}", &format!("{path:<20}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_compiled_system_config() {
        let text = help_epilogue();
        assert!(!text.contains('{'));
        assert!(text.contains(&config::system_config_path().display().to_string()));
        for section in ["\nExit status:\n", "\nFiles:\n", "\nEnvironment:\n"] {
            assert!(text.contains(section), "{section}");
        }
    }
}
