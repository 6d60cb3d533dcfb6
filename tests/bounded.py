"""Running client calls that might hang, crash or eat memory, without taking the
test run down with them.

- ``call_bounded(fn, limit, rescue)``: runs ``fn`` in a worker thread and
  waits at most ``limit`` seconds; a call still running then fails the test,
  after ``rescue()`` (e.g. ``cut_client_sockets``) has unblocked it.
- ``run_isolated(source, limit)``: runs Python source in a fresh interpreter
  with the same environment (so the same pocosmtp, sanitizer preloads
  included) and returns what it reported with ``report(...)``. A child that
  hangs is killed; one that crashes (a signal, a sanitizer report) fails the
  test with its stderr. For calls that may spin forever inside C++ or
  corrupt memory, where a thread cannot be rescued.
- ``rss()``, ``peak_rss()``, ``reset_peak_rss()``, ``open_fds()``: this
  process's memory and file descriptors, from /proc.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

TESTS = Path(__file__).resolve().parent

# The child's helper: ``report(**values)`` prints the one line the parent reads.
_PRELUDE = """\
import json as _json
import sys as _sys

def report(**values):
    print("REPORT " + _json.dumps(values), flush=True)
"""


@dataclass
class Outcome:
    value: Any = None
    error: BaseException | None = None
    elapsed: float = 0.0


def call_bounded(
    fn: Callable[[], Any], limit: float, rescue: Callable[[], None] | None = None
) -> Outcome:
    """Runs fn() in a thread; returns its value or exception and how long it took.

    If fn() is still running after limit seconds, rescue() (if given) is
    called to unblock it before the hang is reported.
    """
    outcome = Outcome()

    def target() -> None:
        started = time.monotonic()
        try:
            outcome.value = fn()
        except BaseException as error:
            outcome.error = error
        outcome.elapsed = time.monotonic() - started

    worker = threading.Thread(target=target, name="bounded-call", daemon=True)
    worker.start()
    worker.join(limit)
    if worker.is_alive():
        if rescue is not None:
            rescue()
            worker.join(5)
        raise AssertionError(f"the call was still running after {limit:.1f} s (a hang)")
    return outcome


def cut_client_sockets(server_port: int) -> int:
    """Frees client threads stuck on this process's connections to server_port.

    Each such socket is shut down (which wakes a blocked recv or send) and
    its descriptor is replaced by /dev/null, so that a loop calling recv()
    again and again (Poco's, on an end of stream) gets ENOTSOCK and throws.
    The descriptor number stays open, for its owner to close. Only for
    rescuing a hung test; returns how many sockets were cut.
    """
    cut = 0
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            try:
                if not os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                    continue
                probe = socket.socket(fileno=os.dup(fd))
            except OSError:
                continue
            with probe:
                try:
                    if probe.getpeername()[1] != server_port:
                        continue
                    probe.shutdown(socket.SHUT_RDWR)
                except OSError:
                    continue
            os.dup2(devnull, fd)
            cut += 1
    finally:
        os.close(devnull)
    return cut


def run_isolated(source: str, limit: float) -> dict[str, Any]:
    """Runs source in a child interpreter; returns the dict it passed to report()."""
    env = dict(os.environ)
    # Absolute entries: the child runs in tests/, where a relative
    # PYTHONPATH=python would miss the working tree's package.
    inherited = [os.path.abspath(p) for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), *inherited])
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PRELUDE + source],
            cwd=TESTS,
            env=env,
            capture_output=True,
            text=True,
            timeout=limit,
        )
    except subprocess.TimeoutExpired as expired:
        raise AssertionError(
            f"the child was still running after {limit:.0f} s (a hang) and was killed; "
            f"its output:\n{_text(expired.stdout)}\n{_text(expired.stderr)[-4000:]}"
        ) from None
    if done.returncode != 0:
        how = f"signal {-done.returncode}" if done.returncode < 0 else f"exit {done.returncode}"
        raise AssertionError(f"the child died ({how}); its stderr:\n{done.stderr[-6000:]}")
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("REPORT "):
            result: dict[str, Any] = json.loads(line[len("REPORT ") :])
            return result
    raise AssertionError(f"the child reported nothing; stderr:\n{done.stderr[-4000:]}")


def _text(data: str | bytes | None) -> str:
    if data is None:
        return ""
    return data if isinstance(data, str) else data.decode(errors="replace")


# ------------------------------------------------------------------ /proc


def _status(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"/proc/self/status has no {field}")


def rss() -> int:
    """Resident set size now, in bytes."""
    return _status("VmRSS")


def peak_rss() -> int:
    """The highest resident set size so far, in bytes."""
    return _status("VmHWM")


def reset_peak_rss() -> None:
    """Makes peak_rss() start again from the current RSS (Linux 4.0 and later)."""
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


def open_fds() -> int:
    """How many file descriptors this process has open."""
    return len(os.listdir("/proc/self/fd"))


def under_sanitizer() -> bool:
    """True in scripts/sanitize.sh, where ASan's allocator makes RSS meaningless."""
    return "libasan" in os.environ.get("LD_PRELOAD", "")
