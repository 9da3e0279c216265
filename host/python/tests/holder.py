"""A Python process that holds one resource for the tests (not a test
module): it acquires, prints `held <pid>`, and holds until its standard
input closes, then releases and exits 0.

    python3 holder.py DIR RESOURCE [--label TEXT] [--shared] [--policy FILE]
                      [--orphan]

With `--orphan` it forks a child that keeps the lock's descriptor, prints
`held <pid> child <child pid>` and exits at once without releasing: the
lock stays held by the child while the owner record names a pid that is
gone, as when a daemon inherits a lock.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import wardlock


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("dir")
    parser.add_argument("resource")
    parser.add_argument("--label")
    parser.add_argument("--shared", action="store_true")
    parser.add_argument("--policy")
    parser.add_argument("--orphan", action="store_true")
    args = parser.parse_args()

    locks = wardlock.LockDir(args.dir, policy=args.policy, command=args.label)
    try:
        guard = locks.acquire(args.resource, timeout=0, shared=args.shared)
    except wardlock.Error as err:
        print(f"error {type(err).__name__}: {err}", flush=True)
        return 1

    if args.orphan:
        child = os.fork()
        if child == 0:
            # Keeps the inherited descriptor, and with it the lock.
            time.sleep(60)
            os._exit(0)
        print(f"held {os.getpid()} child {child}", flush=True)
        os._exit(0)

    print(f"held {os.getpid()}", flush=True)
    sys.stdin.read()
    guard.release()
    return 0


if __name__ == "__main__":
    sys.exit(main())
