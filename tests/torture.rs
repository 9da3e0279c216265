//! Torture: worker processes hammer a lock directory through the library
//! while a controller SIGKILLs them inside their critical sections, and an
//! independent checker proves the outcome from records of its own.
//!
//! The program has two roles. The *controller* (no `--worker` flag) starts
//! N workers by re-executing itself, kills random workers while they are
//! inside a critical section and starts replacements, then checks. A
//! *worker* acquires a random mix of work packages of two features, the
//! features themselves and a config, shared or exclusive, with short
//! timeouts, through `LockDir::acquire`; holds it for a moment; releases.
//!
//! The checker trusts nothing of wardlock's bookkeeping. Each worker
//! appends records to a ledger (one `write` per line, `O_APPEND`), stamped
//! with `CLOCK_MONOTONIC`, which all processes share:
//!
//! - `enter` right after `acquire` returned a guard, `exit` right before
//!   the guard is released: a holder's interval lies inside its real hold;
//! - `inc` after each increment of a per-resource counter file (read, +1,
//!   write back, in one `pwrite` of fixed width, never truncated), done by
//!   exclusive holders only: the tally of committed increments;
//! - `wait` for every attempt: timeout, start, end, outcome;
//! - `bad` when a holder sees a counter it protects change under it;
//! - `kill`, by the controller, stamped *before* it sends SIGKILL: a killed
//!   holder's interval ends there (its lock is released by the kernel only
//!   later, when the process is gone).
//!
//! From these the checker counts conflicting holders whose intervals
//! overlap (a feature taken exclusively conflicts with every holder of the
//! feature and of its work packages; the same resource conflicts unless
//! both are shared; nothing else conflicts), increments lost (a counter
//! below its committed tally) or unexplained (above the tally plus the
//! increments killed holders may have landed unrecorded), attempts that
//! overran their timeout by more than the slack, and processes that hung.
//!
//! `cargo test --release --test torture` does a short run; the flags
//! (`--workers`, `--acquisitions`, `--kills`, `--slack-ms`, `--hang-secs`,
//! `--seed`, `--keep`) make a long one; `--sabotage` makes the workers
//! skip the lock, to show that the checker catches what it should. The
//! long run: `cargo test --release --test torture -- --acquisitions 100000
//! --kills 1000`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use wardlock::{Error, LockDir, Mode, Policy, Timeout};

/// The features whose work packages and feature locks are contended.
const FEATURES: [&str; 2] = ["alpha", "beta"];

/// The work packages of each feature.
const WORK_PACKAGES: [&str; 2] = ["WP01", "WP02"];

/// The config contended alongside.
const CONFIG: &str = "settings";

/// The timeouts a worker picks from, in microseconds; 0 tries once.
const TIMEOUTS_US: [u64; 6] = [0, 1_000, 5_000, 20_000, 50_000, 200_000];

/// The longest pause inside a critical section, in microseconds.
const MAX_PAUSE_US: u64 = 2_000;

/// Width of a counter file's decimal value; written whole, at offset 0.
const COUNTER_WIDTH: usize = 20;

/// Bytes per worker slot in the status file: in-critical-section flag at
/// 0, completed holds at 8, attempts at 16.
const SLOT: u64 = 32;

// ---------------------------------------------------------------------
// Settings

#[derive(Debug, Clone)]
struct Settings {
    workers: usize,
    acquisitions: u64,
    kills: u64,
    slack: Duration,
    hang: Duration,
    seed: u64,
    keep: bool,
    sabotage: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            workers: 8,
            acquisitions: 1_600,
            kills: 20,
            slack: Duration::from_millis(100),
            hang: Duration::from_secs(20),
            seed: 0,
            keep: false,
            sabotage: false,
        }
    }
}

/// What a worker is told on its command line.
#[derive(Debug)]
struct WorkerArgs {
    slot: u64,
    incarnation: u64,
    work: PathBuf,
    quota: u64,
    seed: u64,
    sabotage: bool,
}

enum Role {
    Controller(Settings),
    Worker(WorkerArgs),
    List,
}

fn parse_args() -> Result<Role, String> {
    let mut settings = Settings {
        seed: now_ns(),
        ..Settings::default()
    };
    let mut worker: Option<WorkerArgs> = None;
    let mut args = std::env::args().skip(1);
    let number = |flag: &str, value: Option<String>| -> Result<u64, String> {
        value
            .as_deref()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("`{flag}` needs a number"))
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--workers" => settings.workers = number(&arg, args.next())? as usize,
            "--acquisitions" => settings.acquisitions = number(&arg, args.next())?,
            "--kills" => settings.kills = number(&arg, args.next())?,
            "--slack-ms" => settings.slack = Duration::from_millis(number(&arg, args.next())?),
            "--hang-secs" => settings.hang = Duration::from_secs(number(&arg, args.next())?),
            "--seed" => settings.seed = number(&arg, args.next())?,
            "--keep" => settings.keep = true,
            "--sabotage" => settings.sabotage = true,
            "--list" => return Ok(Role::List),
            "--worker" => {
                let slot = number(&arg, args.next())?;
                let incarnation = number("--worker", args.next())?;
                let work = PathBuf::from(args.next().ok_or("`--worker` needs a directory")?);
                let quota = number("--worker", args.next())?;
                let seed = number("--worker", args.next())?;
                let sabotage = number("--worker", args.next())? == 1;
                worker = Some(WorkerArgs {
                    slot,
                    incarnation,
                    work,
                    quota,
                    seed,
                    sabotage,
                });
            }
            // `cargo test` passes its own filters and flags to every test
            // binary; they do not concern this one.
            _ => {}
        }
    }
    if settings.workers == 0 {
        return Err("`--workers` must be at least 1".into());
    }
    Ok(match worker {
        Some(w) => Role::Worker(w),
        None => Role::Controller(settings),
    })
}

fn main() -> ExitCode {
    match parse_args() {
        Ok(Role::List) => {
            println!("torture: test");
            ExitCode::SUCCESS
        }
        Ok(Role::Worker(args)) => match worker(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("torture worker {}: {e}", args.incarnation);
                ExitCode::from(2)
            }
        },
        Ok(Role::Controller(settings)) => match controller(&settings) {
            Ok(true) => {
                println!("torture: 1 passed, 0 failed");
                ExitCode::SUCCESS
            }
            Ok(false) => {
                println!("torture: FAILED (seed {})", settings.seed);
                ExitCode::FAILURE
            }
            Err(e) => {
                println!("torture: FAILED: {e} (seed {})", settings.seed);
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("torture: {e}");
            ExitCode::from(64)
        }
    }
}

// ---------------------------------------------------------------------
// Shared pieces

/// `CLOCK_MONOTONIC` in nanoseconds: one clock for every process.
fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC exists on
    // every Linux and cannot fail with a valid pointer.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// A small, seedable generator (splitmix64): no dependency, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A resource as the checker understands it, independently of any policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Resource {
    WorkPackage(usize, usize),
    Feature(usize),
    Config,
}

impl Resource {
    fn all() -> Vec<Resource> {
        let mut all = vec![Resource::Config];
        for f in 0..FEATURES.len() {
            all.push(Resource::Feature(f));
            for w in 0..WORK_PACKAGES.len() {
                all.push(Resource::WorkPackage(f, w));
            }
        }
        all
    }

    fn id(self) -> String {
        match self {
            Resource::WorkPackage(f, w) => format!("wp:{}/{}", FEATURES[f], WORK_PACKAGES[w]),
            Resource::Feature(f) => format!("feature:{}", FEATURES[f]),
            Resource::Config => format!("config:{CONFIG}"),
        }
    }

    fn parse(id: &str) -> Option<Resource> {
        Resource::all().into_iter().find(|r| r.id() == id)
    }

    /// The counter file that stands for this resource's protected data.
    fn counter(self) -> String {
        self.id().replace([':', '/'], "-")
    }

    /// The counters a holder in `mode` writes (exclusive only): the
    /// resource's own, and for a feature every work package's too.
    fn writes(self, mode: Mode) -> Vec<Resource> {
        match (mode, self) {
            (Mode::Shared, _) => Vec::new(),
            (Mode::Exclusive, Resource::Feature(f)) => {
                let mut w = vec![self];
                w.extend((0..WORK_PACKAGES.len()).map(|p| Resource::WorkPackage(f, p)));
                w
            }
            (Mode::Exclusive, _) => vec![self],
        }
    }

    /// The counters nobody else may change while this hold lasts.
    fn protects(self, mode: Mode) -> Vec<Resource> {
        match (mode, self) {
            (Mode::Exclusive, Resource::Feature(_)) => self.writes(mode),
            (_, Resource::WorkPackage(f, _)) => vec![self, Resource::Feature(f)],
            _ => vec![self],
        }
    }
}

/// Whether two holds may not overlap, from the documented semantics: the
/// same resource unless both are shared; a feature held exclusively and
/// any holder of one of its work packages; nothing else.
fn conflicts(a: (Resource, Mode), b: (Resource, Mode)) -> bool {
    if a.1 == Mode::Shared && b.1 == Mode::Shared {
        return false;
    }
    match (a.0, b.0) {
        (x, y) if x == y => true,
        (Resource::Feature(f), Resource::WorkPackage(g, _)) => f == g && a.1 == Mode::Exclusive,
        (Resource::WorkPackage(g, _), Resource::Feature(f)) => f == g && b.1 == Mode::Exclusive,
        _ => false,
    }
}

fn mode_word(mode: Mode) -> &'static str {
    match mode {
        Mode::Shared => "shared",
        Mode::Exclusive => "exclusive",
    }
}

fn parse_mode(word: &str) -> Option<Mode> {
    match word {
        "shared" => Some(Mode::Shared),
        "exclusive" => Some(Mode::Exclusive),
        _ => None,
    }
}

/// The files of one run.
struct Work {
    root: PathBuf,
}

impl Work {
    fn locks(&self) -> PathBuf {
        self.root.join("locks")
    }
    fn ledger(&self) -> PathBuf {
        self.root.join("ledger")
    }
    fn status(&self) -> PathBuf {
        self.root.join("status")
    }
    fn counter(&self, r: Resource) -> PathBuf {
        self.root.join("counters").join(r.counter())
    }
}

/// The append-only ledger: one `write` per record.
struct Ledger(File);

impl Ledger {
    fn open(path: &Path) -> std::io::Result<Ledger> {
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o644)
            .open(path)?;
        Ok(Ledger(file))
    }

    fn record(&self, line: String) -> std::io::Result<()> {
        let line = line + "\n";
        let written = (&self.0).write(line.as_bytes())?;
        if written != line.len() {
            return Err(std::io::Error::other("short write to the ledger"));
        }
        Ok(())
    }
}

fn read_counter(file: &File) -> std::io::Result<u64> {
    let mut buf = [0u8; COUNTER_WIDTH];
    file.read_exact_at(&mut buf, 0)?;
    std::str::from_utf8(&buf)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("counter reads {buf:?}")))
}

fn write_counter(file: &File, value: u64) -> std::io::Result<()> {
    let text = format!("{value:0width$}", width = COUNTER_WIDTH);
    file.write_all_at(text.as_bytes(), 0)
}

fn read_u64_at(file: &File, offset: u64) -> u64 {
    let mut buf = [0u8; 8];
    match file.read_exact_at(&mut buf, offset) {
        Ok(()) => u64::from_le_bytes(buf),
        Err(_) => 0,
    }
}

// ---------------------------------------------------------------------
// Worker

fn worker(args: &WorkerArgs) -> Result<(), String> {
    let work = Work {
        root: args.work.clone(),
    };
    let err = |what: &str, e: &dyn std::fmt::Display| format!("failed to {what}: {e}");
    let ledger = Ledger::open(&work.ledger()).map_err(|e| err("open the ledger", &e))?;
    let status = OpenOptions::new()
        .read(true)
        .write(true)
        .open(work.status())
        .map_err(|e| err("open the status file", &e))?;
    let counters: HashMap<Resource, File> = Resource::all()
        .into_iter()
        .map(|r| {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(work.counter(r));
            file.map(|f| (r, f))
        })
        .collect::<Result<_, _>>()
        .map_err(|e| err("open the counters", &e))?;
    let policy = Policy::embedded().map_err(|e| err("load the policy", &e))?;
    let dir = LockDir::open(work.locks(), policy).map_err(|e| err("open the lock dir", &e))?;
    let base = args.slot * SLOT;
    let mut done = read_u64_at(&status, base + 8);
    let mut attempts = read_u64_at(&status, base + 16);
    let mut rng = Rng(args.seed);
    let resources = Resource::all();
    let inc = args.incarnation;
    let mut seq = 0u64;

    while done < args.quota {
        seq += 1;
        let resource = resources[rng.below(resources.len() as u64) as usize];
        let mode = if rng.below(100) < 65 {
            Mode::Exclusive
        } else {
            Mode::Shared
        };
        let timeout_us = TIMEOUTS_US[rng.below(TIMEOUTS_US.len() as u64) as usize];
        let id = resource.id();
        let m = mode_word(mode);

        let start = now_ns();
        let result = if args.sabotage {
            Ok(None)
        } else {
            let timeout = Timeout::After(Duration::from_micros(timeout_us));
            dir.acquire(&id, mode, &timeout).map(Some)
        };
        let end = now_ns();

        let outcome = match &result {
            Ok(_) => "acquired",
            Err(Error::Busy(_)) => "busy",
            Err(Error::TimedOut(_)) => "timed-out",
            Err(e) => {
                let message = e.to_string().replace('\n', " ");
                ledger
                    .record(format!("err {inc} {seq} acquire `{id}` {m}: {message}"))
                    .map_err(|e| err("write the ledger", &e))?;
                "error"
            }
        };
        ledger
            .record(format!(
                "wait {inc} {seq} {id} {m} {} {start} {end} {outcome}",
                timeout_us * 1_000
            ))
            .map_err(|e| err("write the ledger", &e))?;
        attempts += 1;
        let _ = status.write_all_at(&attempts.to_le_bytes(), base + 16);

        let Ok(guard) = result else { continue };
        critical_section(
            &ledger, &status, base, &counters, &mut rng, inc, seq, resource, mode,
        )
        .map_err(|e| err("run the critical section", &e))?;
        if let Some(Err(e)) = guard.map(|g| g.release()) {
            ledger
                .record(format!(
                    "err {inc} {seq} release `{id}` {m}: {}",
                    e.to_string().replace('\n', " ")
                ))
                .map_err(|e| err("write the ledger", &e))?;
        }
        done += 1;
        let _ = status.write_all_at(&done.to_le_bytes(), base + 8);
    }
    Ok(())
}

/// Inside the hold: say so, check the protected counters, bump the ones
/// this hold writes, pause, check again, say it is over.
#[expect(clippy::too_many_arguments, reason = "one call site, all of it state")]
fn critical_section(
    ledger: &Ledger,
    status: &File,
    base: u64,
    counters: &HashMap<Resource, File>,
    rng: &mut Rng,
    inc: u64,
    seq: u64,
    resource: Resource,
    mode: Mode,
) -> std::io::Result<()> {
    let (id, m) = (resource.id(), mode_word(mode));
    ledger.record(format!("enter {inc} {seq} {id} {m} {}", now_ns()))?;
    status.write_all_at(&[1], base)?;

    let protected = resource.protects(mode);
    let mut expected = BTreeMap::new();
    for r in &protected {
        expected.insert(*r, read_counter(&counters[r])?);
    }
    for r in resource.writes(mode) {
        let file = &counters[&r];
        let value = read_counter(file)? + 1;
        write_counter(file, value)?;
        ledger.record(format!("inc {inc} {seq} {} {value} {}", r.id(), now_ns()))?;
        expected.insert(r, value);
    }
    let pause = rng.below(MAX_PAUSE_US + 1);
    if pause > MAX_PAUSE_US / 4 {
        std::thread::sleep(Duration::from_micros(pause));
    }
    for r in &protected {
        let now = read_counter(&counters[r])?;
        if now != expected[r] {
            ledger.record(format!(
                "bad {inc} {seq} {id} {m}: counter {} went from {} to {now} under the hold",
                r.id(),
                expected[r]
            ))?;
        }
    }

    status.write_all_at(&[0], base)?;
    ledger.record(format!("exit {inc} {seq} {id} {m} {}", now_ns()))
}

// ---------------------------------------------------------------------
// Controller

struct Slot {
    child: Option<Child>,
    incarnation: u64,
    quota: u64,
    last_attempts: u64,
    last_change: Instant,
}

struct Tally {
    kills: u64,
    hung: u64,
    crashed: u64,
    respawned: u64,
}

fn controller(settings: &Settings) -> Result<bool, String> {
    let temp = tempfile::Builder::new()
        .prefix("wardlock-torture-")
        .tempdir()
        .map_err(|e| format!("failed to create a temp dir: {e}"))?;
    let work = Work {
        root: temp.path().to_path_buf(),
    };
    setup(&work, settings.workers).map_err(|e| format!("failed to set up: {e}"))?;
    println!(
        "torture: {} workers, {} acquisitions, {} kills, seed {}, in `{}`",
        settings.workers,
        settings.acquisitions,
        settings.kills,
        settings.seed,
        work.root.display()
    );

    let started = Instant::now();
    let tally = drive(settings, &work)?;
    let elapsed = started.elapsed();

    let report = check(&work, settings).map_err(|e| format!("failed to check: {e}"))?;
    let passed = report.print(settings, &tally, elapsed);
    if settings.keep || !passed {
        let kept = temp.keep();
        println!("torture: ledger and lock dir kept in `{}`", kept.display());
    }
    Ok(passed)
}

fn setup(work: &Work, workers: usize) -> std::io::Result<()> {
    std::fs::create_dir(work.locks())?;
    std::fs::create_dir(work.root.join("counters"))?;
    for r in Resource::all() {
        std::fs::write(work.counter(r), format!("{:0w$}", 0, w = COUNTER_WIDTH))?;
    }
    std::fs::write(work.status(), vec![0u8; workers * SLOT as usize])?;
    File::create(work.ledger())?;
    Ok(())
}

fn spawn(
    settings: &Settings,
    work: &Work,
    slot: usize,
    incarnation: u64,
    quota: u64,
    seed: u64,
) -> Result<Child, String> {
    let exe = std::env::current_exe().map_err(|e| format!("failed to find myself: {e}"))?;
    Command::new(exe)
        .arg("--worker")
        .arg(slot.to_string())
        .arg(incarnation.to_string())
        .arg(&work.root)
        .arg(quota.to_string())
        .arg(seed.to_string())
        .arg(if settings.sabotage { "1" } else { "0" })
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("failed to start a worker: {e}"))
}

fn drive(settings: &Settings, work: &Work) -> Result<Tally, String> {
    let n = settings.workers;
    let ledger = Ledger::open(&work.ledger()).map_err(|e| e.to_string())?;
    let status = OpenOptions::new()
        .read(true)
        .write(true)
        .open(work.status())
        .map_err(|e| e.to_string())?;
    let mut rng = Rng(settings.seed);
    let per = settings.acquisitions / n as u64;
    let extra = settings.acquisitions % n as u64;
    let mut next_incarnation = 0u64;
    let mut slots = Vec::with_capacity(n);
    for i in 0..n {
        let quota = per + u64::from((i as u64) < extra);
        let child = spawn(settings, work, i, next_incarnation, quota, rng.next())?;
        slots.push(Slot {
            child: Some(child),
            incarnation: next_incarnation,
            quota,
            last_attempts: 0,
            last_change: Instant::now(),
        });
        next_incarnation += 1;
    }
    let mut tally = Tally {
        kills: 0,
        hung: 0,
        crashed: 0,
        respawned: 0,
    };
    let mut last_report = Instant::now();

    loop {
        std::thread::sleep(Duration::from_millis(1));
        let progress: Vec<u64> = (0..n)
            .map(|i| read_u64_at(&status, i as u64 * SLOT + 8))
            .collect();
        let total: u64 = progress.iter().sum();

        // Reap the workers that ended on their own.
        for (i, slot) in slots.iter_mut().enumerate() {
            let Some(child) = slot.child.as_mut() else {
                continue;
            };
            let Ok(Some(exit)) = child.try_wait() else {
                continue;
            };
            slot.child = None;
            if exit.success() && progress[i] >= slot.quota {
                continue;
            }
            println!(
                "torture: worker {} (slot {i}) ended by itself with {exit}",
                slot.incarnation
            );
            tally.crashed += 1;
            slot.incarnation = next_incarnation;
            next_incarnation += 1;
            slot.child = Some(spawn(
                settings,
                work,
                i,
                slot.incarnation,
                slot.quota,
                rng.next(),
            )?);
            slot.last_change = Instant::now();
        }
        if slots.iter().all(|s| s.child.is_none()) {
            break;
        }

        // A hang: no attempt finished for too long.
        for (i, slot) in slots.iter_mut().enumerate() {
            if slot.child.is_none() {
                continue;
            }
            let attempts = read_u64_at(&status, i as u64 * SLOT + 16);
            if attempts != slot.last_attempts {
                slot.last_attempts = attempts;
                slot.last_change = Instant::now();
            } else if slot.last_change.elapsed() > settings.hang {
                println!(
                    "torture: worker {} (slot {i}) made no attempt for {:?}: hung",
                    slot.incarnation, settings.hang
                );
                tally.hung += 1;
                kill(&ledger, slot, "hang")?;
                clear_flag(&status, i)?;
                slot.incarnation = next_incarnation;
                next_incarnation += 1;
                slot.child = Some(spawn(
                    settings,
                    work,
                    i,
                    slot.incarnation,
                    slot.quota,
                    rng.next(),
                )?);
                slot.last_change = Instant::now();
            }
        }

        // A kill, spread evenly over the run, of a worker inside its
        // critical section.
        let due = settings.acquisitions * (tally.kills + 1) / (settings.kills + 1);
        if tally.kills < settings.kills && total >= due {
            let inside: Vec<usize> = (0..n)
                .filter(|&i| slots[i].child.is_some() && progress[i] < slots[i].quota)
                .filter(|&i| {
                    let mut flag = [0u8];
                    status.read_exact_at(&mut flag, i as u64 * SLOT).is_ok() && flag[0] == 1
                })
                .collect();
            if !inside.is_empty() {
                let i = inside[rng.below(inside.len() as u64) as usize];
                kill(&ledger, &mut slots[i], "kill")?;
                clear_flag(&status, i)?;
                tally.kills += 1;
                tally.respawned += 1;
                slots[i].incarnation = next_incarnation;
                next_incarnation += 1;
                slots[i].child = Some(spawn(
                    settings,
                    work,
                    i,
                    slots[i].incarnation,
                    slots[i].quota,
                    rng.next(),
                )?);
                slots[i].last_change = Instant::now();
            }
        }

        if last_report.elapsed() > Duration::from_secs(10) {
            last_report = Instant::now();
            println!(
                "torture: {total}/{} acquisitions, {} kills",
                settings.acquisitions, tally.kills
            );
        }
    }
    Ok(tally)
}

/// Clear a slot's in-critical-section flag, which a killed worker leaves
/// set, so that its replacement is not taken for a holder.
fn clear_flag(status: &File, slot: usize) -> Result<(), String> {
    status
        .write_all_at(&[0], slot as u64 * SLOT)
        .map_err(|e| format!("failed to clear a flag: {e}"))
}

/// Record the kill, stamped before the signal, then SIGKILL and reap.
fn kill(ledger: &Ledger, slot: &mut Slot, why: &str) -> Result<(), String> {
    let Some(mut child) = slot.child.take() else {
        return Ok(());
    };
    ledger
        .record(format!(
            "kill {} {} {} {why}",
            slot.incarnation,
            child.id(),
            now_ns()
        ))
        .map_err(|e| e.to_string())?;
    child.kill().map_err(|e| format!("failed to kill: {e}"))?;
    child.wait().map_err(|e| format!("failed to reap: {e}"))?;
    Ok(())
}

// ---------------------------------------------------------------------
// Checker

/// A hold as the checker sees it: enter, end, resource, mode, and who
/// (incarnation, sequence number).
type Interval = (u64, u64, Resource, Mode, (u64, u64));

#[derive(Debug, Default)]
struct Hold {
    resource: Option<Resource>,
    mode: Option<Mode>,
    enter: Option<u64>,
    exit: Option<u64>,
    last: u64,
    incs: HashSet<Resource>,
}

#[derive(Debug, Default)]
struct Report {
    holds: u64,
    attempts: u64,
    busy: u64,
    timed_out: u64,
    errors: Vec<String>,
    malformed: Vec<String>,
    overlaps: u64,
    overlap_examples: Vec<String>,
    interference: Vec<String>,
    vanished: u64,
    killed_holds: u64,
    committed: u64,
    duplicate_values: u64,
    counters_total: u64,
    lost: u64,
    unexplained: u64,
    uncertain: u64,
    overshoots: Vec<u64>,
    missed: Vec<String>,
    kills_recorded: u64,
}

fn check(work: &Work, settings: &Settings) -> std::io::Result<Report> {
    let text = std::fs::read_to_string(work.ledger())?;
    let mut report = Report::default();
    let mut holds: HashMap<(u64, u64), Hold> = HashMap::new();
    let mut killed_at: HashMap<u64, u64> = HashMap::new();
    let mut values: HashMap<Resource, Vec<u64>> = HashMap::new();

    for line in text.lines() {
        let w: Vec<&str> = line.split(' ').collect();
        let num = |i: usize| w.get(i).and_then(|s| s.parse::<u64>().ok());
        let ok = match w[0] {
            "enter" | "exit" if w.len() == 6 => {
                match (
                    num(1),
                    num(2),
                    Resource::parse(w[3]),
                    parse_mode(w[4]),
                    num(5),
                ) {
                    (Some(i), Some(s), Some(r), Some(m), Some(t)) => {
                        let h = holds.entry((i, s)).or_default();
                        h.resource = Some(r);
                        h.mode = Some(m);
                        if w[0] == "enter" {
                            h.enter = Some(t);
                        } else {
                            h.exit = Some(t);
                        }
                        h.last = h.last.max(t);
                        true
                    }
                    _ => false,
                }
            }
            "inc" if w.len() == 6 => {
                match (num(1), num(2), Resource::parse(w[3]), num(4), num(5)) {
                    (Some(i), Some(s), Some(r), Some(v), Some(t)) => {
                        let h = holds.entry((i, s)).or_default();
                        h.incs.insert(r);
                        h.last = h.last.max(t);
                        values.entry(r).or_default().push(v);
                        true
                    }
                    _ => false,
                }
            }
            "wait" if w.len() == 9 => match (num(5), num(6), num(7)) {
                (Some(timeout), Some(start), Some(end)) => {
                    report.attempts += 1;
                    match w[8] {
                        "busy" => report.busy += 1,
                        "timed-out" => report.timed_out += 1,
                        _ => {}
                    }
                    let over = (end - start).saturating_sub(timeout);
                    report.overshoots.push(over);
                    if over > settings.slack.as_nanos() as u64 {
                        report.missed.push(format!(
                            "{} {} {} timeout {} ms took {} ms ({})",
                            w[3],
                            w[4],
                            w[1],
                            timeout / 1_000_000,
                            (end - start) / 1_000_000,
                            w[8]
                        ));
                    }
                    true
                }
                _ => false,
            },
            "kill" if w.len() == 5 => match (num(1), num(3)) {
                (Some(i), Some(t)) => {
                    killed_at.insert(i, t);
                    report.kills_recorded += 1;
                    true
                }
                _ => false,
            },
            "bad" => {
                report.interference.push(line.to_owned());
                true
            }
            "err" => {
                report.errors.push(line.to_owned());
                true
            }
            _ => false,
        };
        if !ok {
            report.malformed.push(line.to_owned());
        }
    }

    // Each hold's interval; a killed holder's ends at its kill.
    let mut intervals: Vec<Interval> = Vec::new();
    let mut uncertain: HashMap<Resource, u64> = HashMap::new();
    for (&key, h) in &holds {
        let (Some(r), Some(m), Some(enter)) = (h.resource, h.mode, h.enter) else {
            report
                .malformed
                .push(format!("hold {key:?} has records but no `enter`"));
            continue;
        };
        let end = match (h.exit, killed_at.get(&key.0)) {
            (Some(exit), _) => {
                report.holds += 1;
                exit
            }
            (None, Some(&kill)) => {
                report.killed_holds += 1;
                for c in r.writes(m) {
                    if !h.incs.contains(&c) {
                        *uncertain.entry(c).or_default() += 1;
                    }
                }
                kill.max(h.last)
            }
            (None, None) => {
                report.vanished += 1;
                continue;
            }
        };
        intervals.push((enter, end, r, m, key));
    }

    // Conflicting holders whose intervals overlap: a sweep in enter order.
    intervals.sort_by_key(|h| (h.0, h.1));
    let mut active: Vec<Interval> = Vec::new();
    for h in &intervals {
        active.retain(|a| a.1 > h.0);
        for a in active.iter().filter(|a| conflicts((a.2, a.3), (h.2, h.3))) {
            report.overlaps += 1;
            if report.overlap_examples.len() < 20 {
                report.overlap_examples.push(format!(
                    "{} {} (worker {} #{}) [{}, {}] overlaps {} {} (worker {} #{}) from {}",
                    a.2.id(),
                    mode_word(a.3),
                    a.4.0,
                    a.4.1,
                    a.0,
                    a.1,
                    h.2.id(),
                    mode_word(h.3),
                    h.4.0,
                    h.4.1,
                    h.0
                ));
            }
        }
        active.push(*h);
    }

    // Counters against the tally of committed increments.
    for r in Resource::all() {
        let file = File::open(work.counter(r))?;
        let value = read_counter(&file)?;
        let committed = values.get(&r).map_or(0, |v| v.len() as u64);
        let mut sorted = values.get(&r).cloned().unwrap_or_default();
        sorted.sort_unstable();
        let distinct = {
            let mut d = sorted.clone();
            d.dedup();
            d.len() as u64
        };
        report.duplicate_values += committed - distinct;
        let maybe = uncertain.get(&r).copied().unwrap_or(0);
        report.committed += committed;
        report.counters_total += value;
        report.uncertain += maybe;
        report.lost += committed.saturating_sub(value);
        report.unexplained += value.saturating_sub(committed + maybe);
    }
    Ok(report)
}

impl Report {
    /// Print the figures; whether every must-be-zero figure is zero.
    fn print(&self, settings: &Settings, tally: &Tally, elapsed: Duration) -> bool {
        let secs = elapsed.as_secs_f64();
        let mut overshoots = self.overshoots.clone();
        overshoots.sort_unstable();
        let pct = |p: f64| -> f64 {
            if overshoots.is_empty() {
                return 0.0;
            }
            let i = ((overshoots.len() - 1) as f64 * p).round() as usize;
            overshoots[i] as f64 / 1e6
        };
        println!(
            "torture: {} holds completed in {secs:.1} s ({:.0}/s), {} attempts \
             ({} busy, {} timed out)",
            self.holds,
            self.holds as f64 / secs,
            self.attempts,
            self.busy,
            self.timed_out
        );
        println!(
            "torture: kills: {} of {} asked ({} recorded), {} landed inside a critical \
             section; {} survived (worker replaced, run went on)",
            tally.kills, settings.kills, self.kills_recorded, self.killed_holds, tally.respawned
        );
        println!(
            "torture: conflicting holders that overlapped: {}",
            self.overlaps
        );
        for o in &self.overlap_examples {
            println!("torture:   {o}");
        }
        println!(
            "torture: increments: {} committed, counters total {}; lost by survivors {}, \
             beyond what killed holders may have landed {} (killed holders' unrecorded \
             increments: up to {}, landed {}); duplicate committed values {}",
            self.committed,
            self.counters_total,
            self.lost,
            self.unexplained,
            self.uncertain,
            self.counters_total.saturating_sub(self.committed),
            self.duplicate_values
        );
        println!(
            "torture: counters changed under a hold that protects them: {}",
            self.interference.len()
        );
        for line in self.interference.iter().take(10) {
            println!("torture:   {line}");
        }
        println!(
            "torture: deadlines: overshoot p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; \
             missed by more than {} ms: {}",
            pct(0.5),
            pct(0.99),
            pct(1.0),
            settings.slack.as_millis(),
            self.missed.len()
        );
        for line in self.missed.iter().take(10) {
            println!("torture:   {line}");
        }
        println!(
            "torture: processes that hung: {}; crashed: {}; holders that vanished: {}",
            tally.hung, tally.crashed, self.vanished
        );
        println!(
            "torture: unexpected errors: {}; malformed ledger lines: {}",
            self.errors.len(),
            self.malformed.len()
        );
        for line in self.errors.iter().chain(&self.malformed).take(10) {
            println!("torture:   {line}");
        }
        self.overlaps == 0
            && self.lost == 0
            && self.unexplained == 0
            && self.duplicate_values == 0
            && self.interference.is_empty()
            && self.missed.is_empty()
            && tally.hung == 0
            && tally.crashed == 0
            && self.vanished == 0
            && self.errors.is_empty()
            && self.malformed.is_empty()
    }
}
