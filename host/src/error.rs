//! What can go wrong, told apart: contention, invalid input, a failing
//! policy module, and the operating system refusing.

use std::path::PathBuf;

use crate::bindings::exports::wardlock::policy::policy::Contention;
use crate::bindings::wardlock::policy::types::ErrorCode;

/// Why a lock operation did not succeed.
///
/// `Busy`, `TimedOut` and `Refused` are contention: nothing failed, the
/// lock is held by someone else, who is named. Every other variant is a
/// failure that waiting would not mend.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The lock was held and the timeout was zero.
    #[error("{}", .0.message)]
    Busy(Box<Contention>),
    /// The lock stayed held until the timeout ran out.
    #[error("{}", .0.message)]
    TimedOut(Box<Contention>),
    /// The policy refused to wait for this holder.
    #[error("{}", .0.message)]
    Refused(Box<Contention>),
    /// The resource id breaks one of the policy's rules.
    #[error("invalid resource: {0}")]
    InvalidResource(String),
    /// The timeout is not one the policy accepts.
    #[error("invalid timeout: {0}")]
    InvalidTimeout(String),
    /// The operating system refused an operation on a lock file.
    #[error("failed to lock `{lock_file}`: {}", without_name(lock_file, message))]
    Lock {
        /// The lock file concerned.
        lock_file: String,
        /// What kind of failure it was.
        code: ErrorCode,
        /// The operating system's words.
        message: String,
    },
    /// The lock directory cannot be used.
    #[error("failed to use lock directory `{}`: {message}", path.display())]
    Dir {
        /// The directory.
        path: PathBuf,
        /// What kind of failure it was.
        code: ErrorCode,
        /// What went wrong.
        message: String,
    },
    /// The lock directory is pinned to another policy than the one asked
    /// for; two naming schemes on one directory would not exclude each
    /// other.
    #[error(
        "lock directory `{}` is pinned to policy `{pinned}`; refusing policy `{requested}`, \
         since two policies on one directory would not exclude each other",
        dir.display()
    )]
    PolicyMismatch {
        /// The directory.
        dir: PathBuf,
        /// The pinned policy's name and version.
        pinned: String,
        /// The policy asked for, and its module.
        requested: String,
    },
    /// The policy module failed to load or misbehaved: it trapped, ran out
    /// of fuel or memory, or broke the contract.
    #[error("policy `{module}` failed: {reason}")]
    Policy {
        /// The module's file, or `built-in`.
        module: String,
        /// What it did.
        reason: String,
    },
}

impl Error {
    /// The holder and the story, if this is contention rather than failure.
    pub fn contention(&self) -> Option<&Contention> {
        match self {
            Error::Busy(c) | Error::TimedOut(c) | Error::Refused(c) => Some(c),
            _ => None,
        }
    }

    /// Whether the caller's input was at fault.
    pub fn is_invalid_input(&self) -> bool {
        matches!(
            self,
            Error::InvalidResource(_) | Error::InvalidTimeout(_) | Error::PolicyMismatch { .. }
        )
    }

    /// A copy of a policy-loading error, which is kept once per process.
    pub(crate) fn clone_policy(&self) -> Error {
        match self {
            Error::Policy { module, reason } => Error::Policy {
                module: module.clone(),
                reason: reason.clone(),
            },
            other => Error::Policy {
                module: "(unknown)".into(),
                reason: other.to_string(),
            },
        }
    }
}

/// `message` without a leading "`name`: ", which the error names already.
fn without_name<'a>(name: &str, message: &'a str) -> &'a str {
    message
        .strip_prefix(&format!("`{name}`: "))
        .unwrap_or(message)
}
