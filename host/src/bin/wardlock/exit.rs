//! Exit codes and the one place errors become messages.

use std::process::ExitCode;

use wardlock::Error;

/// The lock was not acquired in time (busy, timed out, or refused);
/// `--conflict-exit-code` changes it. EX_TEMPFAIL, as in flock(1).
pub const CONFLICT: u8 = 75;
/// Invalid usage: bad arguments, an invalid resource id or timeout.
/// EX_USAGE.
pub const USAGE: u8 = 64;
/// The policy module failed to load or misbehaved. EX_SOFTWARE.
pub const POLICY: u8 = 70;
/// The operating system refused: the lock directory is missing, read-only
/// or not permitted, or the file system does not support locks. EX_OSERR.
pub const OS: u8 = 71;
/// The command was found but could not be run.
pub const CANNOT_RUN: u8 = 126;
/// The command was not found.
pub const NOT_FOUND: u8 = 127;

/// A way for a command to end other than success, with its exit code.
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }

    /// Print the message and give the exit code.
    pub fn report(self) -> ExitCode {
        say_err!("wardlock: {}", self.message);
        ExitCode::from(self.code)
    }

    /// A library error as the command line reports it, with `conflict` the
    /// code for contention.
    pub fn from_error(err: Error, conflict: u8) -> Self {
        let code = match &err {
            Error::Busy(_) | Error::TimedOut(_) | Error::Refused(_) => conflict,
            Error::InvalidResource(_) | Error::InvalidTimeout(_) | Error::PolicyMismatch { .. } => {
                USAGE
            }
            Error::Policy { .. } => POLICY,
            // A policy's bad names and handles arrive as `Error::Policy`:
            // the library blames the module where it sees them.
            Error::Lock { .. } | Error::Dir { .. } => OS,
        };
        let message = match &err {
            Error::Busy(_) | Error::TimedOut(_) | Error::Refused(_) => err.to_string(),
            _ => format!("error: {err}"),
        };
        Failure { code, message }
    }
}
