"""The Python API end to end: real lock files in a fresh directory, real
holder processes, every wait bounded."""

from __future__ import annotations

import json
import math
import os
import shutil
import threading
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import wasmtime
from conftest import PATIENCE, Processes, Rust

import wardlock


def test_acquire_writes_an_owner_record_and_release_clears_it(lock_dir: Path) -> None:
    locks = wardlock.LockDir(lock_dir, command="make build")

    guard = locks.acquire("wp:feat/wp1", timeout=0)

    assert guard.resource == "wp:feat/WP01"
    assert guard.mode == wardlock.Mode.EXCLUSIVE
    assert guard.lock_files == (".lock-feature-feat", ".lock-WP-feat-WP01")
    record = json.loads((lock_dir / ".lock-WP-feat-WP01.owner").read_text())
    assert record["pid"] == os.getpid()
    assert record["command"] == "make build"
    assert record["resource"] == "wp:feat/WP01"
    assert record["start_token"].startswith("linux:")

    guard.release()

    assert not guard.held
    assert sorted(os.listdir(lock_dir)) == [".lock-WP-feat-WP01", ".lock-feature-feat"]
    guard.release()  # a second release is a no-op


def test_context_manager_releases_on_exit_even_on_error(lock_dir: Path) -> None:
    locks = wardlock.LockDir(lock_dir)

    with pytest.raises(RuntimeError):
        with locks.acquire("config:ci", timeout=0) as guard:
            assert guard.held
            raise RuntimeError("boom")

    assert not guard.held
    locks.acquire("config:ci", timeout=0).release()


def test_busy_names_the_holding_process(lock_dir: Path, processes: Processes) -> None:
    holder = processes.python_holder("config:ci", label="pytest holder")
    locks = wardlock.LockDir(lock_dir)

    with pytest.raises(wardlock.Busy) as raised:
        locks.acquire("config:ci", timeout=0)

    busy = raised.value
    assert isinstance(busy, wardlock.Contention)
    assert busy.resource == "config:ci"
    assert busy.lock_file == ".lock-config-ci"
    assert busy.holder.pid == holder.pid
    assert busy.holder.command == "pytest holder"
    assert busy.holder.liveness == wardlock.Liveness.ALIVE
    assert f"held by pid {holder.pid}" in busy.message
    assert str(busy) == busy.message


def test_a_held_lock_times_out_after_telling_the_waiter(
    lock_dir: Path, processes: Processes
) -> None:
    holder = processes.python_holder("config:ci")
    notices: list[wardlock.WaitNotice] = []
    locks = wardlock.LockDir(lock_dir, on_wait=notices.append)

    start = time.monotonic()
    with pytest.raises(wardlock.TimedOut) as raised:
        locks.acquire("config:ci", timeout=0.3)
    elapsed = time.monotonic() - start

    assert 0.29 <= elapsed < 5, elapsed
    assert raised.value.holder.pid == holder.pid
    assert "timed out" in raised.value.message
    assert [n.lock_file for n in notices] == [".lock-config-ci"]
    assert 0 < notices[0].timeout_ms <= 300  # what is left of the timeout
    assert f"pid {holder.pid}" in notices[0].message


def test_a_waiter_is_woken_as_soon_as_the_holder_releases(
    lock_dir: Path, processes: Processes
) -> None:
    holder = processes.python_holder("config:ci")
    waiting = threading.Event()
    locks = wardlock.LockDir(lock_dir, on_wait=lambda _: waiting.set())
    acquired: list[float] = []

    def waiter() -> None:
        with locks.acquire("config:ci", timeout=PATIENCE):
            acquired.append(time.monotonic())

    thread = threading.Thread(target=waiter)
    thread.start()
    assert waiting.wait(PATIENCE)
    holder.release()
    released = time.monotonic()
    thread.join(PATIENCE)

    assert acquired, "the waiter never acquired"
    assert acquired[0] - released < 2.0


def test_every_timeout_form_reaches_the_policy(lock_dir: Path) -> None:
    locks = wardlock.LockDir(lock_dir)

    def timeout_ms(timeout: wardlock.TimeoutLike) -> int | None:
        return locks.plan("config:ci", timeout=timeout).timeout_ms

    assert timeout_ms(None) == locks.policy_info.default_timeout_ms
    assert timeout_ms(0) == 0
    assert timeout_ms(0.0) == 0
    assert timeout_ms(1.5) == 1500
    assert timeout_ms(2) == 2000
    assert timeout_ms(Decimal("0.25")) == 250
    assert timeout_ms(timedelta(milliseconds=250)) == 250
    assert timeout_ms(0.1) == 100
    assert timeout_ms(1e-7) == 1
    assert timeout_ms("250ms") == 250
    assert timeout_ms(math.inf) is None
    assert timeout_ms("inf") is None
    with pytest.raises(TypeError):
        timeout_ms(True)


@pytest.mark.parametrize(
    ("timeout", "words"),
    [
        (-1, "negative"),
        (-0.5, "negative"),
        (math.nan, "not a number"),
        (-math.inf, "negative"),
        ("abc", "unknown unit"),
    ],
)
def test_invalid_timeouts_are_refused_before_touching_anything(
    lock_dir: Path, timeout: wardlock.TimeoutLike, words: str
) -> None:
    locks = wardlock.LockDir(lock_dir)

    with pytest.raises(wardlock.InvalidTimeout) as raised:
        locks.acquire("config:ci", timeout=timeout)

    assert isinstance(raised.value, wardlock.InvalidInput)
    assert isinstance(raised.value, ValueError)
    assert words in raised.value.message
    assert os.listdir(lock_dir) == []


def test_invalid_resources_are_refused_with_the_rule_they_break(lock_dir: Path) -> None:
    locks = wardlock.LockDir(lock_dir)

    with pytest.raises(wardlock.InvalidResource) as raised:
        locks.acquire("wp:feat/WP12345")

    assert isinstance(raised.value, ValueError)
    assert "1 to 4 digits" in raised.value.message
    assert os.listdir(lock_dir) == []
    with pytest.raises(wardlock.InvalidResource):
        locks.plan("Feature:x")


def test_a_missing_lock_directory_is_a_lock_failure(tmp_path: Path, default_policy: str) -> None:
    with pytest.raises(wardlock.LockFailure) as raised:
        wardlock.LockDir(tmp_path / "missing")

    assert isinstance(raised.value, OSError)
    assert raised.value.code == "not-found"
    assert raised.value.filename == str(tmp_path / "missing")
    assert "does not exist" in str(raised.value)
    assert not (tmp_path / "missing").exists()


def test_a_file_where_the_directory_should_be_is_a_lock_failure(
    tmp_path: Path, default_policy: str
) -> None:
    (tmp_path / "file").write_text("")

    with pytest.raises(wardlock.LockFailure) as raised:
        wardlock.LockDir(tmp_path / "file")

    assert "not a directory" in str(raised.value)


def test_a_conflicting_lock_held_by_this_process_fails_at_once(lock_dir: Path) -> None:
    locks = wardlock.LockDir(lock_dir)
    other = wardlock.LockDir(lock_dir)

    with locks.acquire("config:ci", timeout=0):
        start = time.monotonic()
        with pytest.raises(wardlock.LockFailure) as raised:
            other.acquire("config:ci", timeout=10)

        assert time.monotonic() - start < 2
        assert raised.value.code == "held-by-this-process"
        assert raised.value.lock_file == ".lock-config-ci"

    with locks.acquire("config:ci", shared=True), other.acquire("config:ci", shared=True):
        pass


def test_a_waiting_thread_does_not_hold_up_other_threads(
    lock_dir: Path, processes: Processes
) -> None:
    holder = processes.python_holder("config:busy")
    waiting = threading.Event()
    locks = wardlock.LockDir(lock_dir, on_wait=lambda _: waiting.set())
    outcome: list[str] = []

    def waiter() -> None:
        with locks.acquire("config:busy", timeout=PATIENCE):
            outcome.append("acquired")

    thread = threading.Thread(target=waiter)
    thread.start()
    assert waiting.wait(PATIENCE)

    # While that thread waits in the kernel, this one goes on unhindered.
    start = time.monotonic()
    with locks.acquire("config:free", timeout=0):
        statuses = {s.lock_file: s for s in locks.status()}
    locks.plan("wp:feat/WP01")
    assert time.monotonic() - start < 2
    assert thread.is_alive() and not outcome
    assert statuses[".lock-config-busy"].holder is not None
    assert statuses[".lock-config-busy"].holder.pid == holder.pid

    holder.release()
    thread.join(PATIENCE)
    assert outcome == ["acquired"]


def test_a_symbolic_link_or_directory_at_a_lock_path_is_refused(
    lock_dir: Path, tmp_path: Path
) -> None:
    target = tmp_path / "target"
    target.write_text("precious")
    (lock_dir / ".lock-config-link").symlink_to(target)
    (lock_dir / ".lock-config-dir").mkdir()
    locks = wardlock.LockDir(lock_dir)

    for resource in ("config:link", "config:dir"):
        with pytest.raises(wardlock.LockFailure) as raised:
            locks.acquire(resource, timeout=0)
        assert raised.value.code == "not-regular-file", raised.value

    assert target.read_text() == "precious"


def test_lock_files_and_owner_records_get_their_modes_whatever_the_umask(
    lock_dir: Path,
) -> None:
    locks = wardlock.LockDir(lock_dir)
    old = os.umask(0o077)
    try:
        guard = locks.acquire("config:ci", timeout=0)
    finally:
        os.umask(old)

    assert (lock_dir / ".lock-config-ci").stat().st_mode & 0o777 == 0o664
    assert (lock_dir / ".lock-config-ci.owner").stat().st_mode & 0o777 == 0o644
    guard.release()


def test_a_lock_file_removed_while_held_is_reported_as_lost(lock_dir: Path) -> None:
    locks = wardlock.LockDir(lock_dir)
    guard = locks.acquire("config:ci", timeout=0)
    assert guard.lost_lock_files() == []

    (lock_dir / ".lock-config-ci").unlink()

    assert guard.lost_lock_files() == [".lock-config-ci"]
    guard.release()


def test_status_lists_lock_files_only(lock_dir: Path) -> None:
    locks = wardlock.LockDir(lock_dir)
    for name in (".wardlock-notes", ".lock-config-a.owner.tmp", "build.lock"):
        (lock_dir / name).write_text("")
    (lock_dir / ".lock-config-sub").mkdir()

    with locks.acquire("config:a", timeout=0):
        statuses = locks.status()

    assert [s.lock_file for s in statuses] == [".lock-config-a", "build.lock"]
    mine, foreign = statuses
    assert mine.resource == "config:a"
    assert mine.held == wardlock.Mode.EXCLUSIVE
    assert mine.holder is not None and mine.holder.pid == os.getpid()
    assert foreign.resource is None and foreign.held is None


def test_a_forked_child_never_releases_its_parents_lock(lock_dir: Path, rust: Rust) -> None:
    locks = wardlock.LockDir(lock_dir)
    guard = locks.acquire("config:fork", timeout=0)

    child = os.fork()
    if child == 0:
        # The child lets go of everything it inherited, as a careless
        # program would.
        try:
            guard.release()
            del guard, locks
        finally:
            os._exit(0)
    _, status = os.waitpid(child, 0)

    assert os.waitstatus_to_exitcode(status) == 0
    assert (lock_dir / ".lock-config-fork.owner").exists()
    out = rust("run", "--timeout", "0", "config:fork", "--", "true")
    assert out.returncode == 75, out.stderr
    guard.release()


def test_an_oversized_owner_record_fails_the_call_and_leaves_nothing_held(
    lock_dir: Path, rust: Rust
) -> None:
    # wasmtime-py 50 cannot hand this failure to the policy (see
    # `_lock_files.read_owner`), so the Python host reports it; the Rust
    # host's policy replaces the record with a warning.
    (lock_dir / ".lock-config-big.owner").write_bytes(b"x" * (64 * 1024 + 1))
    locks = wardlock.LockDir(lock_dir)

    with pytest.raises(wardlock.LockFailure) as raised:
        locks.acquire("config:big", timeout=0)

    assert raised.value.code == "too-large"
    out = rust("run", "--timeout", "0", "config:big", "--", "true")
    assert out.returncode == 0, out.stderr
    assert "unreadable owner record" in out.stderr


def test_the_policy_comes_from_the_environment_without_policy_argument(
    lock_dir: Path, default_policy: str
) -> None:
    locks = wardlock.LockDir(lock_dir)

    assert locks.policy.module == default_policy
    assert locks.policy_info.name == "default"
    assert locks.policy_info.contract == wardlock.CONTRACT


def test_a_pinned_policy_binds_every_host(
    lock_dir: Path, default_policy: str, strict_policy: str, rust: Rust
) -> None:
    shutil.copyfile(strict_policy, lock_dir / wardlock.PINNED_POLICY)

    pinned = wardlock.LockDir(lock_dir)
    same = wardlock.LockDir(lock_dir, policy=strict_policy)
    with pytest.raises(wardlock.PolicyMismatch) as raised:
        wardlock.LockDir(lock_dir, policy=default_policy)
    rust_refuses = rust("--policy", default_policy, "run", "config:ci", "--", "true")

    assert pinned.policy_info.name == "strict"
    assert pinned.policy_info.default_timeout_ms == 30_000
    assert same.policy_info.name == "strict"
    assert isinstance(raised.value, wardlock.PolicyError)
    assert raised.value.pinned == "strict 0.1.0"
    assert raised.value.requested == "default 0.1.0"
    assert "`strict 0.1.0`" in str(raised.value) and "`default 0.1.0`" in str(raised.value)
    assert rust_refuses.returncode != 0
    assert "pinned to policy `strict 0.1.0`" in rust_refuses.stderr
    assert pinned.status() == []


@pytest.mark.parametrize(
    ("module", "reason"),
    [
        (b"not wasm at all", "not a WebAssembly file"),
        (b"\0asm broken", ""),
        (
            '(component (import "wasi:filesystem/preopens@0.2.6" (instance)))',
            "it imports `wasi:filesystem/preopens@0.2.6`, which a policy is not granted",
        ),
        (
            '(component (import "wardlock:policy/lock-files@0.2.0" (instance)))',
            "built for contract `wardlock:policy@0.2.0`, but this host implements "
            "`wardlock:policy@0.1.0`",
        ),
        ("(component)", "it does not export `wardlock:policy/policy@0.1.0`"),
    ],
)
def test_a_module_that_is_not_a_policy_fails_naming_it(
    lock_dir: Path, tmp_path: Path, module: bytes | str, reason: str
) -> None:
    path = tmp_path / "policy.wasm"
    path.write_bytes(module if isinstance(module, bytes) else bytes(wasmtime.wat2wasm(module)))

    with pytest.raises(wardlock.PolicyError) as raised:
        wardlock.LockDir(lock_dir, policy=path)

    assert raised.value.module == str(path)
    assert str(path) in str(raised.value)
    assert reason in raised.value.reason


def test_an_unreadable_policy_file_fails_naming_it(lock_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(wardlock.PolicyError) as raised:
        wardlock.LockDir(lock_dir, policy=tmp_path / "absent.wasm")

    assert "failed to read" in raised.value.reason


def test_without_any_policy_the_error_says_where_to_put_one(
    lock_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    packaged = Path(wardlock.__file__).with_name("default-policy.wasm")
    if packaged.exists():
        pytest.skip("this installation ships a default policy")
    monkeypatch.delenv("WARDLOCK_POLICY")

    with pytest.raises(wardlock.PolicyError) as raised:
        wardlock.LockDir(lock_dir)

    assert "WARDLOCK_POLICY" in str(raised.value)


def test_shared_holders_coexist_and_keep_out_an_exclusive_one(
    lock_dir: Path, processes: Processes
) -> None:
    holder = processes.python_holder("feature:feat", "--shared")
    locks = wardlock.LockDir(lock_dir)

    with locks.acquire("feature:feat", timeout=0, shared=True) as guard:
        (status,) = locks.status()
    with pytest.raises(wardlock.Busy) as raised:
        locks.acquire("feature:feat", timeout=0)

    assert guard.mode == wardlock.Mode.SHARED
    assert status.held == wardlock.Mode.SHARED
    assert status.holder is not None and status.holder.pid is not None
    assert {status.holder.pid, *status.holder.others} == {holder.pid, os.getpid()}
    assert raised.value.holder.pid == holder.pid
