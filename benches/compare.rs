//! wardlock against its baselines, each scenario measured beside its
//! baseline in the same run and printed as one table.
//!
//! ```sh
//! cargo bench -p wardlock --bench compare                # about a minute
//! cargo bench -p wardlock --bench compare -- --quick     # a smoke run
//! cargo bench -p wardlock --bench compare -- --help      # iteration flags
//! ```
//!
//! Scenarios:
//! 1. uncontended acquire + release in process, against `File::open` +
//!    `try_lock` + close of a plain file, and against py-filelock;
//! 2. handoff latency between two processes (the holder stamps
//!    `CLOCK_MONOTONIC` right before releasing, the waiter right after
//!    acquiring), against blocking `flock` and py-filelock;
//! 3. the whole command, `wardlock run` against `flock(1)`: wall time and
//!    peak RSS;
//! 4. eight processes taking one work package in turn, each incrementing a
//!    counter in the critical section, against raw `flock` and
//!    py-filelock; the final counter is checked;
//! 5. acquire + release in directories of 1, 1,000 and 100,000 other lock
//!    files, and `status` over 10,000 lock files;
//! 6. the policy boundary: a pooled guest call, a fresh instance, and the
//!    first lease on a new lock directory against later ones.
//!
//! Figures are only compared within one run: the machine is shared and
//! noisy, so nothing here asserts on time. Worker processes are this
//! binary run again with `worker ROLE ...`; `worker lease-loop DIR N`
//! runs N uncontended acquire + release cycles alone, for a profiler.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitCode, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use wardlock::{LockDir, Mode, Policy, Timeout};

/// The `wardlock` command built with this bench.
const WARDLOCK: &str = env!("CARGO_BIN_EXE_wardlock");

/// The resource every scenario takes: a work package with a feature.
const RESOURCE: &str = "wp:f/WP01";

/// The lock file the waiter of `RESOURCE` blocks on.
const WP_LOCK_FILE: &str = ".lock-WP-f-WP01";

/// How many processes contend in scenario 4.
const CONTENDERS: usize = 8;

/// Operations timed together in one sample, so the clock's own cost
/// stays out of microsecond figures.
const BATCH: usize = 16;

/// How long any worker waits for a lock before giving up, so a broken
/// run ends instead of hanging.
const WORKER_PATIENCE: Duration = Duration::from_secs(60);

/// Iteration counts, each settable by a flag.
#[derive(Clone, Debug)]
struct Counts {
    uncontended: usize,
    uncontended_py: usize,
    handoff: usize,
    handoff_py: usize,
    cli: usize,
    contend: usize,
    contend_py: usize,
    scale_files: usize,
    scale_ops: usize,
    status_files: usize,
    status_held: usize,
    status_reps: usize,
    calls: usize,
    fresh_dirs: usize,
}

impl Counts {
    fn full() -> Counts {
        Counts {
            uncontended: 20_000,
            uncontended_py: 10_000,
            handoff: 2_000,
            handoff_py: 100,
            cli: 200,
            contend: 1_000,
            contend_py: 500,
            scale_files: 100_000,
            scale_ops: 4_000,
            status_files: 10_000,
            status_held: 200,
            status_reps: 5,
            calls: 50_000,
            fresh_dirs: 40,
        }
    }

    fn quick() -> Counts {
        Counts {
            uncontended: 2_000,
            uncontended_py: 1_000,
            handoff: 200,
            handoff_py: 12,
            cli: 30,
            contend: 200,
            contend_py: 100,
            scale_files: 10_000,
            scale_ops: 500,
            status_files: 10_000,
            status_held: 50,
            status_reps: 1,
            calls: 5_000,
            fresh_dirs: 10,
        }
    }

    /// The flags, their meaning, and where each count lives.
    fn flags(&mut self) -> [(&'static str, &'static str, &mut usize); 14] {
        [
            (
                "--uncontended",
                "1: wardlock acquire+release cycles (plain file: 10x)",
                &mut self.uncontended,
            ),
            (
                "--uncontended-py",
                "1: py-filelock acquire+release cycles",
                &mut self.uncontended_py,
            ),
            (
                "--handoff",
                "2: handoff rounds, wardlock and kernel flock each",
                &mut self.handoff,
            ),
            (
                "--handoff-py",
                "2: handoff rounds to a py-filelock waiter",
                &mut self.handoff_py,
            ),
            ("--cli", "3: runs of each command", &mut self.cli),
            (
                "--contend",
                "4: acquisitions per process, wardlock and flock",
                &mut self.contend,
            ),
            (
                "--contend-py",
                "4: acquisitions per process, py-filelock",
                &mut self.contend_py,
            ),
            (
                "--scale-files",
                "5: other lock files in the largest directory",
                &mut self.scale_files,
            ),
            (
                "--scale-ops",
                "5: acquire+release cycles per directory size",
                &mut self.scale_ops,
            ),
            (
                "--status-files",
                "5: lock files listed by status",
                &mut self.status_files,
            ),
            (
                "--status-held",
                "5: of those, held by another holder",
                &mut self.status_held,
            ),
            (
                "--status-reps",
                "5: status calls timed (the held case: once)",
                &mut self.status_reps,
            ),
            ("--calls", "6: pooled guest calls", &mut self.calls),
            (
                "--fresh-dirs",
                "6: new lock directories opened",
                &mut self.fresh_dirs,
            ),
        ]
    }
}

/// What to run.
struct Settings {
    counts: Counts,
    only: Vec<u32>,
    quick: bool,
}

fn usage(counts: &mut Counts) -> String {
    let mut text = String::from(
        "usage: cargo bench -p wardlock --bench compare -- [--quick] [--only 1,2,...] [COUNT FLAGS]\n\n\
         count flags (default run; --quick lowers them all, later flags override):\n",
    );
    for (flag, what, value) in counts.flags() {
        text.push_str(&format!("  {flag:<17} N  {what} (default {value})\n"));
    }
    text
}

fn parse_args(args: &[String]) -> Result<Settings, String> {
    let quick = args.iter().any(|a| a == "--quick");
    let mut counts = if quick {
        Counts::quick()
    } else {
        Counts::full()
    };
    let mut only = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            // `cargo bench` passes `--bench` to every harness-less bench.
            "--bench" | "--quick" => {}
            "--help" | "-h" => return Err(usage(&mut Counts::full())),
            "--only" => {
                let list = it.next().ok_or("`--only` needs a list such as `1,4`")?;
                for part in list.split(',') {
                    let n: u32 = part
                        .trim()
                        .parse()
                        .map_err(|_| format!("`--only`: `{part}` is not a scenario number"))?;
                    only.push(n);
                }
            }
            flag => {
                let mut known = false;
                for (name, _, value) in counts.flags() {
                    if name == flag {
                        let text = it.next().ok_or(format!("`{flag}` needs a number"))?;
                        *value = text
                            .replace('_', "")
                            .parse()
                            .map_err(|_| format!("`{flag}`: `{text}` is not a count"))?;
                        known = true;
                    }
                }
                if !known {
                    return Err(format!(
                        "unknown argument `{flag}`\n\n{}",
                        usage(&mut counts)
                    ));
                }
            }
        }
    }
    Ok(Settings {
        counts,
        only,
        quick,
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("worker") {
        worker(&args[1..]);
        return ExitCode::SUCCESS;
    }
    let settings = match parse_args(&args) {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    run_all(&settings);
    ExitCode::SUCCESS
}

// ---------------------------------------------------------------------------
// The table.

/// One line of the result table.
struct Row {
    scenario: String,
    ours: String,
    base: String,
    /// wardlock's cost over the baseline's (above 1: wardlock is slower).
    ratio: Option<f64>,
    goal: String,
    met: Option<bool>,
}

impl Row {
    fn new(scenario: impl Into<String>, ours: impl Into<String>, base: impl Into<String>) -> Row {
        Row {
            scenario: scenario.into(),
            ours: ours.into(),
            base: base.into(),
            ratio: None,
            goal: "-".into(),
            met: None,
        }
    }

    fn ratio(mut self, ratio: f64) -> Row {
        self.ratio = Some(ratio);
        self
    }

    fn goal(mut self, goal: impl Into<String>, met: bool) -> Row {
        self.goal = goal.into();
        self.met = Some(met);
        self
    }

    fn info(mut self, goal: impl Into<String>) -> Row {
        self.goal = goal.into();
        self
    }
}

/// Everything a run prints after the table.
#[derive(Default)]
struct Report {
    rows: Vec<Row>,
    notes: Vec<String>,
}

impl Report {
    fn row(&mut self, row: Row) {
        self.rows.push(row);
    }

    fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    fn print(&mut self) {
        // By scenario number, whatever order they ran in.
        self.rows.sort_by_key(|r| {
            r.scenario
                .split_whitespace()
                .next()
                .and_then(|n| n.parse::<u32>().ok())
        });
        let header = ["scenario", "wardlock", "baseline", "ratio", "goal", "met?"];
        let cells: Vec<[String; 6]> = self
            .rows
            .iter()
            .map(|r| {
                [
                    r.scenario.clone(),
                    r.ours.clone(),
                    r.base.clone(),
                    r.ratio.map_or("-".into(), |x| format!("{x:.2}x")),
                    r.goal.clone(),
                    match r.met {
                        Some(true) => "yes".into(),
                        Some(false) => "NO".into(),
                        None => "-".into(),
                    },
                ]
            })
            .collect();
        let mut widths = header.map(|h| h.chars().count());
        for row in &cells {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |row: &[String]| {
            let mut out = String::new();
            for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
                let pad = w - cell.chars().count();
                // Text left, figures right.
                if i == 0 || i == 4 {
                    out.push_str(&format!("{cell}{} | ", " ".repeat(pad)));
                } else {
                    out.push_str(&format!("{}{cell} | ", " ".repeat(pad)));
                }
            }
            println!("{}", out.trim_end_matches([' ', '|']));
        };
        line(&header.map(String::from));
        println!(
            "{}",
            widths
                .iter()
                .map(|w| "-".repeat(*w))
                .collect::<Vec<_>>()
                .join("-|-")
        );
        for row in &cells {
            line(row);
        }
        println!();
        println!("ratio = wardlock's cost / the baseline's (above 1: wardlock slower).");
        for note in &self.notes {
            println!("- {note}");
        }
    }
}

// ---------------------------------------------------------------------------
// Figures.

/// The median of `v` (sorts it).
fn median(v: &mut [f64]) -> f64 {
    percentile(v, 50.0)
}

/// The `p`th percentile of `v` by nearest rank (sorts it).
fn percentile(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

/// A duration in nanoseconds, in a readable unit.
fn dur(ns: f64) -> String {
    if ns.is_nan() {
        "n/a".into()
    } else if ns < 10_000.0 {
        format!("{:.2} us", ns / 1e3)
    } else if ns < 1e6 {
        format!("{:.1} us", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

/// Time `batches` samples of `BATCH` calls of `f`; each sample is the
/// mean of its batch, in nanoseconds.
fn sample(batches: usize, mut f: impl FnMut()) -> Vec<f64> {
    (0..batches)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..BATCH {
                f();
            }
            t.elapsed().as_nanos() as f64 / BATCH as f64
        })
        .collect()
}

/// CLOCK_MONOTONIC in nanoseconds: the one clock two processes share.
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out pointer; CLOCK_MONOTONIC always exists.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_MONOTONIC) failed");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// A small deterministic generator for hold times.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

// ---------------------------------------------------------------------------
// Helpers shared by scenarios.

fn temp_dir(what: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("wardlock-bench-{what}-"))
        .tempdir()
        .expect("failed to create a temporary directory")
}

fn open_dir(path: &Path) -> LockDir {
    let policy = Policy::embedded().expect("failed to load the embedded policy");
    LockDir::open(path, policy).expect("failed to open the lock directory")
}

fn patience() -> Timeout {
    Timeout::After(WORKER_PATIENCE)
}

/// One uncontended wardlock cycle: acquire and release, reporting failure.
fn wardlock_cycle(dir: &LockDir) {
    dir.acquire(RESOURCE, Mode::Exclusive, &Timeout::Default)
        .expect("failed to acquire")
        .release()
        .expect("failed to release");
}

/// The plain baseline: open a file, try its lock, close it.
fn plain_cycle(path: &Path) {
    let file = File::open(path).expect("failed to open the plain lock file");
    file.try_lock().expect("failed to lock the plain file");
    drop(file);
}

/// Open `path` for a blocking `flock`, creating it.
fn open_plain(path: &Path) -> File {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .expect("failed to open the plain lock file")
}

/// A worker process: this binary with `worker ROLE ARGS...`.
fn worker_command(role: &str, args: &[&Path]) -> Command {
    let exe = std::env::current_exe().expect("failed to find this bench's executable");
    let mut cmd = Command::new(exe);
    cmd.arg("worker").arg(role).args(args);
    cmd.env_remove("RUST_LOG");
    cmd
}

/// A child talked to by lines on its standard input and output.
struct Peer {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

impl Peer {
    fn spawn(mut cmd: Command) -> Peer {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("failed to start worker {cmd:?}: {e}"));
        let input = child.stdin.take().expect("worker stdin");
        let output = BufReader::new(child.stdout.take().expect("worker stdout"));
        Peer {
            child,
            input,
            output,
        }
    }

    fn send(&mut self, line: &str) {
        writeln!(self.input, "{line}")
            .and_then(|()| self.input.flush())
            .expect("failed to write to a worker");
    }

    fn recv(&mut self) -> String {
        let mut line = String::new();
        let n = self
            .output
            .read_line(&mut line)
            .expect("failed to read from a worker");
        assert!(n > 0, "a worker exited early");
        line.trim().to_owned()
    }

    /// Wait for the worker to exit, killing it after `patience`.
    fn finish(mut self, patience: Duration) -> bool {
        drop(self.input);
        let deadline = Instant::now() + patience;
        loop {
            match self.child.try_wait().expect("failed to wait for a worker") {
                Some(status) => return status.success(),
                None if Instant::now() > deadline => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return false;
                }
                None => std::thread::sleep(Duration::from_micros(200)),
            }
        }
    }
}

/// Whether Python's `filelock` is importable, and its version.
fn py_filelock() -> Option<String> {
    let out = Command::new("python3")
        .args(["-c", "import filelock; print(filelock.__version__)"])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn python(script: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new("python3");
    cmd.arg("-c").arg(script).args(args);
    cmd
}

/// Whether `/proc/locks` shows a process blocked on the file `ino`.
fn waiter_blocked(ino: u64) -> bool {
    let Ok(table) = fs::read_to_string("/proc/locks") else {
        return false;
    };
    let suffix = format!(":{ino}");
    table.lines().any(|line| {
        // "7: -> FLOCK  ADVISORY  WRITE 1235 fd:01:5678 0 EOF"
        let words: Vec<&str> = line.split_whitespace().collect();
        words.get(1) == Some(&"->") && words.get(6).is_some_and(|f| f.ends_with(&suffix))
    })
}

// ---------------------------------------------------------------------------
// Workers.

fn worker(args: &[String]) {
    let role = args.first().map(String::as_str).unwrap_or("");
    let path = |i: usize| PathBuf::from(args.get(i).expect("worker argument missing"));
    match role {
        "handoff-wardlock" | "handoff-wardlock-shared" => {
            let dir = open_dir(&path(1));
            let mode = if role.ends_with("shared") {
                Mode::Shared
            } else {
                Mode::Exclusive
            };
            handoff_waiter(|| {
                let guard = dir
                    .acquire(RESOURCE, mode, &patience())
                    .expect("waiter failed to acquire");
                let at = monotonic_ns();
                guard.release().expect("waiter failed to release");
                at
            });
        }
        "handoff-flock" => {
            let file = path(1);
            handoff_waiter(|| {
                let f = open_plain(&file);
                f.lock().expect("waiter failed to flock");
                let at = monotonic_ns();
                drop(f);
                at
            });
        }
        "contend-wardlock" => {
            let dir = open_dir(&path(1));
            let counter = path(2);
            // Instantiate the policy before the clock starts.
            dir.plan(RESOURCE, Mode::Exclusive, &Timeout::Default)
                .expect("failed to plan");
            contend_worker(|| {
                let guard = dir
                    .acquire(RESOURCE, Mode::Exclusive, &patience())
                    .expect("contender failed to acquire");
                increment(&counter);
                guard.release().expect("contender failed to release");
            });
        }
        "contend-flock" => {
            let (file, counter) = (path(1), path(2));
            contend_worker(|| {
                let f = open_plain(&file);
                f.lock().expect("contender failed to flock");
                increment(&counter);
                drop(f);
            });
        }
        // For profilers: `compare worker lease-loop DIR N`.
        "lease-loop" => {
            let dir = open_dir(&path(1));
            let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10_000);
            for _ in 0..n {
                wardlock_cycle(&dir);
            }
        }
        other => panic!("unknown worker role `{other}`"),
    }
}

/// The waiting side of a handoff: on each `go`, say `w`, block for the
/// lock, and answer with the stamp taken right after it was granted.
fn handoff_waiter(mut take: impl FnMut() -> u64) {
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready").and_then(|()| out.flush()).unwrap();
    for line in stdin.lock().lines() {
        if line.unwrap().trim() != "go" {
            break;
        }
        writeln!(out, "w").and_then(|()| out.flush()).unwrap();
        let at = take();
        writeln!(out, "t {at}").and_then(|()| out.flush()).unwrap();
    }
}

/// A contender: say `ready`, wait for `go`, then take the lock N times.
fn contend_worker(mut once: impl FnMut()) {
    let n: usize = std::env::args()
        .nth(5)
        .and_then(|s| s.parse().ok())
        .expect("contender count missing");
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready").and_then(|()| out.flush()).unwrap();
    let mut go = String::new();
    std::io::stdin().read_line(&mut go).unwrap();
    for _ in 0..n {
        once();
    }
}

/// Read, add one, write back in place: the critical section of scenario 4.
///
/// The counter is a fixed-width number overwritten where it stands: truncating
/// and rewriting a file makes ext4 start writeback on close (`auto_da_alloc`),
/// about 2 ms a time here, which would measure the disk instead of the lock.
fn increment(counter: &Path) {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(counter)
        .expect("failed to open the counter");
    let mut text = String::new();
    file.read_to_string(&mut text)
        .expect("failed to read the counter");
    let value: u64 = text.trim().parse().unwrap_or(0);
    file.seek(SeekFrom::Start(0))
        .and_then(|_| file.write_all(format!("{:>20}", value + 1).as_bytes()))
        .expect("failed to write the counter");
}

// ---------------------------------------------------------------------------
// Python peers.

const PY_UNCONTENDED: &str = r#"
import sys, time, filelock
path, n, b = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
lock = filelock.FileLock(path)
for _ in range(100):
    lock.acquire(); lock.release()
s = []
for _ in range(max(1, n // b)):
    t = time.perf_counter_ns()
    for _ in range(b):
        lock.acquire(); lock.release()
    s.append((time.perf_counter_ns() - t) / b)
s.sort()
print(s[len(s) // 2])
"#;

const PY_WAITER: &str = r#"
import sys, time, filelock
lock = filelock.FileLock(sys.argv[1])
print("ready", flush=True)
for line in sys.stdin:
    if line.strip() != "go":
        break
    print("w", flush=True)
    lock.acquire(timeout=60)
    t = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    lock.release()
    print("t", t, flush=True)
"#;

const PY_CONTENDER: &str = r#"
import sys, filelock
lock = filelock.FileLock(sys.argv[1])
counter, n = sys.argv[2], int(sys.argv[3])
print("ready", flush=True)
sys.stdin.readline()
for _ in range(n):
    with lock.acquire(timeout=60):
        with open(counter, "r+") as f:
            v = int(f.read().strip() or 0)
            f.seek(0)
            f.write(str(v + 1).rjust(20))
"#;

// ---------------------------------------------------------------------------
// The scenarios.

/// One scenario: counts, whether py-filelock is there, where rows go.
type Scenario = fn(&Counts, bool, &mut Report);

fn run_all(settings: &Settings) {
    let c = &settings.counts;
    let wants = |n: u32| settings.only.is_empty() || settings.only.contains(&n);
    let py = py_filelock();
    let started = Instant::now();
    let mut report = Report::default();
    machine(settings, py.as_deref());
    match &py {
        Some(version) => report.note(format!("py-filelock {version} (python3)")),
        None => report.note(
            "py-filelock rows skipped: `python3 -c 'import filelock'` failed \
             (`python3 -m pip install filelock`)",
        ),
    }
    let steps: [(u32, &str, Scenario); 6] = [
        (1, "uncontended acquire+release", uncontended),
        (2, "handoff latency", handoff),
        (3, "whole command", cli),
        (4, "contention", contention),
        (6, "policy boundary", boundary),
        // Last: its clean-up deletes many files, and ext4 then allocates
        // inodes more slowly for about 30 s.
        (5, "scale", scale),
    ];
    for (n, what, step) in steps {
        if wants(n) {
            let t = Instant::now();
            eprintln!("[{n}] {what} ...");
            step(c, py.is_some(), &mut report);
            eprintln!("[{n}] done in {:.1} s", t.elapsed().as_secs_f64());
        }
    }
    report.note(format!(
        "whole run: {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    println!();
    report.print();
}

/// Print what the figures were measured on.
fn machine(settings: &Settings, py: Option<&str>) {
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "wardlock compare ({})",
        if settings.quick { "quick" } else { "full" }
    );
    println!("date:    {}", utc_now());
    println!("machine: nproc {cores}, {cpu}, Linux {kernel}");
    println!(
        "load:    {} (1/5/15 min at start)",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "locks:   {} held on this machine at start (/proc/locks)",
        proc_locks_lines()
    );
    println!(
        "python:  {}",
        py.map_or("py-filelock not importable".into(), |v| format!(
            "py-filelock {v}"
        ))
    );
    println!("counts:  {:?}", settings.counts);
    println!();
}

/// The time now in UTC, as `YYYY-MM-DD HH:MM:SS UTC`.
fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Days since 1970-01-01 to a civil date (H. Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// 1. Uncontended acquire + release in process.
fn uncontended(c: &Counts, py: bool, report: &mut Report) {
    let temp = temp_dir("uncontended");
    let dir = open_dir(temp.path());
    let plain = temp.path().join("plain.lock");
    File::create(&plain).expect("failed to create the plain lock file");

    // Warm up both, then alternate batches so drift hits both alike.
    for _ in 0..200 {
        wardlock_cycle(&dir);
        plain_cycle(&plain);
    }
    let (mut ours, mut base, mut shared) = (Vec::new(), Vec::new(), Vec::new());
    let shared_cycle = || {
        dir.acquire(RESOURCE, Mode::Shared, &Timeout::Default)
            .expect("failed to acquire")
            .release()
            .expect("failed to release");
    };
    for i in 0..(c.uncontended / BATCH).max(1) {
        ours.extend(sample(1, || wardlock_cycle(&dir)));
        base.extend(sample(10, || plain_cycle(&plain)));
        if i % 4 == 0 {
            shared.extend(sample(1, shared_cycle));
        }
    }
    let (ours, base) = (median(&mut ours), median(&mut base));
    let shared = median(&mut shared);
    report.row(
        Row::new(
            "1 uncontended acquire+release `wp:f/WP01` (median)",
            dur(ours),
            format!("{} open+try_lock+close", dur(base)),
        )
        .ratio(ours / base)
        .goal("<= 5x", ours / base <= 5.0),
    );
    report.row(
        Row::new(
            "1 same, taken shared: no owner record (median)",
            dur(shared),
            format!("{} open+try_lock+close", dur(base)),
        )
        .ratio(shared / base)
        .info("- (shows the record's share)"),
    );

    if py {
        let out = python(
            PY_UNCONTENDED,
            &[
                &temp.path().join("py.lock").display().to_string(),
                &c.uncontended_py.to_string(),
                &BATCH.to_string(),
            ],
        )
        .output()
        .expect("failed to run python3");
        let text = String::from_utf8_lossy(&out.stdout);
        match text.trim().parse::<f64>() {
            Ok(py_ns) if out.status.success() => report.row(
                Row::new(
                    "1 same vs py-filelock acquire/release (median)",
                    dur(ours),
                    format!("{} py-filelock", dur(py_ns)),
                )
                .ratio(ours / py_ns)
                .goal("<= 1x", ours <= py_ns),
            ),
            _ => report.note(format!(
                "1: the py-filelock loop failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )),
        }
    }
}

/// Which waiter a handoff measures.
#[derive(Clone, Copy, PartialEq)]
enum Waiter {
    Wardlock,
    /// wardlock taking the resource shared: no owner record is written.
    WardlockShared,
    Flock,
    PyFilelock,
}

/// Latencies of `rounds` handoffs to one waiting process, in nanoseconds,
/// and how many rounds never showed the waiter blocked in the kernel.
fn handoff_rounds(kind: Waiter, rounds: usize) -> (Vec<f64>, usize) {
    let temp = temp_dir("handoff");
    let plain = temp.path().join("plain.lock");
    let ours = matches!(kind, Waiter::Wardlock | Waiter::WardlockShared);
    let dir = ours.then(|| open_dir(temp.path()));
    let mut peer = Peer::spawn(match kind {
        Waiter::Wardlock => worker_command("handoff-wardlock", &[temp.path()]),
        Waiter::WardlockShared => worker_command("handoff-wardlock-shared", &[temp.path()]),
        Waiter::Flock => worker_command("handoff-flock", &[&plain]),
        Waiter::PyFilelock => python(PY_WAITER, &[&plain.display().to_string()]),
    });
    assert_eq!(peer.recv(), "ready");

    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut latencies = Vec::with_capacity(rounds);
    let mut unseen = 0;
    let mut ino = None;
    for _ in 0..rounds {
        // Take the lock, then let the waiter ask for it.
        let held: Box<dyn FnOnce()> = match &dir {
            Some(dir) => {
                let guard = dir
                    .acquire(RESOURCE, Mode::Exclusive, &patience())
                    .expect("holder failed to acquire");
                Box::new(move || guard.release().expect("holder failed to release"))
            }
            None => {
                let f = open_plain(&plain);
                f.lock().expect("holder failed to flock");
                Box::new(move || drop(f))
            }
        };
        let ino = *ino.get_or_insert_with(|| {
            let name = if dir.is_some() {
                temp.path().join(WP_LOCK_FILE)
            } else {
                plain.clone()
            };
            fs::metadata(name).expect("lock file missing").ino()
        });
        peer.send("go");
        assert_eq!(peer.recv(), "w");

        // Release once the waiter is queued in the kernel; a polling
        // waiter is released after a random hold, as it would be in use.
        if kind == Waiter::PyFilelock {
            std::thread::sleep(Duration::from_millis(1 + rng.below(50)));
        } else {
            let deadline = Instant::now() + Duration::from_millis(200);
            while !waiter_blocked(ino) {
                if Instant::now() > deadline {
                    unseen += 1;
                    break;
                }
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        let released_at = monotonic_ns();
        held();

        let answer = peer.recv();
        let acquired_at: u64 = answer
            .strip_prefix("t ")
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or_else(|| panic!("bad answer from the waiter: `{answer}`"));
        latencies.push(acquired_at as f64 - released_at as f64);
    }
    peer.send("q");
    assert!(peer.finish(Duration::from_secs(10)), "the waiter failed");
    (latencies, unseen)
}

/// 2. Handoff latency between two processes.
fn handoff(c: &Counts, py: bool, report: &mut Report) {
    // Alternate halves so drift in the machine's load hits both alike.
    let (mut ours, mut base, mut shared) = (Vec::new(), Vec::new(), Vec::new());
    let mut unseen = 0;
    for _ in 0..2 {
        let (l, u) = handoff_rounds(Waiter::Wardlock, c.handoff.div_ceil(2));
        ours.extend(l);
        unseen += u;
        let (l, u) = handoff_rounds(Waiter::WardlockShared, c.handoff.div_ceil(4));
        shared.extend(l);
        unseen += u;
        let (l, u) = handoff_rounds(Waiter::Flock, c.handoff.div_ceil(2));
        base.extend(l);
        unseen += u;
    }
    let (p50, p99) = (median(&mut ours), percentile(&mut ours, 99.0));
    let (b50, b99) = (median(&mut base), percentile(&mut base, 99.0));
    report.row(
        Row::new(
            format!(
                "2 handoff to a waiting process, p50 ({} rounds)",
                ours.len()
            ),
            dur(p50),
            format!("{} blocking flock", dur(b50)),
        )
        .ratio(p50 / b50)
        .goal("<= 2x kernel", p50 <= 2.0 * b50),
    );
    report.row(
        Row::new(
            "2 same, p99",
            dur(p99),
            format!("{} blocking flock", dur(b99)),
        )
        .ratio(p99 / b99)
        .goal("< 1 ms", p99 < 1e6),
    );
    let (s50, s99) = (median(&mut shared), percentile(&mut shared, 99.0));
    report.row(
        Row::new(
            format!(
                "2 same, waiter takes it shared: no owner record, p50 ({} rounds)",
                shared.len()
            ),
            dur(s50),
            format!("{} blocking flock", dur(b50)),
        )
        .ratio(s50 / b50)
        .info(format!("- (p99 {})", dur(s99))),
    );
    report.note(format!(
        "2: latency = waiter's CLOCK_MONOTONIC right after acquiring - holder's right before \
         releasing; the holder releases once /proc/locks shows the waiter blocked \
         ({unseen} rounds never showed it within 200 ms; released anyway). \
         max: wardlock {}, flock {}",
        dur(*ours.last().unwrap_or(&f64::NAN)),
        dur(*base.last().unwrap_or(&f64::NAN)),
    ));

    if py {
        let (mut lat, _) = handoff_rounds(Waiter::PyFilelock, c.handoff_py);
        let (y50, y99) = (median(&mut lat), percentile(&mut lat, 99.0));
        report.row(
            Row::new(
                format!("2 same vs py-filelock waiter, p50 ({} rounds)", lat.len()),
                dur(p50),
                format!("{} py-filelock", dur(y50)),
            )
            .ratio(p50 / y50)
            .goal("<= 1x", p50 <= y50),
        );
        report.row(
            Row::new(
                "2 same vs py-filelock waiter, p99",
                dur(p99),
                format!("{} py-filelock", dur(y99)),
            )
            .ratio(p99 / y99)
            .goal("<= 1x", p99 <= y99),
        );
        report.note(
            "2: the py-filelock waiter polls every 50 ms; its holder (kernel flock) releases \
             after a random 1-50 ms hold, so the figure is the poll's phase, not a kernel wake-up",
        );
    }
}

/// Wall time (ns), peak RSS (KiB) and success of one child process,
/// reaped with `wait4` for its own resource usage.
#[expect(
    clippy::zombie_processes,
    reason = "the child is reaped with `wait4`, for its resource usage"
)]
fn measure_child(cmd: &mut Command) -> (f64, i64, bool) {
    let started = Instant::now();
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("failed to start {cmd:?}: {e}"));
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: `rusage` is plain old data that `wait4` fills in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our unreaped child; both out pointers are valid.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = started.elapsed().as_nanos() as f64;
    assert_eq!(rc, pid, "wait4 failed: {}", std::io::Error::last_os_error());
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    (wall, usage.ru_maxrss, ok)
}

/// 3. The whole command.
fn cli(c: &Counts, _py: bool, report: &mut Report) {
    let temp = temp_dir("cli");
    let dir = temp.path().join("locks");
    let plain = temp.path().join("plain.lock");
    let have_flock = Command::new("flock")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have_flock {
        report.note("3: skipped: `flock(1)` (util-linux) is not installed");
        return;
    }
    let mut ours_cmd = Command::new(WARDLOCK);
    ours_cmd
        .arg("run")
        .arg("--dir")
        .arg(&dir)
        .args(["config:x", "--", "true"])
        .env_remove("RUST_LOG")
        .env_remove("WARDLOCK_DIR");
    let mut base_cmd = Command::new("flock");
    base_cmd.arg(&plain).arg("true");

    for _ in 0..5 {
        measure_child(&mut ours_cmd);
        measure_child(&mut base_cmd);
    }
    let (mut ours, mut base) = (Vec::new(), Vec::new());
    let (mut ours_rss, mut base_rss) = (Vec::new(), Vec::new());
    let mut failed = 0;
    for _ in 0..c.cli {
        let (wall, rss, ok) = measure_child(&mut ours_cmd);
        ours.push(wall);
        ours_rss.push(rss as f64);
        failed += usize::from(!ok);
        let (wall, rss, ok) = measure_child(&mut base_cmd);
        base.push(wall);
        base_rss.push(rss as f64);
        failed += usize::from(!ok);
    }
    let (o, b) = (median(&mut ours), median(&mut base));
    let (o90, b90) = (percentile(&mut ours, 90.0), percentile(&mut base, 90.0));
    report.row(
        Row::new(
            format!(
                "3 `wardlock run --dir D config:x -- true`, wall median ({} runs)",
                c.cli
            ),
            dur(o),
            format!("{} `flock FILE true`", dur(b)),
        )
        .ratio(o / b)
        .goal("<= 1.5x", o / b <= 1.5),
    );
    let (orss, brss) = (
        percentile(&mut ours_rss, 100.0),
        percentile(&mut base_rss, 100.0),
    );
    report.row(
        Row::new(
            "3 same, peak RSS (max over runs)",
            format!("{:.1} MiB", orss / 1024.0),
            format!("{:.1} MiB flock(1)", brss / 1024.0),
        )
        .ratio(orss / brss)
        .info("- (reported)"),
    );
    report.note(format!(
        "3: wall p90: wardlock {}, flock {}; {failed} runs exited non-zero; RSS from wait4 \
         (the process and the children it reaped)",
        dur(o90),
        dur(b90)
    ));
}

/// Which contenders scenario 4 runs.
#[derive(Clone, Copy)]
enum Contender {
    Wardlock,
    Flock,
    PyFilelock,
}

/// Run `CONTENDERS` processes of `n` acquisitions each; returns the
/// seconds from `go` to the last exit, the final counter, and whether
/// every contender succeeded.
fn contend_round(kind: Contender, n: usize) -> (f64, u64, bool) {
    let temp = temp_dir("contend");
    let locks = temp.path().join("locks");
    fs::create_dir(&locks).expect("failed to create the lock directory");
    let counter = temp.path().join("counter");
    let plain = temp.path().join("plain.lock");
    fs::write(&counter, format!("{:>20}", 0)).expect("failed to create the counter");
    let count = n.to_string();
    let mut peers: Vec<Peer> = (0..CONTENDERS)
        .map(|_| {
            Peer::spawn(match kind {
                Contender::Wardlock => {
                    let mut cmd = worker_command("contend-wardlock", &[&locks, &counter]);
                    cmd.arg(&count);
                    cmd
                }
                Contender::Flock => {
                    let mut cmd = worker_command("contend-flock", &[&plain, &counter]);
                    cmd.arg(&count);
                    cmd
                }
                Contender::PyFilelock => python(
                    PY_CONTENDER,
                    &[
                        &plain.display().to_string(),
                        &counter.display().to_string(),
                        &count,
                    ],
                ),
            })
        })
        .collect();
    for peer in &mut peers {
        assert_eq!(peer.recv(), "ready");
    }
    let started = Instant::now();
    for peer in &mut peers {
        peer.send("go");
    }
    let mut ok = true;
    for peer in peers {
        ok &= peer.finish(Duration::from_secs(300));
    }
    let seconds = started.elapsed().as_secs_f64();
    let value = fs::read_to_string(&counter)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    (seconds, value, ok)
}

/// 4. Contention: eight processes, one work package, a counter.
fn contention(c: &Counts, py: bool, report: &mut Report) {
    let total = (CONTENDERS * c.contend) as u64;
    let (ours_s, ours_n, ours_ok) = contend_round(Contender::Wardlock, c.contend);
    let (base_s, base_n, base_ok) = contend_round(Contender::Flock, c.contend);
    let (ours_rate, base_rate) = (total as f64 / ours_s, total as f64 / base_s);
    let correct = ours_n == total && base_n == total && ours_ok && base_ok;
    report.row(
        Row::new(
            format!(
                "4 {CONTENDERS} procs x {} acquisitions, counter in the lock",
                c.contend
            ),
            format!("{ours_rate:.0} acq/s"),
            format!("{base_rate:.0} acq/s raw flock"),
        )
        .ratio(base_rate / ours_rate)
        .goal(
            "<= 1.5x, no lost increment",
            base_rate / ours_rate <= 1.5 && correct,
        ),
    );
    report.note(format!(
        "4: final counter: wardlock {ours_n}, flock {base_n}, expected {total} ({}); \
         raw flock opens, locks and closes the file for each acquisition",
        if correct {
            "no lost increments"
        } else {
            "LOST INCREMENTS OR A FAILED CONTENDER"
        }
    ));

    if py {
        let total_py = (CONTENDERS * c.contend_py) as u64;
        let (py_s, py_n, py_ok) = contend_round(Contender::PyFilelock, c.contend_py);
        let py_rate = total_py as f64 / py_s;
        report.row(
            Row::new(
                format!("4 same vs py-filelock ({} each)", c.contend_py),
                format!("{ours_rate:.0} acq/s"),
                format!("{py_rate:.0} acq/s py-filelock"),
            )
            .ratio(py_rate / ours_rate)
            .goal("<= 1x", py_rate <= ours_rate),
        );
        report.note(format!(
            "4: py-filelock final counter {py_n}, expected {total_py}{}",
            if py_n == total_py && py_ok {
                ""
            } else {
                " (LOST INCREMENTS OR A FAILED CONTENDER)"
            }
        ));
    }
}

/// 5. Scale: acquire + release beside many lock files, and `status`.
fn scale(c: &Counts, _py: bool, report: &mut Report) {
    // One directory per size, all filled first, then measured in
    // alternating rounds so that drift in the machine's load, and ext4's
    // memory of recently deleted inodes, hit every size alike. Nothing is
    // deleted until the end.
    let mut sizes = vec![1, 1_000, c.scale_files];
    sizes.sort_unstable();
    sizes.dedup();
    let t = Instant::now();
    let dirs: Vec<(usize, tempfile::TempDir, LockDir, PathBuf)> = sizes
        .iter()
        .map(|&size| {
            let temp = temp_dir("scale");
            for i in 0..size {
                File::create(temp.path().join(format!(".lock-config-fill-{i:06}")))
                    .expect("failed to create a filler lock file");
            }
            let plain = temp.path().join("plain.lock");
            File::create(&plain).expect("failed to create the plain lock file");
            let dir = open_dir(temp.path());
            (size, temp, dir, plain)
        })
        .collect();
    report.note(format!(
        "5: created {} filler lock files in {:.1} s",
        sizes.iter().sum::<usize>(),
        t.elapsed().as_secs_f64()
    ));

    let mut samples: Vec<(Vec<f64>, Vec<f64>)> = vec![(Vec::new(), Vec::new()); dirs.len()];
    for (_, _, dir, plain) in &dirs {
        for _ in 0..100 {
            wardlock_cycle(dir);
            plain_cycle(plain);
        }
    }
    for _ in 0..(c.scale_ops / BATCH).max(1) {
        for ((_, _, dir, plain), (ours, base)) in dirs.iter().zip(&mut samples) {
            ours.extend(sample(1, || wardlock_cycle(dir)));
            base.extend(sample(1, || plain_cycle(plain)));
        }
    }
    let mut medians = Vec::new();
    for ((size, ..), (ours, base)) in dirs.iter().zip(&mut samples) {
        let (o, b) = (median(ours), median(base));
        report.row(
            Row::new(
                format!("5 acquire+release beside {size} other lock files"),
                dur(o),
                format!("{} open+try_lock+close", dur(b)),
            )
            .ratio(o / b)
            .info("-"),
        );
        medians.push((*size, o));
    }
    if let (Some(&(_, first)), Some(&(size, last))) = (medians.first(), medians.last()) {
        report.row(
            Row::new(
                format!("5 flat: acquire+release, {size} vs 1 other file"),
                dur(last),
                format!("{} with 1 file", dur(first)),
            )
            .ratio(last / first)
            .goal("<= 1.5x (flat)", last / first <= 1.5),
        );
    }

    status(c, report);
    let t = Instant::now();
    drop(dirs);
    eprintln!(
        "[5] removed the filler files in {:.1} s",
        t.elapsed().as_secs_f64()
    );
}

/// A baseline `status`: list the directory and probe every lock file by
/// trying its lock.
fn naive_status(path: &Path) -> usize {
    let mut held = 0;
    for entry in fs::read_dir(path).expect("failed to list the directory") {
        let entry = entry.expect("failed to list the directory");
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with(".lock-") {
            continue;
        }
        let file = File::open(entry.path()).expect("failed to open a lock file");
        match file.try_lock() {
            Ok(()) => {}
            Err(_) => held += 1,
        }
    }
    held
}

/// One `status` call slower than this is not repeated, and the slower
/// variants are skipped, so that a loaded machine cannot stretch the run.
const STATUS_BUDGET: f64 = 3e9;

/// Lines in the kernel's lock table: one per lock held on the machine.
fn proc_locks_lines() -> usize {
    fs::read_to_string("/proc/locks").map_or(0, |t| t.lines().count())
}

fn status(c: &Counts, report: &mut Report) {
    let temp = temp_dir("status");
    let dir = open_dir(temp.path());
    let names: Vec<PathBuf> = (0..c.status_files)
        .map(|i| temp.path().join(format!(".lock-config-s-{i:06}")))
        .collect();
    for name in &names {
        File::create(name).expect("failed to create a lock file");
    }
    naive_status(temp.path());

    // Returns whether `LockDir::status` stayed within the budget.
    let time_both = |report: &mut Report, label: &str, expect_held: usize, reps: usize| {
        let lines = proc_locks_lines();
        let (mut ours, mut base, mut cli) = (Vec::new(), Vec::new(), Vec::new());
        let mut wrong = Vec::new();
        let mut within = true;
        for _ in 0..reps.max(1) {
            let t = Instant::now();
            let listed = dir.status().expect("failed to get the status");
            ours.push(t.elapsed().as_nanos() as f64);
            let held = listed.iter().filter(|s| s.held.is_some()).count();
            if listed.len() != c.status_files || held != expect_held {
                wrong.push(format!("listed {} ({held} held)", listed.len()));
            }
            let t = Instant::now();
            naive_status(temp.path());
            base.push(t.elapsed().as_nanos() as f64);
            if ours.last().is_some_and(|&o| o > STATUS_BUDGET) {
                within = false;
                break;
            }
        }
        if within {
            for _ in 0..reps.max(1) {
                let mut cmd = Command::new(WARDLOCK);
                cmd.arg("status").arg("--dir").arg(temp.path());
                let (wall, _, ok) = measure_child(&mut cmd);
                cli.push(wall);
                if !ok {
                    wrong.push("`wardlock status` failed".into());
                }
            }
        }
        let (o, b) = (median(&mut ours), median(&mut base));
        report.row(
            Row::new(
                format!("5 LockDir::status, {} lock files{label}", c.status_files),
                dur(o),
                format!("{} read_dir+open+try_lock", dur(b)),
            )
            .ratio(o / b)
            .goal("< 1 s", o < 1e9),
        );
        if within {
            let k = median(&mut cli);
            report.row(
                Row::new(
                    format!("5 `wardlock status`, {} lock files{label}", c.status_files),
                    dur(k),
                    format!("{} read_dir+open+try_lock", dur(b)),
                )
                .ratio(k / b)
                .goal("< 1 s", k < 1e9),
            );
        } else {
            report.note(format!(
                "5: `wardlock status`{label} not run: one LockDir::status took {}, over the \
                 {} budget",
                dur(o),
                dur(STATUS_BUDGET)
            ));
        }
        report.note(format!(
            "5: status{label}: /proc/locks had {lines} lines (every lock held on this machine, \
             by anyone)"
        ));
        if !wrong.is_empty() {
            report.note(format!("5: status{label} was wrong: {}", wrong.join(", ")));
        }
        within
    };
    if !time_both(report, "", 0, c.status_reps) {
        report.note("5: status with held lock files skipped: the plain case was over budget");
        return;
    }

    // The same with some held by another holder (this process, through
    // plain `flock`): each adds a line to the kernel's lock table.
    let held: Vec<File> = names
        .iter()
        .take(c.status_held.min(c.status_files))
        .map(|name| {
            let f = File::open(name).expect("failed to open a lock file");
            f.lock().expect("failed to lock a lock file");
            f
        })
        .collect();
    // Timed once: it is the slow case.
    time_both(report, &format!(", {} held", held.len()), held.len(), 1);
}

/// 6. The policy boundary.
fn boundary(c: &Counts, _py: bool, report: &mut Report) {
    let temp = temp_dir("boundary");
    let policy = Policy::embedded().expect("failed to load the embedded policy");
    let plan = |dir: &LockDir| {
        dir.plan(RESOURCE, Mode::Exclusive, &Timeout::Default)
            .expect("failed to plan")
    };

    // A new lock directory instantiates on its first call, not later.
    let (mut first_call, mut second_call) = (Vec::new(), Vec::new());
    let (mut first_lease, mut second_lease) = (Vec::new(), Vec::new());
    for _ in 0..c.fresh_dirs.max(1) {
        let dir = LockDir::open(temp.path(), policy.clone()).expect("failed to open");
        let t = Instant::now();
        plan(&dir);
        first_call.push(t.elapsed().as_nanos() as f64);
        let t = Instant::now();
        plan(&dir);
        second_call.push(t.elapsed().as_nanos() as f64);

        let dir = LockDir::open(temp.path(), policy.clone()).expect("failed to open");
        let t = Instant::now();
        wardlock_cycle(&dir);
        first_lease.push(t.elapsed().as_nanos() as f64);
        let t = Instant::now();
        wardlock_cycle(&dir);
        second_lease.push(t.elapsed().as_nanos() as f64);
    }

    let dir = open_dir(temp.path());
    for _ in 0..1_000 {
        plan(&dir);
        wardlock_cycle(&dir);
    }
    let (mut pooled, mut fresh, mut lease) = (Vec::new(), Vec::new(), Vec::new());
    let rounds = (c.calls / BATCH / 20).max(1);
    for _ in 0..rounds {
        pooled.extend(sample(20, || {
            plan(&dir);
        }));
        fresh.extend(sample(1, || {
            policy
                .plan(RESOURCE, Mode::Exclusive, &Timeout::Default)
                .expect("failed to plan");
        }));
        lease.extend(sample(1, || wardlock_cycle(&dir)));
    }
    let pooled = median(&mut pooled);
    let fresh = median(&mut fresh);
    let lease = median(&mut lease);
    let (first_call, second_call) = (median(&mut first_call), median(&mut second_call));
    let (first_lease, second_lease) = (median(&mut first_lease), median(&mut second_lease));
    let instantiation = first_call - second_call;

    report.row(
        Row::new(
            "6 guest call: LockDir::plan, pooled instance (median)",
            dur(pooled),
            format!("{} Policy::plan, new instance per call", dur(fresh)),
        )
        .ratio(pooled / fresh)
        .goal("pooled < new", pooled < fresh),
    );
    report.row(
        Row::new(
            "6 first call on a new LockDir (instantiates) vs its second",
            dur(first_call),
            format!("{} second call", dur(second_call)),
        )
        .ratio(first_call / second_call)
        .info("- (once per LockDir)"),
    );
    report.row(
        Row::new(
            "6 second lease on a new LockDir vs its first (medians)",
            dur(second_lease),
            format!("{} first lease", dur(first_lease)),
        )
        .ratio(second_lease / first_lease)
        .goal(
            "no instantiation per lease",
            second_lease + instantiation / 2.0 < first_lease,
        ),
    );
    report.row(
        Row::new(
            "6 lease cost in pooled guest calls (acquire+release / plan)",
            dur(lease),
            format!("{} one plan call", dur(pooled)),
        )
        .ratio(lease / pooled)
        .info("- (2 guest calls + host imports)"),
    );
    report.note(format!(
        "6: instantiation on a new LockDir ~ {} (first call - second); \"no instantiation per \
         lease\" holds when the second lease saves at least half of that; a lease is 2 guest \
         calls (acquire, release), the rest is host imports (open, flock, owner record \
         write/read/remove)",
        dur(instantiation)
    ));
}
