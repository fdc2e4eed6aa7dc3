//! The hints after a usage mistake on the command line: how to give the
//! command (after `--`), and where the list of options is.

use std::path::Path;

/// After C FLoM's `No command to execute!`.
pub const NO_COMMAND_HINT: &str =
    "flom: no command to run was given: write it after the options and --, as in flom -r NAME -- COMMAND [ARG...]; see flom --help.";

/// After C FLoM's `option parsing failed: ...` line; `unknown` is the
/// unknown option, if that was the mistake.
pub fn help_hint(unknown: Option<String>) -> String {
    match unknown {
        Some(option) => format!(
            "flom: {option} is not an option of flom: see flom --help for the options; the options of a command go after --, as in flom -- COMMAND {option}."
        ),
        None => "flom: see flom --help for the options and their values.".to_string(),
    }
}

/// When the words from the first free one on look like a command run
/// without `--` (so flom read the command's options as its own): how to
/// write it.
pub fn command_hint(words: &[String]) -> Option<String> {
    let first = words.first()?;
    if !is_command(first) {
        return None;
    }
    let command = words.join(" ");
    Some(format!(
        "flom: the options after '{first}' were read as flom's own: to run '{command}' under the lock, put -- before the command, as in flom [OPTION...] -- {command}."
    ))
}

/// An executable file named so, directly (with a `/`) or in `PATH`.
fn is_command(word: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if word.is_empty() {
        return false;
    }
    if word.contains('/') {
        return executable(Path::new(word));
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    std::env::split_paths(&path).any(|dir| executable(&dir.join(word)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn hints() {
        let hint = command_hint(&words(&["sh", "-l", "/dev/null"])).unwrap();
        assert!(
            hint.ends_with("flom [OPTION...] -- sh -l /dev/null."),
            "{hint}"
        );
        assert!(command_hint(&words(&["no-such-command-here", "-l"])).is_none());
        assert!(command_hint(&words(&["/nonexistent/x"])).is_none());
        assert!(help_hint(Some("--bogus".into())).starts_with("flom: --bogus is not an option"));
    }
}
