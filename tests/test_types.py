"""The type checks of scripts/typecheck.sh, as part of the test run: the stub
matches the extension (regenerated and compared, then mypy.stubtest), and
mypy --strict passes on the package, the examples and the tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_stub_and_strict_mypy() -> None:
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "typecheck.sh")],
        cwd=ROOT,
        env={**os.environ, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-4000:]
