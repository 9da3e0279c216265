"""The operating system: lock files opened relative to the lock directory's
descriptor, `flock(2)`, and processes read from Linux's `/proc`.

This module is the only one that takes or releases OS locks, opens lock
files or reads process tables; it mirrors the Rust host's `sys/unix.rs`
call for call, so that both hosts see a lock directory the same way.

Every descriptor opened here is close-on-exec, so a command spawned while a
lock is held never inherits the lock. Nothing here follows a symbolic link
at a lock-file or owner-record name.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import stat
from dataclasses import dataclass
from enum import StrEnum
from functools import cache


class Mode(StrEnum):
    """How a lock file is held (`types.mode` in the contract)."""

    SHARED = "shared"
    EXCLUSIVE = "exclusive"


@dataclass(frozen=True)
class FileId:
    """Which file an open descriptor or a name refers to."""

    dev: int
    ino: int


@dataclass(frozen=True)
class Held:
    """One entry of the kernel's lock table for a file."""

    pid: int | None
    mode: Mode


@dataclass(frozen=True)
class ProcessFacts:
    """What the process table tells about one process."""

    start_token: str
    started_at_ms: int | None
    command: str | None


class Probe(StrEnum):
    """The verdict of a liveness probe (`types.liveness`)."""

    ALIVE = "alive"
    GONE = "gone"
    REUSED = "reused"
    UNKNOWN = "unknown"


#: The mode lock files are created with: readable and writable by the owner
#: and the group, so that a group can share one lock directory (the Rust
#: host's `LOCK_FILE_MODE`).
LOCK_FILE_MODE = 0o664

#: The mode owner records are created with: anyone may read who holds what.
RECORD_MODE = 0o644


class NotRegular(OSError):
    """Something other than a regular file sits where a lock file or owner
    record belongs."""


class LockFd:
    """One open descriptor of a lock file, closed when the last reference
    goes (as the Rust host's `Arc<File>`): a helper thread and the handle
    table may share it, and neither may close it under the other."""

    __slots__ = ("fd",)

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __del__(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass


def _not_regular(name: str, kind: int) -> NotRegular:
    what = {
        stat.S_IFDIR: "a directory",
        stat.S_IFLNK: "a symbolic link",
        stat.S_IFIFO: "a FIFO",
        stat.S_IFSOCK: "a socket",
        stat.S_IFCHR: "a device",
        stat.S_IFBLK: "a device",
    }.get(kind, "not a regular file")
    return NotRegular(f"`{name}` is {what}, not a regular file")


class Dir:
    """The lock directory, held open so that every name is resolved inside
    the directory that was opened, even if its path is later replaced."""

    def __init__(self, path: str) -> None:
        # A symbolic link to a directory is accepted here: the lock
        # directory is named by the user.
        self.fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)

    def __del__(self) -> None:
        fd = getattr(self, "fd", None)
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass

    def _kind_of(self, name: str) -> int | None:
        """What sits at `name` without following a link: `None` if nothing."""
        try:
            st = os.lstat(name, dir_fd=self.fd)
        except FileNotFoundError:
            return None
        return stat.S_IFMT(st.st_mode)

    def _open_regular(self, name: str, flags: int, perm: int) -> LockFd:
        """Open `name` in the directory, refusing anything but a regular file
        and never following a link."""
        kind = self._kind_of(name)
        if kind is not None and kind != stat.S_IFREG:
            raise _not_regular(name, kind)
        # O_NOFOLLOW refuses a link planted after the check above, and
        # O_NONBLOCK keeps a FIFO planted there from blocking the open.
        try:
            fd = os.open(
                name,
                flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK,
                perm,
                dir_fd=self.fd,
            )
        except OSError as err:
            planted = {
                errno.ELOOP: stat.S_IFLNK,
                errno.EISDIR: stat.S_IFDIR,
                errno.ENXIO: stat.S_IFSOCK,
            }.get(err.errno or 0)
            if planted is not None:
                raise _not_regular(name, planted) from None
            raise
        file = LockFd(fd)
        # A racing swap between the check and the open is caught here.
        st = os.fstat(fd)
        kind = stat.S_IFMT(st.st_mode)
        if kind != stat.S_IFREG:
            raise _not_regular(name, kind)
        # Files we create get exactly `perm`, whatever the umask (which is
        # never changed), so users of one group can share the directory.
        if flags & os.O_CREAT and st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) != perm:
            os.fchmod(fd, perm)
        return file

    def open_lock_file(self, name: str, create: bool) -> LockFd:
        """Open (and with `create`, create) a lock file; it is never
        truncated or written."""
        flags = os.O_RDONLY | (os.O_CREAT if create else 0)
        return self._open_regular(name, flags, LOCK_FILE_MODE)

    def id_of(self, name: str) -> FileId | None:
        """The identity of the file now at `name`, without following a link."""
        try:
            st = os.lstat(name, dir_fd=self.fd)
        except FileNotFoundError:
            return None
        return FileId(st.st_dev, st.st_ino)

    def read_small(self, name: str, limit: int) -> bytes | None:
        """At most `limit + 1` bytes of the regular file `name`, or `None` if
        there is no such file."""
        try:
            file = self._open_regular(name, os.O_RDONLY, 0)
        except FileNotFoundError:
            return None
        chunks: list[bytes] = []
        left = limit + 1
        while left > 0:
            chunk = os.read(file.fd, left)
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def replace(self, name: str, temp: str, contents: bytes) -> None:
        """Replace `name` with `contents` through the temporary file `temp`:
        readers see the old file or the new one, never a part of either.

        The temporary name is removed first and then created exclusively, so
        a file or link planted there is never written through. No fsync, as
        in the Rust host: records live as long as the locks they describe.
        """
        self.remove(temp)
        file = self._open_regular(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, RECORD_MODE)
        try:
            view = memoryview(contents)
            while view:
                written = os.write(file.fd, view)
                view = view[written:]
        except OSError:
            del file
            self._remove_quietly(temp)
            raise
        del file
        try:
            os.rename(temp, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
        except OSError:
            self._remove_quietly(temp)
            raise

    def remove(self, name: str) -> None:
        """Remove the file `name` if it exists. Never removes a directory."""
        try:
            os.unlink(name, dir_fd=self.fd)
        except FileNotFoundError:
            pass

    def _remove_quietly(self, name: str) -> None:
        try:
            self.remove(name)
        except OSError:
            pass

    def names(self) -> list[tuple[str, bool]]:
        """Every entry's name, and whether it is a regular file (not
        following links)."""
        out: list[tuple[str, bool]] = []
        with os.scandir(self.fd) as entries:
            for entry in entries:
                try:
                    is_file = entry.is_file(follow_symlinks=False)
                except OSError:
                    is_file = False
                out.append((entry.name, is_file))
        return out


def file_id(file: LockFd) -> FileId:
    """The identity of an open file."""
    st = os.fstat(file.fd)
    return FileId(st.st_dev, st.st_ino)


def try_lock(file: LockFd, mode: Mode) -> bool:
    """Try to take the lock without waiting: `False` when someone holds it."""
    op = fcntl.LOCK_SH if mode == Mode.SHARED else fcntl.LOCK_EX
    try:
        fcntl.flock(file.fd, op | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def lock(file: LockFd, mode: Mode) -> None:
    """Take the lock, blocking until the kernel grants it (the GIL is
    released meanwhile)."""
    fcntl.flock(file.fd, fcntl.LOCK_SH if mode == Mode.SHARED else fcntl.LOCK_EX)


def unlock(file: LockFd) -> None:
    """Release the lock held through this open file, if any."""
    fcntl.flock(file.fd, fcntl.LOCK_UN)


def holders(id: FileId) -> list[Held] | None:
    """The holders of the lock on the file `id`, from the kernel's lock
    table; `None` where the table cannot be read.

    Parsed exactly as the Rust host's `sys/unix.rs::holders`. The kernel
    hands the table out a page per read, so while other processes lock and
    unlock, a read can miss entries; a holder missed so is "a process the
    host cannot see", for this host as for the Rust one.
    """
    try:
        with open("/proc/locks", encoding="utf-8", errors="replace") as f:
            table = f.read()
    except OSError:
        return None
    major, minor = os.major(id.dev), os.minor(id.dev)
    found: list[Held] = []
    for line in table.splitlines():
        # "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"; waiters are
        # listed as "1: -> FLOCK ..." and hold nothing.
        words = line.split()[1:]
        if not words or words[0] == "->" or len(words) < 5:
            continue
        access, pid, file = words[2], words[3], words[4]
        parts = file.split(":")
        if len(parts) < 3:
            continue
        try:
            same = (
                int(parts[0], 16) == major
                and int(parts[1], 16) == minor
                and int(parts[2]) == id.ino
            )
        except ValueError:
            continue
        if not same:
            continue
        # Open-file-description locks show pid -1: held, owner unknown.
        try:
            holder: int | None = int(pid)
        except ValueError:
            holder = None
        if holder is not None and not 0 < holder < 2**32:
            holder = None
        found.append(Held(holder, Mode.EXCLUSIVE if access == "WRITE" else Mode.SHARED))
    return found


def pid() -> int:
    """The current process's id."""
    return os.getpid()


@cache
def host_name() -> str:
    """This machine's host name, as `gethostname(2)` gives it (the Rust
    host asks the same call, so both write the same name)."""
    try:
        return socket.gethostname()
    except OSError:
        return "localhost"


@dataclass(frozen=True)
class _Kernel:
    """What this kernel tells that is the same for every process."""

    boot_id: str
    pid_ns: str
    boot_time_ms: int | None
    ticks_per_second: int


@cache
def _kernel() -> _Kernel:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="utf-8") as f:
            boot_id = f.read().strip()
    except OSError:
        boot_id = ""
    try:
        # "pid:[4026531836]": keep the namespace's inode number.
        pid_ns = "".join(c for c in os.readlink("/proc/self/ns/pid") if c.isascii() and c.isdigit())
    except OSError:
        pid_ns = ""
    boot_time_ms: int | None = None
    try:
        with open("/proc/stat", encoding="utf-8") as f:
            for line in f:
                if line.startswith("btime "):
                    boot_time_ms = int(line[len("btime ") :].strip()) * 1000
                    break
    except (OSError, ValueError):
        pass
    try:
        ticks = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError):
        ticks = 0
    return _Kernel(boot_id, pid_ns, boot_time_ms, ticks if ticks > 0 else 100)


def _stat_of(pid: int) -> tuple[int, str]:
    """The start time (clock ticks since boot) and state of `pid`, from
    `/proc/<pid>/stat`."""
    with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as f:
        text = f.read()
    # The command name is in parentheses and may itself hold spaces or
    # parentheses: the fields after it start at the last ')'.
    close = text.rfind(")")
    if close < 0:
        raise OSError(errno.EINVAL, "malformed /proc stat")
    fields = text[close + 1 :].split()
    # Field 3 (state) is fields[0]; field 22 (starttime) is fields[19].
    state = fields[0][0] if fields else "?"
    try:
        start = int(fields[19])
    except (IndexError, ValueError):
        raise OSError(errno.EINVAL, "malformed /proc stat") from None
    return start, state


def start_token(ticks: int) -> str:
    """The start token, in exactly the Rust host's format, so that each
    host judges the other's owner records."""
    k = _kernel()
    return f"linux:{k.boot_id}:{k.pid_ns}:{ticks}"


def process(pid: int) -> ProcessFacts | None:
    """Facts about `pid`, if it runs on this machine and in this namespace."""
    try:
        ticks, state = _stat_of(pid)
    except OSError:
        return None
    if state in ("Z", "X"):
        return None
    k = _kernel()
    started_at_ms = (
        None if k.boot_time_ms is None else k.boot_time_ms + ticks * 1000 // k.ticks_per_second
    )
    command: str | None = None
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read()
        words = [w.decode("utf-8", "replace") for w in raw.split(b"\0") if w]
        command = " ".join(words) if words else None
    except OSError:
        pass
    return ProcessFacts(start_token(ticks), started_at_ms, command)


def probe(pid: int, token: str) -> Probe:
    """Whether the process recorded as (`pid`, `token`) on this machine
    still runs. A token from another boot means gone; one from another PID
    namespace, or in a form this kernel does not write, means unknown."""
    k = _kernel()
    parts = token.split(":", 3)
    if len(parts) != 4 or parts[0] != "linux":
        return Probe.UNKNOWN
    _, boot, ns, _ = parts
    if not k.boot_id or ns != k.pid_ns:
        return Probe.UNKNOWN
    if boot != k.boot_id:
        # Recorded before this machine last booted: that process is gone.
        return Probe.GONE
    try:
        ticks, state = _stat_of(pid)
    except FileNotFoundError:
        return Probe.GONE
    except OSError:
        return Probe.UNKNOWN
    if state in ("Z", "X"):
        return Probe.GONE
    return Probe.ALIVE if start_token(ticks) == token else Probe.REUSED
