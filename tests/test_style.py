"""One width and one layout for both languages (STYLE: clang-format and ruff),
checked on every test run so the tree cannot drift."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON_TREES = ["python", "tests", "examples", "bench", "scripts"]


def tool(name: str) -> str:
    """The tool beside the running interpreter (the test extra installs it)."""
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    assert found, f"{name} is not installed next to {sys.executable}; pip install '.[test]'"
    return found


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_python_passes_ruff_check_and_format() -> None:
    checked = run(tool("ruff"), "check", "--output-format", "concise", *PYTHON_TREES)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    formatted = run(tool("ruff"), "format", "--check", *PYTHON_TREES)
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr


def test_cpp_is_clang_formatted() -> None:
    sources = sorted(
        str(p.relative_to(ROOT)) for d in ("bindings", "cpp") for p in (ROOT / d).glob("*.[ch]*")
    )
    assert sources
    done = run(tool("clang-format"), "--dry-run", "--Werror", *sources)
    assert done.returncode == 0, done.stderr[-6000:]
