//! The Rust library: guards, threads, errors, and a policy that misbehaves.

mod common;

use std::sync::{Arc, Barrier, mpsc};
use std::time::Duration;

use common::*;
use wardlock::{Error, ErrorCode, LockDir, Mode, Options, Policy, Timeout};

fn open(p: &Project) -> LockDir {
    LockDir::open(p.dir(), Policy::embedded().expect("embedded policy")).expect("lock dir")
}

#[test]
fn guards_are_send_and_sync_and_release_on_drop() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<LockDir>();
    assert_send_sync::<wardlock::Guard>();
    let p = Project::new();
    let dir = open(&p);

    let guard = dir.acquire(
        "wp:feat/WP01",
        Mode::Exclusive,
        &Timeout::After(Duration::ZERO),
    );
    let guard = guard.expect("free lock");
    assert_eq!(guard.resource(), "wp:feat/WP01");
    assert_eq!(
        guard.lock_files(),
        [".lock-feature-feat", ".lock-WP-feat-WP01"]
    );
    let moved = std::thread::spawn(move || drop(guard));
    moved.join().unwrap();

    let again = p.output(&["run", "--timeout", "0", "wp:feat/WP01", "--", "true"]);
    assert_eq!(
        code(&again),
        0,
        "released when dropped on another thread: {}",
        stderr(&again)
    );
    let record = std::fs::read(p.dir().join(".lock-WP-feat-WP01.owner"));
    assert!(
        record.is_ok_and(|bytes| bytes.is_empty()),
        "a clean release clears the owner record"
    );
}

#[test]
fn a_thread_waiting_for_one_lock_does_not_hold_up_another() {
    let p = Project::new();
    let marker = p.file("held");
    let mut holder = p.spawn_run(
        "wp:feat/WP01",
        &[],
        &format!("touch '{}'; sleep 30", marker.display()),
    );
    wait_for_file(&marker);
    let dir = open(&p);

    let (started, waiting) = mpsc::channel();
    let waiter = {
        let dir = dir.clone();
        std::thread::spawn(move || {
            started.send(()).unwrap();
            dir.acquire(
                "wp:feat/WP01",
                Mode::Exclusive,
                &Timeout::After(Duration::from_secs(10)),
            )
            .map(|g| g.release())
        })
    };
    waiting.recv().unwrap();
    std::thread::sleep(Duration::from_millis(100));

    // While that thread waits, this one takes and gives back other locks.
    for resource in ["config:a", "wp:feat/WP02", "wp:other/WP01"] {
        let guard = dir.acquire(resource, Mode::Exclusive, &Timeout::After(Duration::ZERO));
        guard
            .expect("another resource is free")
            .release()
            .expect("release");
    }
    assert!(
        !waiter.is_finished(),
        "the waiter is still waiting for the held lock"
    );

    let _ = holder.kill();
    let _ = holder.wait();
    let acquired = waiter.join().unwrap();
    assert!(
        acquired.is_ok(),
        "the waiter got the lock once the holder died: {acquired:?}"
    );
}

#[test]
fn reacquiring_in_the_same_process_is_an_immediate_error_not_a_hang() {
    let p = Project::new();
    let dir = open(&p);
    let held = dir
        .acquire("wp:feat/WP01", Mode::Exclusive, &Timeout::Default)
        .unwrap();

    let same = dir.acquire(
        "wp:feat/WP01",
        Mode::Exclusive,
        &Timeout::After(Duration::from_secs(60)),
    );
    let feature = open(&p).acquire("feature:feat", Mode::Exclusive, &Timeout::Forever);

    for result in [same, feature] {
        match result {
            Err(Error::Lock {
                code: ErrorCode::HeldByThisProcess,
                message,
                ..
            }) => {
                assert!(
                    message.contains("already held by this process"),
                    "{message}"
                )
            }
            other => panic!("expected held-by-this-process, got {other:?}"),
        }
    }
    // Shared with shared is no conflict: another work package of the feature.
    let sibling = dir.acquire(
        "wp:feat/WP02",
        Mode::Exclusive,
        &Timeout::After(Duration::ZERO),
    );
    assert!(sibling.is_ok(), "{sibling:?}");
    drop(held);
}

#[test]
fn invalid_input_is_told_apart_from_contention_and_failure() {
    let p = Project::new();
    let dir = open(&p);

    let nul = dir.acquire("feature:a\0b", Mode::Exclusive, &Timeout::Default);
    let nan = dir.acquire("feature:a", Mode::Exclusive, &Timeout::Text("nan".into()));

    assert!(
        matches!(&nul, Err(Error::InvalidResource(why)) if why.contains("NUL")),
        "{nul:?}"
    );
    assert!(matches!(&nan, Err(Error::InvalidTimeout(_))), "{nan:?}");
    assert!(nul.unwrap_err().contention().is_none());
    assert!(p.lock_names().is_empty());
}

#[test]
fn a_missing_lock_directory_is_named_in_the_error() {
    let p = Project::new();

    let err = LockDir::open(p.root().join("absent"), Policy::embedded().unwrap()).unwrap_err();

    assert!(
        matches!(
            &err,
            Error::Dir {
                code: ErrorCode::NotFound,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("absent") && err.to_string().contains("does not exist"));
}

#[test]
fn waiters_are_told_who_holds_the_lock() {
    let p = Project::new();
    let marker = p.file("held");
    let mut holder = p.spawn_run(
        "config:deploy",
        &[],
        &format!("touch '{}'; sleep 30", marker.display()),
    );
    wait_for_file(&marker);
    let (tx, rx) = mpsc::channel();
    let on_wait: wardlock::WaitHandler = Arc::new(move |n| tx.send(n.clone()).unwrap());
    let options = Options {
        command: Some("test".into()),
        on_wait: Some(on_wait),
    };
    let dir = LockDir::open_with(p.dir(), Policy::embedded().unwrap(), options).unwrap();

    let result = dir.acquire(
        "config:deploy",
        Mode::Exclusive,
        &Timeout::After(Duration::from_millis(200)),
    );

    let notice = rx.try_recv().expect("one waiting notice");
    assert_eq!(notice.resource, "config:deploy");
    assert_eq!(notice.lock_file, ".lock-config-deploy");
    assert!(
        notice.message.contains(&format!("pid {}", holder.id())),
        "{}",
        notice.message
    );
    let contention = match result {
        Err(Error::TimedOut(c)) => c,
        other => panic!("expected a timeout, got {other:?}"),
    };
    assert_eq!(contention.holder.pid, Some(holder.id()));
    let _ = holder.kill();
    let _ = holder.wait();
}

#[test]
fn many_threads_never_hold_one_resource_at_once() {
    // Each thread uses its own lock directory instance, as separate
    // programs would; in-process conflicts on one instance are refused.
    let p = Project::new();
    let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let barrier = Arc::new(Barrier::new(4));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (dir, counter, barrier) = (p.dir(), counter.clone(), barrier.clone());
            std::thread::spawn(move || {
                let locks = LockDir::open(dir, Policy::embedded().unwrap()).unwrap();
                barrier.wait();
                let mut refused = 0;
                for _ in 0..50 {
                    match locks.acquire(
                        "config:x",
                        Mode::Exclusive,
                        &Timeout::After(Duration::ZERO),
                    ) {
                        Ok(guard) => {
                            let inside = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            assert_eq!(inside, 0, "two holders at once");
                            counter.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                            drop(guard);
                        }
                        Err(Error::Lock {
                            code: ErrorCode::HeldByThisProcess,
                            ..
                        }) => refused += 1,
                        Err(Error::Busy(_)) => refused += 1,
                        Err(other) => panic!("{other}"),
                    }
                }
                refused
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}
