"""As a new user: the README's two commands, run literally in a clean clone.

The clone is of the committed HEAD (a fresh checkout has nothing else), made
in a temporary folder. Its own scripts/test.sh runs the whole suite again
there, against the package that clone's scripts/bootstrap.sh installed; in
that inner run this test skips itself (POCOSMTP_NEWCOMER), so it does not
recurse. Poco comes from Conan's cache, which a first bootstrap filled: the
clone builds only the extension. About ten minutes on two cores; leave it
out of a quick loop with -m "not newcomer".
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from test_docs import README, blocks_of

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    section = README.read_text(encoding="utf-8").split("## Two commands", 1)[1]
    section = section.split("\n## ", 1)[0]
    (block,) = [block for block in blocks_of(README) if block.code.strip() in section]
    return [line.split("#", 1)[0].strip() for line in block.code.splitlines() if line.strip()]


@pytest.mark.newcomer
@pytest.mark.timeout(3600)
@pytest.mark.skipif(
    os.environ.get("POCOSMTP_NEWCOMER") == "1", reason="this is the newcomer's own run"
)
def test_the_readmes_two_commands_work_in_a_clean_clone(tmp_path: Path) -> None:
    if not shutil.which("git") or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["POCOSMTP_NEWCOMER"] = "1"
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(str(ROOT))
    )
    commands = readme_commands()
    assert commands == ["scripts/bootstrap.sh", "scripts/test.sh"]
    outputs = []
    for command in commands:
        done = subprocess.run(
            command,
            shell=True,
            cwd=clone,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=3000,
        )
        outputs.append(done.stdout + done.stderr)
        assert done.returncode == 0, f"{command} failed in a clean clone:\n{outputs[-1][-6000:]}"
    bootstrap, tests = outputs
    assert "stored build/demo-mail/000001.eml" in bootstrap, bootstrap[-3000:]
    assert " passed" in tests.splitlines()[-1] and " failed" not in tests.splitlines()[-1]
