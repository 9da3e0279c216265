"""The Python host and the Rust `wardlock` command on one lock directory:
they exclude each other both ways, read each other's owner records, and
judge each other's owners alive or gone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import PATIENCE, Processes, Rust

import wardlock


def status_json(rust: Rust) -> dict[str, dict[str, Any]]:
    """`wardlock status --json`, by lock file."""
    out = rust("status", "--json")
    assert out.returncode == 0, out.stderr
    return {lock["lock_file"]: lock for lock in json.loads(out.stdout)["locks"]}


def test_a_rust_holder_and_a_python_waiter_take_turns(
    lock_dir: Path, processes: Processes, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger"
    holder = processes.rust_holder("wp:feat/WP01", then=f"echo 'rust leaves' >> '{ledger}'")
    waiting = threading.Event()
    locks = wardlock.LockDir(lock_dir, on_wait=lambda _: waiting.set())

    with pytest.raises(wardlock.Busy) as raised:
        locks.acquire("wp:feat/WP01", timeout=0)

    assert raised.value.holder.pid == holder.pid
    assert raised.value.holder.liveness == wardlock.Liveness.ALIVE
    assert "sh -c" in (raised.value.holder.command or "")

    def waiter() -> None:
        with locks.acquire("wp:feat/WP01", timeout=PATIENCE):
            with ledger.open("a") as f:
                f.write("python enters\n")

    thread = threading.Thread(target=waiter)
    thread.start()
    assert waiting.wait(PATIENCE)
    time.sleep(0.2)
    assert not ledger.exists(), "the Python waiter got in while the Rust holder held"
    holder.release()
    thread.join(PATIENCE)

    assert ledger.read_text() == "rust leaves\npython enters\n"
    assert holder.process.returncode == 0


def test_a_python_holder_keeps_rust_out_and_is_named(
    lock_dir: Path, processes: Processes, rust: Rust
) -> None:
    holder = processes.python_holder("wp:feat/WP01", label="python agent")

    busy = rust("run", "--timeout", "0", "wp:feat/WP01", "--", "true")

    assert busy.returncode == 75, busy.stderr
    assert f"pid {holder.pid}" in busy.stderr
    assert "python agent" in busy.stderr
    holder.release()
    free = rust("run", "--timeout", "0", "wp:feat/WP01", "--", "true")
    assert free.returncode == 0, free.stderr
    assert free.stderr == ""


def test_a_rust_waiter_is_woken_when_the_python_holder_releases(
    lock_dir: Path, processes: Processes, wardlock_bin: str
) -> None:
    holder = processes.python_holder("config:ci")
    waiter = subprocess.Popen(
        [
            wardlock_bin,
            "--dir",
            str(lock_dir),
            "run",
            "--timeout",
            str(PATIENCE),
            "config:ci",
            "--",
            "true",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    processes.started.append(waiter)
    assert waiter.stderr is not None
    line = waiter.stderr.readline()
    assert "waiting for `config:ci`" in line and f"pid {holder.pid}" in line

    holder.release()
    released = time.monotonic()
    waiter.wait(PATIENCE)

    assert waiter.returncode == 0
    assert time.monotonic() - released < 2


def test_the_feature_hierarchy_holds_across_hosts(
    lock_dir: Path, processes: Processes, rust: Rust
) -> None:
    # A Python work package keeps a Rust feature lock out, not a sibling.
    python_wp = processes.python_holder("wp:feat/WP01")
    assert python_wp.pid > 0
    feature = rust("run", "--timeout", "0", "feature:feat", "--", "true")
    sibling = rust("run", "--timeout", "0", "wp:feat/WP02", "--", "true")
    assert feature.returncode == 75, feature.stderr
    # The holder of a shared lock has no owner record: its pid comes from
    # the kernel's lock table, which the Rust host may read torn while
    # other processes lock and unlock, so only the lock file is asserted.
    assert ".lock-feature-feat" in feature.stderr
    assert sibling.returncode == 0, sibling.stderr
    python_wp.release()

    # A Rust feature lock keeps Python work packages out, not other things.
    rust_feature = processes.rust_holder("feature:feat")
    locks = wardlock.LockDir(lock_dir)
    with pytest.raises(wardlock.Busy) as raised:
        locks.acquire("wp:feat/WP03", timeout=0)
    assert raised.value.lock_file == ".lock-feature-feat"
    assert raised.value.holder.pid == rust_feature.pid
    locks.acquire("wp:other/WP03", timeout=0).release()
    locks.acquire("config:feat", timeout=0).release()


def test_rust_status_shows_the_python_owner_record(processes: Processes, rust: Rust) -> None:
    holder = processes.python_holder("config:ci", label="python agent")

    lock = status_json(rust)[".lock-config-ci"]

    assert lock["state"] == "exclusive"
    assert lock["resource"] == "config:ci"
    assert lock["stale_record"] is False
    assert lock["holder"]["pid"] == holder.pid
    assert lock["holder"]["command"] == "python agent"
    # Alive needs the Rust host to read the Python host's start token.
    assert lock["holder"]["liveness"] == "alive"


def test_python_status_shows_the_rust_owner_record(lock_dir: Path, processes: Processes) -> None:
    holder = processes.rust_holder("config:ci")

    (status,) = wardlock.LockDir(lock_dir).status()

    assert status.lock_file == ".lock-config-ci"
    assert status.held == wardlock.Mode.EXCLUSIVE
    assert status.stale_record is False
    assert status.holder is not None
    assert status.holder.pid == holder.pid
    assert status.holder.liveness == wardlock.Liveness.ALIVE
    assert status.holder.command is not None and status.holder.command.startswith("sh -c")


def test_a_killed_python_holder_is_reported_gone_by_rust(processes: Processes, rust: Rust) -> None:
    holder = processes.python_holder("config:ci")

    holder.process.send_signal(signal.SIGKILL)
    holder.process.wait(PATIENCE)
    lock = status_json(rust)[".lock-config-ci"]
    run = rust("run", "--timeout", "0", "config:ci", "--", "true")

    assert lock["state"] == "free"
    assert lock["stale_record"] is True
    assert lock["holder"]["pid"] == holder.pid
    assert lock["holder"]["liveness"] == "gone"
    assert run.returncode == 0, run.stderr
    assert "leftover owner record" in run.stderr
    assert f"pid {holder.pid}" in run.stderr and "gone" in run.stderr


def test_a_killed_rust_holder_is_reported_gone_by_python(
    lock_dir: Path, processes: Processes, caplog: pytest.LogCaptureFixture
) -> None:
    holder = processes.rust_holder("config:ci")
    holder.process.send_signal(signal.SIGKILL)
    holder.process.wait(PATIENCE)
    locks = wardlock.LockDir(lock_dir)

    (status,) = locks.status()
    with caplog.at_level("WARNING", logger="wardlock"):
        locks.acquire("config:ci", timeout=0).release()

    assert status.held is None and status.stale_record
    assert status.holder is not None and status.holder.liveness == wardlock.Liveness.GONE
    assert any(
        "leftover owner record" in r.getMessage() and f"pid {holder.pid}" in r.getMessage()
        for r in caplog.records
    )


def test_the_strict_policy_refuses_an_orphaned_lock_in_both_hosts(
    lock_dir: Path, processes: Processes, rust: Rust, strict_policy: str
) -> None:
    orphan = processes.python_holder("config:ci", "--orphan")
    locks = wardlock.LockDir(lock_dir, policy=strict_policy)

    with pytest.raises(wardlock.Refused) as raised:
        locks.acquire("config:ci", timeout=PATIENCE)
    out = rust(
        "--policy", strict_policy, "run", "--timeout", str(PATIENCE), "config:ci", "--", "true"
    )

    assert "refusing to wait" in raised.value.message
    assert f"pid {orphan.pid}" in raised.value.message
    assert out.returncode == 75, out.stderr
    assert "refusing to wait" in out.stderr
    assert orphan.child is not None
    os.kill(orphan.child, signal.SIGKILL)
