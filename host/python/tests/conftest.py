"""Shared fixtures for the Python host's tests: a fresh lock directory per
test, holder processes of either host, and waits that cannot hang.

The Rust side comes from the environment `tests/python_host.rs` sets:
`WARDLOCK_BIN` (the `wardlock` binary), `WARDLOCK_POLICY` (the default
policy component) and `WARDLOCK_STRICT_POLICY` (the strict one).
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

#: How long any single wait in a test may take before the test fails
#: instead of hanging.
PATIENCE = 20.0

HOLDER = Path(__file__).with_name("holder.py")


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(
            f"`{name}` is not set; run through `cargo test --test python_host`, or set it by hand"
        )
    return value


@pytest.fixture
def wardlock_bin() -> str:
    """The Rust `wardlock` binary."""
    return _env("WARDLOCK_BIN")


@pytest.fixture
def default_policy() -> str:
    return _env("WARDLOCK_POLICY")


@pytest.fixture
def strict_policy() -> str:
    return _env("WARDLOCK_STRICT_POLICY")


@pytest.fixture
def lock_dir(tmp_path: Path, default_policy: str) -> Path:
    """A fresh, empty lock directory inside a fresh temporary project."""
    path = tmp_path / "locks"
    path.mkdir()
    return path


def wait_until(what: str, cond: Callable[[], bool]) -> None:
    """Wait until `cond` holds, failing the test after `PATIENCE`."""
    deadline = time.monotonic() + PATIENCE
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.005)


@dataclass
class Holder:
    """A process holding a resource."""

    process: subprocess.Popen[str]
    # The pid the owner record names (the Python process itself, or the
    # `wardlock` process for a Rust holder).
    pid: int
    # Released when this file appears (Rust holders).
    go: Path | None = None
    # The forked child that keeps an orphaned lock (`--orphan`).
    child: int | None = None

    def release(self) -> None:
        """Let the holder release, and wait for it to end."""
        if self.go is not None:
            self.go.touch()
        elif self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(PATIENCE)


class Processes:
    """Starts holders of either host and ends whatever is left over."""

    def __init__(self, lock_dir: Path, tmp_path: Path) -> None:
        self.lock_dir = lock_dir
        self.tmp_path = tmp_path
        self.started: list[subprocess.Popen[str]] = []
        self.children: list[int] = []

    def python_holder(
        self, resource: str, *extra: str, label: str | None = "python holder"
    ) -> Holder:
        """A Python process holding `resource` through this package."""
        args = [sys.executable, str(HOLDER), str(self.lock_dir), resource, *extra]
        if label is not None:
            args += ["--label", label]
        process = subprocess.Popen(
            args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.started.append(process)
        line = self._read_line(process)
        words = line.split()
        if words[:1] != ["held"]:
            process.kill()
            pytest.fail(
                f"holder failed: {line!r} {process.stderr.read() if process.stderr else ''}"
            )
        child = int(words[3]) if len(words) >= 4 else None
        if child is not None:
            self.children.append(child)
        return Holder(process, int(words[1]), child=child)

    def rust_holder(
        self, resource: str, *extra: str, name: str = "rust", then: str = "true"
    ) -> Holder:
        """`wardlock run RESOURCE -- sh -c ...` holding until told to go,
        then running the shell command `then` before it ends."""
        held = self.tmp_path / f"{name}-held"
        go = self.tmp_path / f"{name}-go"
        script = f"touch '{held}'; while [ ! -e '{go}' ]; do sleep 0.02; done; {then}"
        process = subprocess.Popen(
            [
                _env("WARDLOCK_BIN"),
                "--dir",
                str(self.lock_dir),
                "run",
                *extra,
                resource,
                "--",
                "sh",
                "-c",
                script,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_rust_env(),
        )
        self.started.append(process)
        wait_until(
            f"the Rust holder of `{resource}` holds it",
            lambda: held.exists() or process.poll() is not None,
        )
        if not held.exists():
            pytest.fail(f"Rust holder failed: {process.stderr.read() if process.stderr else ''}")
        return Holder(process, process.pid, go=go)

    def _read_line(self, process: subprocess.Popen[str]) -> str:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], PATIENCE)
        if not ready:
            process.kill()
            pytest.fail("holder printed nothing in time")
        return process.stdout.readline()

    def end(self) -> None:
        for child in self.children:
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for process in self.started:
            if process.poll() is None:
                process.kill()
            process.wait(PATIENCE)
            for stream in (process.stdin, process.stdout, process.stderr):
                if stream is not None:
                    stream.close()


@pytest.fixture
def processes(lock_dir: Path, tmp_path: Path) -> Iterator[Processes]:
    started = Processes(lock_dir, tmp_path)
    yield started
    started.end()


def _rust_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("WARDLOCK_DIR", None)
    env.pop("RUST_LOG", None)
    return env


Rust = Callable[..., "subprocess.CompletedProcess[str]"]


@pytest.fixture
def rust(wardlock_bin: str, lock_dir: Path) -> Rust:
    """Run `wardlock --dir <lock dir> ARGS...` to completion."""

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [wardlock_bin, "--dir", str(lock_dir), *args],
            capture_output=True,
            text=True,
            timeout=PATIENCE,
            env=_rust_env(),
        )

    return run
