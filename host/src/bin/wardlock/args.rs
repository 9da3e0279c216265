//! Command-line arguments.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::exit;

const AFTER_HELP: &str = "\
Resources:
  wp:<feature>/<WPxx>   a work package of a feature; also takes the feature shared
  wp:<WPxx>             a work package with no feature
  feature:<slug>        a feature; waits for, and keeps out, all its work packages
  config:<name>         a configuration, independent of the others

Lock directory: --dir, else $WARDLOCK_DIR, else the nearest .kittify/ above the
current directory, else ./.kittify (created).

Exit codes:
  0        success; for `run`, the command's own exit code otherwise
  64       invalid usage: bad arguments, resource id or timeout
  70       the policy module failed to load or misbehaved
  71       the operating system refused (lock directory missing, read-only,
           not permitted, or locks unsupported by the file system)
  75       the lock was not acquired in time (see --conflict-exit-code)
  126/127  the command could not be run / was not found
  128+N    the command was killed by signal N";

/// Named, cross-process locks for processes sharing a project directory.
///
/// The lock policy (names, order, timeouts, stale owners) is a sandboxed
/// WebAssembly component; the default one is built in, `--policy` loads
/// another.
#[derive(Debug, Parser)]
#[command(name = "wardlock", version, after_help = AFTER_HELP)]
pub struct Args {
    /// Say more on standard error (-v: info, -vv: debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// The lock directory.
    #[arg(long, global = true, value_name = "DIR", env = "WARDLOCK_DIR")]
    pub dir: Option<PathBuf>,

    /// A policy component (.wasm) to use instead of the built-in default.
    #[arg(long, global = true, value_name = "FILE.wasm")]
    pub policy: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Acquire a resource, run a command, release the resource.
    ///
    /// Prints nothing while the lock is free. While it waits, prints one
    /// line on standard error: which lock, held by whom, for how long, and
    /// how long wardlock will wait. The command does not inherit the lock;
    /// signals sent to wardlock are passed on to it.
    #[command(after_help = AFTER_HELP)]
    Run {
        /// How long to wait: seconds (`1.5`), or with a unit (`250ms`,
        /// `2m`, `1h`); `0` tries once; `inf` waits for ever. Default: the
        /// policy's (300 s for the default policy).
        #[arg(long, short = 't', value_name = "SECS", allow_hyphen_values = true)]
        timeout: Option<String>,

        /// Take the resource shared: other shared holders may hold it too.
        #[arg(long, short = 's')]
        shared: bool,

        /// The exit code when the lock is not acquired in time.
        #[arg(long, value_name = "N", default_value_t = exit::CONFLICT,
              value_parser = clap::value_parser!(u8).range(1..))]
        conflict_exit_code: u8,

        /// The resource to lock, e.g. `wp:my-feature/WP01`.
        #[arg(value_name = "RESOURCE")]
        resource: String,

        /// The command to run while the lock is held, after `--`.
        #[arg(value_name = "COMMAND", required = true, last = true)]
        command: Vec<OsString>,
    },

    /// Show every lock file in the lock directory: resource, state, holder.
    Status {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },

    /// Show the lock files and modes a resource would take, in order, and
    /// the timeout, without taking anything.
    Plan {
        /// Plan a shared acquisition.
        #[arg(long, short = 's')]
        shared: bool,

        /// The timeout to plan with (as for `run`).
        #[arg(long, short = 't', value_name = "SECS", allow_hyphen_values = true)]
        timeout: Option<String>,

        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,

        /// The resource, e.g. `feature:my-feature`.
        #[arg(value_name = "RESOURCE")]
        resource: String,
    },

    /// Check, export, or pin policy modules.
    #[command(subcommand)]
    Policy(PolicyCommand),
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Check that a module is a policy for this host's contract, without
    /// taking any lock, and say what it is.
    Check {
        /// The policy component.
        #[arg(value_name = "FILE.wasm")]
        file: PathBuf,
    },

    /// Show which policy the lock directory uses, and why.
    Show,

    /// Pin the lock directory to a policy (the file given, `--policy`, or
    /// the built-in default): every process and host using the directory
    /// then uses it, and refuses any other.
    Pin {
        /// The policy component; default: `--policy`, else the built-in
        /// default.
        #[arg(value_name = "FILE.wasm")]
        file: Option<PathBuf>,
    },

    /// Remove the lock directory's pin.
    Unpin,

    /// Write the policy in use (by default the built-in one) as a `.wasm`
    /// file, e.g. for another host; `-` writes to standard output.
    Export {
        /// Where to write it.
        #[arg(value_name = "FILE")]
        out: PathBuf,
    },
}

/// Parse the command line; on failure the exit code to end with (0 after
/// `--help` or `--version`, 64 for a usage error).
pub fn parse() -> Result<Args, ExitCode> {
    Args::try_parse().map_err(|err| {
        let _ = err.print();
        if err.use_stderr() {
            ExitCode::from(exit::USAGE)
        } else {
            ExitCode::SUCCESS
        }
    })
}
