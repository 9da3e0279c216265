//! Engine tests against the in-memory host: plans, acquisition and release
//! order, waiting and timeouts, owner records, holders, strictness, status.

use crate::engine::{
    ORPHAN_GRACE_NS, OrphanedHolder, Preset, acquire, info, plan, release, status,
};
use crate::fake::{Event, FakeHost, ME, token};
use crate::record::OwnerRecord;
use crate::wit::{
    AcquireError, Contention, ErrorCode, Lease, Level, Liveness, LockStatus, Mode, RequestError,
};

const DEFAULT: Preset = Preset {
    name: "default",
    version: "0.1.0",
    default_timeout_ms: 300_000,
    orphaned_holder: OrphanedHolder::Wait,
};

const STRICT: Preset = Preset {
    name: "strict",
    version: "0.1.0",
    default_timeout_ms: 30_000,
    orphaned_holder: OrphanedHolder::Refuse,
};

const FEATURE: &str = ".lock-feature-f";
const WP1: &str = ".lock-WP-f-WP01";
const SECOND: u64 = 1_000_000_000;

/// Acquire, expecting a lease.
fn lease(host: &mut FakeHost, preset: &Preset, id: &str, mode: Mode, timeout: &str) -> Lease {
    match acquire(host, preset, id, mode, Some(timeout)) {
        Ok(lease) => lease,
        Err(e) => panic!("acquire {id} failed: {e:?}"),
    }
}

/// Acquire, expecting an error.
fn refusal(host: &mut FakeHost, preset: &Preset, id: &str, timeout: &str) -> AcquireError {
    match acquire(host, preset, id, Mode::Exclusive, Some(timeout)) {
        Ok(lease) => panic!("acquire {id} should fail, got {lease:?}"),
        Err(e) => e,
    }
}

/// The contention inside a busy, timed-out or refused error.
fn contention(error: &AcquireError) -> &Contention {
    match error {
        AcquireError::Busy(c) | AcquireError::TimedOut(c) | AcquireError::Refused(c) => c,
        other => panic!("expected contention, got {other:?}"),
    }
}

/// Nothing is held and every handle is closed.
fn assert_clean(host: &FakeHost) {
    assert_eq!(
        host.open_handles(),
        Vec::<String>::new(),
        "{:#?}",
        host.calls
    );
    assert!(
        !host.calls.iter().any(|c| c.contains("BAD-HANDLE")),
        "{:#?}",
        host.calls
    );
}

/// A lease's lock files and modes, in order.
fn locks(lease: &Lease) -> Vec<(&str, Mode, bool)> {
    lease
        .locks
        .iter()
        .map(|l| (l.lock_file.as_str(), l.mode, l.records_owner))
        .collect()
}

#[test]
fn info_names_the_policy_and_contract() {
    let i = info(&STRICT);

    assert_eq!(
        (
            i.name.as_str(),
            i.version.as_str(),
            i.contract.as_str(),
            i.default_timeout_ms
        ),
        ("strict", "0.1.0", "wardlock:policy@0.1.0", 30_000)
    );
}

#[test]
fn plan_takes_the_feature_shared_before_its_work_package() {
    let exclusive = plan(&DEFAULT, "wp:f/wp1", Mode::Exclusive, None).expect("valid");
    let shared = plan(&DEFAULT, "wp:f/WP01", Mode::Shared, Some("0")).expect("valid");

    assert_eq!(exclusive.resource, "wp:f/WP01");
    let steps: Vec<_> = exclusive
        .steps
        .iter()
        .map(|s| (s.lock_file.as_str(), s.mode, s.records_owner))
        .collect();
    assert_eq!(
        steps,
        [(FEATURE, Mode::Shared, false), (WP1, Mode::Exclusive, true)]
    );
    assert_eq!(exclusive.timeout_ms, Some(300_000));
    let steps: Vec<_> = shared
        .steps
        .iter()
        .map(|s| (s.mode, s.records_owner))
        .collect();
    assert_eq!(steps, [(Mode::Shared, false), (Mode::Shared, false)]);
    assert_eq!(shared.timeout_ms, Some(0));
}

#[test]
fn plan_of_other_kinds_is_one_step_of_their_own() {
    for (id, file) in [
        ("wp:WP07", ".lock-WP-WP07"),
        ("feature:f", FEATURE),
        ("config:ci", ".lock-config-ci"),
    ] {
        for mode in [Mode::Exclusive, Mode::Shared] {
            let p = plan(&STRICT, id, mode, Some("inf")).expect("valid");

            assert_eq!(p.steps.len(), 1, "{id}");
            assert_eq!(p.steps[0].lock_file, file);
            assert_eq!(p.steps[0].mode, mode);
            assert_eq!(p.steps[0].records_owner, mode == Mode::Exclusive);
            assert_eq!(p.timeout_ms, None);
        }
    }
    assert_eq!(
        plan(&STRICT, "config:ci", Mode::Shared, None).map(|p| p.timeout_ms),
        Ok(Some(30_000))
    );
}

#[test]
fn invalid_requests_touch_nothing() {
    let mut host = FakeHost::new();

    let bad_resource = refusal(&mut host, &DEFAULT, "feature:A", "5");
    let bad_timeout = refusal(&mut host, &DEFAULT, "feature:a", "-1");

    assert!(matches!(
        bad_resource,
        AcquireError::Invalid(RequestError::InvalidResource(m)) if m.contains("uppercase")
    ));
    assert!(matches!(
        bad_timeout,
        AcquireError::Invalid(RequestError::InvalidTimeout(m)) if m.contains("negative")
    ));
    assert_eq!(host.calls, Vec::<String>::new());
}

#[test]
fn free_work_package_is_taken_in_order_with_an_owner_record() {
    let mut host = FakeHost::new();

    let lease = lease(&mut host, &DEFAULT, "wp:f/wp01", Mode::Exclusive, "5");

    assert_eq!(
        host.calls_of(&["open", "try-lock", "lock", "write-owner", "waiting"]),
        [
            "open .lock-feature-f",
            "try-lock .lock-feature-f shared",
            "open .lock-WP-f-WP01",
            "try-lock .lock-WP-f-WP01 exclusive",
            "write-owner .lock-WP-f-WP01",
        ]
    );
    assert_eq!(lease.resource, "wp:f/WP01");
    assert_eq!(
        locks(&lease),
        [(FEATURE, Mode::Shared, false), (WP1, Mode::Exclusive, true)]
    );
    assert_eq!(
        host.held_by_me(),
        [
            (FEATURE.to_owned(), Mode::Shared),
            (WP1.to_owned(), Mode::Exclusive)
        ]
    );
    let record = host.owner_record(WP1).expect("record written");
    assert_eq!(record.pid, ME);
    assert_eq!(record.start_token, token(ME));
    assert_eq!(record.command.as_deref(), Some("make build"));
    assert_eq!(record.resource, "wp:f/WP01");
    assert_eq!(record.mode, "exclusive");
    assert_eq!(record.acquired_at_ms, Some(lease.acquired_at_ms));
    assert_eq!(record.acquired_at, "2024-12-04T08:13:25.000Z");
    assert_eq!(record.policy.name, "default");
    assert_eq!(host.owner(FEATURE), None);
    assert!(host.notices.is_empty());
    assert!(host.logs_at(Level::Warn).is_empty());
}

#[test]
fn release_clears_the_record_then_closes_in_reverse_order() {
    let mut host = FakeHost::new();
    let lease = lease(&mut host, &DEFAULT, "wp:f/WP01", Mode::Exclusive, "5");
    host.calls.clear();

    let result = release(&mut host, &lease);

    assert_eq!(result, Ok(()));
    assert_eq!(
        host.calls,
        [
            "clear-owner .lock-WP-f-WP01",
            "close .lock-WP-f-WP01",
            "close .lock-feature-f"
        ]
    );
    assert_eq!(host.owner(WP1), None);
    assert_clean(&host);
}

#[test]
fn release_reports_the_first_failure_but_closes_everything() {
    let mut host = FakeHost::new();
    let lease = lease(&mut host, &DEFAULT, "wp:f/WP01", Mode::Exclusive, "5");
    host.fail("clear-owner", WP1, ErrorCode::PermissionDenied);

    let result = release(&mut host, &lease);

    let failure = result.expect_err("clear-owner failed");
    assert_eq!(failure.lock_file, WP1);
    assert_eq!(failure.failure.code, ErrorCode::PermissionDenied);
    assert_clean(&host);
}

#[test]
fn shared_and_non_exclusive_steps_write_no_record() {
    let mut host = FakeHost::new();

    let lease = lease(&mut host, &DEFAULT, "wp:f/WP01", Mode::Shared, "0");

    assert!(host.calls_of(&["write-owner", "read-owner"]).is_empty());
    assert!(lease.locks.iter().all(|l| !l.records_owner));
}

#[test]
fn busy_with_timeout_zero_describes_the_holder_and_holds_nothing() {
    let mut host = FakeHost::new();
    host.spawn(200, "cargo test");
    host.hold_with_record(WP1, 200, "wp:f/WP01", 12_000);

    let error = refusal(&mut host, &DEFAULT, "wp:f/WP01", "0");

    let AcquireError::Busy(c) = &error else {
        panic!("expected busy, got {error:?}");
    };
    assert_eq!(
        c.message,
        "`wp:f/WP01` is busy: lock file `.lock-WP-f-WP01` held by pid 200 (`cargo test`, \
         alive, for 12s)"
    );
    assert_eq!(
        (c.resource.as_str(), c.lock_file.as_str()),
        ("wp:f/WP01", WP1)
    );
    assert_eq!(c.holder.pid, Some(200));
    assert_eq!(c.holder.liveness, Liveness::Alive);
    assert_eq!(c.holder.command.as_deref(), Some("cargo test"));
    assert_eq!(c.holder.held_for_ms, Some(12_000));
    assert_eq!(c.holder.mode, Some(Mode::Exclusive));
    assert_eq!(c.waited_ms, 0);
    assert!(host.calls_of(&["lock", "waiting"]).is_empty());
    assert_eq!(
        host.calls_of(&["close"]),
        ["close .lock-WP-f-WP01", "close .lock-feature-f"]
    );
    assert_clean(&host);
}

#[test]
fn waits_once_with_a_notice_and_takes_the_lock_when_released() {
    let mut host = FakeHost::new();
    host.spawn(200, "cargo test");
    host.hold_with_record(WP1, 200, "wp:f/WP01", 12_000);
    host.at(2 * SECOND, Event::Release(WP1, 200));

    let lease = lease(&mut host, &DEFAULT, "wp:f/WP01", Mode::Exclusive, "5");

    assert_eq!(host.notices.len(), 1);
    let notice = &host.notices[0];
    // A quiet wait first; the notice only once that has not been enough.
    assert_eq!(
        notice.message,
        "waiting for `wp:f/WP01` (lock file `.lock-WP-f-WP01`), held by pid 200 (`cargo test`, \
         alive, for 12s); will wait up to 4.9s"
    );
    assert_eq!((notice.lock_file.as_str(), notice.timeout_ms), (WP1, 4_980));
    assert_eq!(
        host.calls_of(&["try-lock", "waiting", "lock"]),
        [
            "try-lock .lock-feature-f shared",
            "try-lock .lock-WP-f-WP01 exclusive",
            "lock .lock-WP-f-WP01 exclusive 20000000",
            "waiting .lock-WP-f-WP01",
            "lock .lock-WP-f-WP01 exclusive 4980000000",
        ]
    );
    assert_eq!(locks(&lease).len(), 2);
    assert!(
        host.logs_at(Level::Debug)
            .iter()
            .any(|m| m.contains("busy, held by pid 200") && m.contains("waiting up to 4.9s")),
        "{:#?}",
        host.logs
    );
    // The old holder's record was still there: it is replaced, with a warning.
    assert_eq!(host.owner_record(WP1).map(|r| r.pid), Some(ME));
}

#[test]
fn a_lock_freed_during_the_quiet_wait_is_taken_without_a_notice() {
    let mut host = FakeHost::new();
    host.spawn(200, "cargo test");
    host.hold_with_record(WP1, 200, "wp:f/WP01", 12_000);
    host.at(SECOND / 200, Event::Release(WP1, 200));

    let lease = lease(&mut host, &DEFAULT, "wp:f/WP01", Mode::Exclusive, "5");

    assert!(host.notices.is_empty(), "{:#?}", host.notices);
    assert!(
        host.calls_of(&["state", "read-owner"])
            .iter()
            .all(|c| c.starts_with("read-owner"))
    );
    assert_eq!(
        host.calls_of(&["lock"]),
        ["lock .lock-WP-f-WP01 exclusive 20000000"]
    );
    assert_eq!(locks(&lease).len(), 2);
}

#[test]
fn times_out_with_a_fresh_holder_description_and_holds_nothing() {
    let mut host = FakeHost::new();
    host.spawn(200, "cargo test");
    host.hold_with_record(WP1, 200, "wp:f/WP01", 12_000);

    let error = refusal(&mut host, &DEFAULT, "wp:f/WP01", "2");

    let AcquireError::TimedOut(c) = &error else {
        panic!("expected timed out, got {error:?}");
    };
    assert_eq!(c.waited_ms, 2_000);
    assert_eq!(c.holder.held_for_ms, Some(14_000));
    assert_eq!(
        c.message,
        "timed out after 2.0s waiting for `wp:f/WP01` (lock file `.lock-WP-f-WP01`): held by \
         pid 200 (`cargo test`, alive, for 14s)"
    );
    assert_eq!(
        host.calls_of(&["lock"]).len(),
        2,
        "a quiet wait, then the announced one"
    );
    assert_clean(&host);
}

#[test]
fn the_timeout_covers_all_steps_together() {
    let mut host = FakeHost::new();
    host.spawn(200, "feature work");
    host.spawn(201, "wp work");
    host.hold_with_record(FEATURE, 200, "feature:f", 1_000);
    host.hold_with_record(WP1, 201, "wp:f/WP01", 1_000);
    host.at(3 * SECOND, Event::Release(FEATURE, 200));

    let error = refusal(&mut host, &DEFAULT, "wp:f/WP01", "5");

    assert_eq!(
        host.calls_of(&["lock"]),
        [
            "lock .lock-feature-f shared 20000000",
            "lock .lock-feature-f shared 4980000000",
            "lock .lock-WP-f-WP01 exclusive 20000000",
            "lock .lock-WP-f-WP01 exclusive 1980000000",
        ]
    );
    assert_eq!(host.notices.len(), 2);
    assert!(host.notices[1].message.ends_with("will wait up to 1.9s"));
    assert!(
        matches!(&error, AcquireError::TimedOut(c) if c.waited_ms == 5_000 && c.lock_file == WP1)
    );
    assert_clean(&host);
}

#[test]
fn forever_waits_without_a_deadline() {
    let mut host = FakeHost::new();
    host.spawn(200, "cargo test");
    host.hold_with_record(WP1, 200, "wp:f/WP01", 0);
    host.at(3_600 * SECOND, Event::Release(WP1, 200));

    lease(&mut host, &DEFAULT, "wp:f/WP01", Mode::Exclusive, "forever");

    assert_eq!(host.notices[0].timeout_ms, u64::MAX);
    assert!(host.notices[0].message.ends_with("; will wait for ever"));
    assert_eq!(
        host.calls_of(&["lock"]),
        [
            format!("lock {WP1} exclusive 20000000"),
            format!("lock {WP1} exclusive {}", u64::MAX)
        ]
    );
}

#[test]
fn feature_lock_waits_for_work_packages() {
    let mut host = FakeHost::new();
    host.spawn(11, "wp one");
    host.spawn(12, "wp two");
    host.hold(FEATURE, 11, Mode::Shared);
    host.hold(FEATURE, 12, Mode::Shared);

    let error = refusal(&mut host, &DEFAULT, "feature:f", "0");

    assert_eq!(
        contention(&error).message,
        "`feature:f` is busy: lock file `.lock-feature-f` held shared by pids 11, 12"
    );
    assert_eq!(contention(&error).holder.others, [12]);
    assert_clean(&host);
}

#[test]
fn work_packages_of_one_feature_do_not_block_each_other() {
    let mut host = FakeHost::new();
    host.spawn(11, "wp two");
    host.hold(FEATURE, 11, Mode::Shared);
    host.hold_with_record(".lock-WP-f-WP02", 11, "wp:f/WP02", 0);

    let lease = lease(&mut host, &DEFAULT, "wp:f/WP01", Mode::Exclusive, "0");

    assert_eq!(lease.locks.len(), 2);
}

#[test]
fn a_held_feature_keeps_new_work_packages_out() {
    let mut host = FakeHost::new();
    host.spawn(11, "refactor");
    host.hold_with_record(FEATURE, 11, "feature:f", 0);

    let error = refusal(&mut host, &DEFAULT, "wp:f/WP09", "0");

    assert_eq!(contention(&error).lock_file, FEATURE);
    assert!(host.calls_of(&["open"]) == ["open .lock-feature-f"]);
    assert_clean(&host);
}

#[test]
fn configs_are_independent_of_features() {
    let mut host = FakeHost::new();
    host.hold(FEATURE, 11, Mode::Exclusive);

    let lease = lease(&mut host, &DEFAULT, "config:f", Mode::Exclusive, "0");

    assert_eq!(locks(&lease), [(".lock-config-f", Mode::Exclusive, true)]);
}

#[test]
fn host_failures_are_never_treated_as_busy_and_leave_nothing_held() {
    for (op, file) in [
        ("open", FEATURE),
        ("try-lock", FEATURE),
        ("open", WP1),
        ("try-lock", WP1),
        ("lock", WP1),
        ("read-owner", WP1),
        ("write-owner", WP1),
    ] {
        for code in [
            ErrorCode::PermissionDenied,
            ErrorCode::Unsupported,
            ErrorCode::Other,
        ] {
            let mut host = FakeHost::new();
            host.spawn(200, "cargo test");
            host.hold_with_record(WP1, 200, "wp:f/WP01", 0);
            if op != "lock" {
                host.at(SECOND, Event::Release(WP1, 200));
            }
            host.fail(op, file, code);

            let error = refusal(&mut host, &DEFAULT, "wp:f/WP01", "5");

            assert!(
                matches!(&error, AcquireError::Failed(f) if f.lock_file == file && f.failure.code == code),
                "{op} {file}: {error:?}"
            );
            // Nothing is tried again after the failure that ended it.
            let last_failing = host
                .calls
                .iter()
                .rposition(|c| c.starts_with(&format!("{op} {file}")))
                .expect("the failing operation was called");
            assert!(
                !host.calls[last_failing + 1..]
                    .iter()
                    .any(|c| c.starts_with("lock ")),
                "{op} retried: {:#?}",
                host.calls
            );
            assert_eq!(host.owner_record(WP1).map(|r| r.pid), Some(200), "{op}");
            assert_clean(&host);
        }
    }
}

#[test]
fn a_second_acquire_in_the_same_process_fails_instead_of_hanging() {
    let mut host = FakeHost::new();
    let first = lease(&mut host, &DEFAULT, "wp:f/WP01", Mode::Exclusive, "5");

    let error = refusal(&mut host, &DEFAULT, "wp:f/WP01", "5");

    assert!(matches!(
        &error,
        AcquireError::Failed(f) if f.failure.code == ErrorCode::HeldByThisProcess
    ));
    assert!(host.calls_of(&["lock", "waiting"]).is_empty());
    assert_eq!(
        host.open_handles().len(),
        2,
        "only the first lease's handles stay open"
    );
    assert_eq!(release(&mut host, &first), Ok(()));
    assert_clean(&host);
}

#[test]
fn a_leftover_record_is_replaced_with_one_warning() {
    let mut host = FakeHost::new();
    host.spawn(300, "old job");
    let old = host.record_of(300, "wp:f/WP01", 60_000);
    host.put_owner(WP1, old);
    host.kill(300);

    lease(&mut host, &DEFAULT, "wp:f/WP01", Mode::Exclusive, "0");

    let warnings = host.logs_at(Level::Warn);
    assert_eq!(
        warnings,
        [
            "leftover owner record beside lock file `.lock-WP-f-WP01` replaced: pid 300 \
          (`old job`, on `here`, gone, taken 1m 0s ago)"
        ]
    );
    assert_eq!(host.owner_record(WP1).map(|r| r.pid), Some(ME));
}

#[test]
fn unreadable_records_are_replaced_with_one_warning() {
    let full = FakeHost::new().record_of(300, "wp:f/WP01", 0);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"garbage".to_vec(), "not an owner record"),
        (Vec::new(), "empty"),
        (full[..full.len() - 5].to_vec(), "not an owner record"),
        (b"{\"pid\":\"\xff\"}".to_vec(), "not UTF-8"),
    ];
    for (bytes, reason) in cases {
        let mut host = FakeHost::new();
        host.put_owner(WP1, bytes);

        lease(&mut host, &DEFAULT, "wp:f/WP01", Mode::Exclusive, "0");

        let warnings = host.logs_at(Level::Warn);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].starts_with("unreadable owner record beside lock file `.lock-WP-f-WP01` (")
                && warnings[0].contains(reason)
                && warnings[0].ends_with(") replaced"),
            "{warnings:?}"
        );
        assert_eq!(host.owner_record(WP1).map(|r| r.pid), Some(ME));
    }

    let mut host = FakeHost::new();
    host.put_owner(WP1, b"x".to_vec());
    host.fail("read-owner", WP1, ErrorCode::TooLarge);

    lease(&mut host, &DEFAULT, "wp:f/WP01", Mode::Exclusive, "0");

    assert_eq!(
        host.logs_at(Level::Warn),
        [
            "unreadable owner record beside lock file `.lock-WP-f-WP01` (larger than the host \
          reads) replaced"
        ]
    );
}

#[test]
fn a_holder_without_a_record_is_described_from_the_lock_table() {
    let mut host = FakeHost::new();
    host.spawn(400, "python x.py");
    host.hold(WP1, 400, Mode::Exclusive);

    let error = refusal(&mut host, &DEFAULT, "wp:f/WP01", "0");

    let c = contention(&error);
    assert_eq!(
        c.message,
        "`wp:f/WP01` is busy: lock file `.lock-WP-f-WP01` held by pid 400 (`python x.py`, \
         alive, not a wardlock holder or no owner record)"
    );
    assert_eq!(
        (c.holder.since.as_ref(), c.holder.held_for_ms),
        (None, None)
    );
}

#[test]
fn a_record_the_lock_table_contradicts_is_not_the_holder() {
    let mut host = FakeHost::new();
    host.spawn(300, "old job");
    let old = host.record_of(300, "wp:f/WP01", 60_000);
    host.put_owner(WP1, old);
    host.kill(300);
    host.spawn(400, "daemon");
    host.hold(WP1, 400, Mode::Exclusive);

    let error = refusal(&mut host, &DEFAULT, "wp:f/WP01", "0");

    let c = contention(&error);
    assert_eq!(c.holder.pid, Some(400));
    assert_eq!(c.holder.command.as_deref(), Some("daemon"));
    assert!(
        matches!(error, AcquireError::Busy(_)),
        "default policy does not refuse"
    );
}

#[test]
fn without_a_lock_table_the_record_describes_the_holder() {
    let mut host = FakeHost::new();
    host.hide_pids = true;
    host.spawn(200, "cargo test");
    host.hold_with_record(WP1, 200, "wp:f/WP01", 90_000);

    let error = refusal(&mut host, &DEFAULT, "wp:f/WP01", "0");

    assert!(
        contention(&error)
            .message
            .ends_with("held by pid 200 (`cargo test`, alive, for 1m 30s)")
    );
    assert!(host.calls_of(&["lookup"]).is_empty());
}

#[test]
fn a_holder_on_another_host_is_named_and_never_gone() {
    let mut host = FakeHost::new();
    host.hide_pids = true;
    let record = OwnerRecord {
        host: "elsewhere".to_owned(),
        ..OwnerRecord::decode(&host.record_of(777, "wp:f/WP01", 0)).expect("valid")
    };
    host.hold(WP1, 777, Mode::Exclusive);
    host.put_owner(WP1, record.encode());

    let error = refusal(&mut host, &STRICT, "wp:f/WP01", "0");

    assert!(matches!(error, AcquireError::Busy(_)), "{error:?}");
    assert!(
        contention(&error)
            .message
            .contains("on `elsewhere`, liveness unknown"),
        "{error:?}"
    );
}

#[test]
fn strict_refuses_an_orphaned_holder_after_a_short_grace() {
    let mut host = FakeHost::new();
    host.spawn(300, "make build");
    let old = host.record_of(300, "wp:f/WP01", 60_000);
    host.put_owner(WP1, old);
    host.kill(300);
    host.spawn(400, "sshd");
    host.hold(WP1, 400, Mode::Exclusive);

    let error = refusal(&mut host, &STRICT, "wp:f/WP01", "30");

    let AcquireError::Refused(c) = &error else {
        panic!("expected refused, got {error:?}");
    };
    assert_eq!(
        c.message,
        "refusing to wait for `wp:f/WP01` (lock file `.lock-WP-f-WP01`): held by pid 400 \
         (`sshd`, alive, not a wardlock holder or no owner record); its owner record names \
         pid 300 (`make build`), which is gone, so the lock was probably inherited by another \
         process"
    );
    assert_eq!(c.waited_ms, 250);
    assert_eq!(
        host.calls_of(&["lock"]),
        [format!("lock {WP1} exclusive {ORPHAN_GRACE_NS}")]
    );
    assert!(host.notices.is_empty());
    assert_clean(&host);
}

#[test]
fn strict_takes_a_lock_freed_during_the_grace() {
    let mut host = FakeHost::new();
    host.hide_pids = true;
    host.hold_with_record(WP1, 300, "wp:f/WP01", 0);
    host.kill(300);
    host.at(ORPHAN_GRACE_NS / 2, Event::Release(WP1, 300));

    let lease = lease(&mut host, &STRICT, "wp:f/WP01", Mode::Exclusive, "5");

    assert_eq!(lease.locks.len(), 2);
    assert!(host.notices.is_empty());
    assert_eq!(host.calls_of(&["lock"]).len(), 1);
    assert_eq!(
        host.logs_at(Level::Warn).len(),
        1,
        "the orphan's record is replaced"
    );
}

#[test]
fn strict_refuses_when_the_recorded_pid_was_reused() {
    let mut host = FakeHost::new();
    host.hide_pids = true;
    host.hold_with_record(WP1, 300, "wp:f/WP01", 0);
    host.kill(300);
    host.spawn(300, "unrelated");
    // The fake gives every spawn the same token; make this one differ.
    if let Some(p) = host.processes.get_mut(&300) {
        p.start_token = "boot:ns:other".to_owned();
    }

    let error = refusal(&mut host, &STRICT, "wp:f/WP01", "0");

    assert!(
        matches!(&error, AcquireError::Refused(c) if c.message.contains("which is pid reused"))
    );
    assert!(
        host.calls_of(&["lock"]).is_empty(),
        "timeout zero: no grace"
    );
    assert_clean(&host);
}

#[test]
fn strict_waits_for_a_new_holder_that_writes_its_record_during_the_grace() {
    let mut host = FakeHost::new();
    host.spawn(300, "old job");
    let old = host.record_of(300, "wp:f/WP01", 60_000);
    host.put_owner(WP1, old);
    host.kill(300);
    host.spawn(400, "new job");
    host.hold(WP1, 400, Mode::Exclusive);
    let new = host.record_of(400, "wp:f/WP01", 0);
    host.at(SECOND / 10, Event::WriteOwner(WP1, new));
    host.at(3 * SECOND, Event::Release(WP1, 400));

    lease(&mut host, &STRICT, "wp:f/WP01", Mode::Exclusive, "10");

    assert_eq!(host.notices.len(), 1);
    assert!(
        host.notices[0]
            .message
            .contains("held by pid 400 (`new job`, alive")
    );
    assert_eq!(
        host.calls_of(&["lock"]),
        [
            format!("lock {WP1} exclusive {ORPHAN_GRACE_NS}"),
            format!("lock {WP1} exclusive {}", 10 * SECOND - ORPHAN_GRACE_NS),
        ]
    );
}

#[test]
fn strict_waits_for_a_live_holder_like_default() {
    let mut host = FakeHost::new();
    host.spawn(200, "cargo test");
    host.hold_with_record(WP1, 200, "wp:f/WP01", 0);
    host.at(SECOND, Event::Release(WP1, 200));

    lease(&mut host, &STRICT, "wp:f/WP01", Mode::Exclusive, "5");

    assert_eq!(host.notices.len(), 1);
}

#[test]
fn strict_does_not_call_shared_holders_orphans_of_an_old_record() {
    let mut host = FakeHost::new();
    host.spawn(300, "old refactor");
    let old = host.record_of(300, "feature:f", 60_000);
    host.put_owner(FEATURE, old);
    host.kill(300);
    host.spawn(11, "wp one");
    host.hold(FEATURE, 11, Mode::Shared);

    let error = refusal(&mut host, &STRICT, "feature:f", "0");

    assert!(matches!(error, AcquireError::Busy(_)), "{error:?}");
}

#[test]
fn default_waits_for_an_orphaned_holder() {
    let mut host = FakeHost::new();
    host.hide_pids = true;
    host.hold_with_record(WP1, 300, "wp:f/WP01", 0);
    host.kill(300);

    let error = refusal(&mut host, &DEFAULT, "wp:f/WP01", "1");

    assert!(matches!(&error, AcquireError::TimedOut(c) if c.holder.liveness == Liveness::Gone));
    assert_eq!(host.notices.len(), 1);
    assert!(host.notices[0].message.contains("gone"));
}

#[test]
fn a_failing_holder_description_does_not_turn_busy_into_failed() {
    let mut host = FakeHost::new();
    host.hold(WP1, 400, Mode::Exclusive);
    host.fail("state", WP1, ErrorCode::Other);

    let error = refusal(&mut host, &DEFAULT, "wp:f/WP01", "0");

    assert!(matches!(&error, AcquireError::Busy(c) if c.holder.pid.is_none()));
    assert!(
        contention(&error)
            .message
            .ends_with("held by a process the host cannot see")
    );
    assert_eq!(host.logs_at(Level::Warn).len(), 1);
    assert_clean(&host);
}

/// Find a lock file's status.
fn status_of<'a>(all: &'a [LockStatus], name: &str) -> &'a LockStatus {
    all.iter()
        .find(|s| s.lock_file == name)
        .unwrap_or_else(|| panic!("{name} missing from {all:#?}"))
}

#[test]
fn status_shows_every_file_its_holder_and_stale_records_without_locking() {
    let mut host = FakeHost::new();
    host.spawn(200, "cargo test");
    host.spawn(11, "wp work");
    host.hold(FEATURE, 11, Mode::Shared);
    host.hold_with_record(WP1, 200, "wp:f/WP01", 5_000);
    host.spawn(300, "old job");
    let old = host.record_of(300, "config:c", 0);
    host.put_owner(".lock-config-c", old);
    host.kill(300);
    host.hold("build.lock", 500, Mode::Exclusive);
    host.put_owner(".lock-WP-f-WP02", Vec::new());
    host.calls.clear();

    let all = status(&mut host).expect("status");

    let names: Vec<_> = all.iter().map(|s| s.lock_file.as_str()).collect();
    assert_eq!(
        names,
        [
            ".lock-WP-f-WP01",
            ".lock-WP-f-WP02",
            ".lock-config-c",
            FEATURE,
            "build.lock"
        ]
    );
    let wp = status_of(&all, WP1);
    assert_eq!(
        (wp.resource.as_deref(), wp.held, wp.stale_record),
        (Some("wp:f/WP01"), Some(Mode::Exclusive), false)
    );
    assert_eq!(wp.holder.as_ref().and_then(|h| h.pid), Some(200));
    let unreadable = status_of(&all, ".lock-WP-f-WP02");
    assert!(unreadable.stale_record && unreadable.holder.is_none());
    let config = status_of(&all, ".lock-config-c");
    assert_eq!((config.held, config.stale_record), (None, true));
    assert_eq!(
        config.holder.as_ref().map(|h| (h.pid, h.liveness)),
        Some((Some(300), Liveness::Gone))
    );
    let feature = status_of(&all, FEATURE);
    assert_eq!(
        (feature.held, feature.stale_record),
        (Some(Mode::Shared), false)
    );
    let foreign = status_of(&all, "build.lock");
    assert_eq!(
        (foreign.resource.as_ref(), foreign.held),
        (None, Some(Mode::Exclusive))
    );
    assert!(
        host.calls_of(&["try-lock", "lock", "write-owner", "clear-owner"])
            .is_empty()
    );
    assert_clean(&host);
}

#[test]
fn status_calls_a_record_stale_when_another_pid_holds_the_lock() {
    let mut host = FakeHost::new();
    host.spawn(200, "cargo test");
    let record = host.record_of(200, "wp:f/WP01", 0);
    host.put_owner(WP1, record);
    host.hold(WP1, 400, Mode::Exclusive);

    let all = status(&mut host).expect("status");

    assert!(status_of(&all, WP1).stale_record);
    assert_eq!(
        status_of(&all, WP1).holder.as_ref().and_then(|h| h.pid),
        Some(400)
    );
}

#[test]
fn status_calls_a_record_stale_when_its_pid_holds_the_lock_only_shared() {
    let mut host = FakeHost::new();
    host.spawn(200, "cargo test");
    let record = host.record_of(200, "config:c", 0);
    host.put_owner(".lock-config-c", record);
    host.hold(".lock-config-c", 200, Mode::Shared);

    let all = status(&mut host).expect("status");

    let config = status_of(&all, ".lock-config-c");
    assert_eq!(
        (config.held, config.stale_record),
        (Some(Mode::Shared), true)
    );
}

#[test]
fn status_skips_files_that_vanish_and_fails_on_real_failures() {
    let mut host = FakeHost::new();
    host.hold(WP1, 400, Mode::Exclusive);
    host.hold(FEATURE, 401, Mode::Exclusive);
    host.fail("open", WP1, ErrorCode::NotFound);

    let all = status(&mut host).expect("status");

    assert_eq!(all.len(), 1);
    assert_eq!(all[0].lock_file, FEATURE);

    host.fail("read-owner", FEATURE, ErrorCode::PermissionDenied);
    let failure = status(&mut host).expect_err("permission denied");
    assert_eq!(failure.lock_file, FEATURE);
    assert_clean(&host);

    host.fail("list-files", "", ErrorCode::NotFound);
    assert_eq!(
        status(&mut host).map_err(|f| (f.lock_file, f.failure.code)),
        Err((String::new(), ErrorCode::NotFound))
    );
}

#[test]
fn user_facing_messages_are_one_lowercase_line() {
    let mut host = FakeHost::new();
    host.spawn(200, "evil\ncommand `rm -rf`\u{1b}[31m");
    host.hold_with_record(WP1, 200, "wp:f/WP01", 0);

    let error = refusal(&mut host, &DEFAULT, "wp:f/WP01", "0.5");

    let message = &contention(&error).message;
    assert!(
        message.contains("`evil\\ncommand 'rm -rf'\\u{1b}[31m`"),
        "{message}"
    );
    for text in host.notices.iter().map(|n| &n.message).chain([message]) {
        assert!(!text.contains('\n') && !text.contains('\u{1b}'), "{text:?}");
        assert!(!text.ends_with('.'), "{text}");
        assert!(!text.starts_with(|c: char| c.is_uppercase()), "{text}");
    }
}

/// A small deterministic generator for arbitrary inputs.
struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A short string drawn from characters that matter to the parsers.
    fn text(&mut self) -> String {
        const PIECES: [&str; 24] = [
            "wp:", "feature:", "config:", "WP", "wp", "/", "\\", ".", "..", "-", "_", "0", "9",
            "a", "Z", " ", "\0", "é", ":", "owner", "ms", "inf", "nan", "\u{1b}",
        ];
        let len = self.next() % 8;
        (0..len)
            .map(|_| PIECES[(self.next() % PIECES.len() as u64) as usize])
            .collect()
    }
}

#[test]
fn arbitrary_inputs_never_panic_and_either_validate_or_explain() {
    let mut rng = Xorshift(0x9e37_79b9_7f4a_7c15);
    let mut accepted = 0;

    for _ in 0..20_000 {
        let resource = rng.text();
        let timeout = rng.text();
        let result = plan(&DEFAULT, &resource, Mode::Exclusive, Some(&timeout));

        match result {
            Ok(p) => {
                accepted += 1;
                let own = &p.steps[p.steps.len() - 1].lock_file;
                assert_eq!(
                    crate::resource::Resource::from_lock_file(own).map(|r| r.to_string()),
                    Some(p.resource.clone())
                );
            }
            Err(RequestError::InvalidResource(m) | RequestError::InvalidTimeout(m)) => {
                assert!(
                    !m.is_empty() && !m.contains('\n') && !m.ends_with('.'),
                    "{m:?}"
                );
            }
        }
    }

    assert!(
        accepted > 0,
        "the generator should produce some valid requests"
    );
}

#[test]
fn arbitrary_owner_records_never_panic() {
    let mut rng = Xorshift(42);
    for _ in 0..2_000 {
        let mut host = FakeHost::new();
        let len = rng.next() % 64;
        let bytes: Vec<u8> = (0..len).map(|_| (rng.next() % 256) as u8).collect();
        host.put_owner(WP1, bytes);
        host.hold(WP1, 400, Mode::Exclusive);

        let _ = acquire(&mut host, &STRICT, "wp:f/WP01", Mode::Exclusive, Some("0"));
        let _ = status(&mut host);

        assert_clean(&host);
    }
}
