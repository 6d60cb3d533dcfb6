"""Every code sample in docs/ and README.md runs, against real servers on 127.0.0.1.

The samples follow the convention docs/index.md states: they name the server
HOST and PORT, credentials USERNAME and PASSWORD, and the CA of a TLS
server's certificate CA_FILE. This test defines those names before each
sample. The samples of one page run in order in one fresh interpreter (so a
page reads like a tutorial, and one page's settings never leak into another),
in a temporary folder, with SSL_CERT_FILE pointing at the test CA so that
Poco's default Context (the "system" store) trusts the test servers.

A comment right before a fence tunes or classifies a sample:

    <!-- sample: server=starttls messages=1 -->   (Python or shell: which server,
                                                   how many messages it must get)

Servers: smtp (the default: aiosmtpd offering every AUTH mechanism), rejecting
(refuses recipients starting with "nobody"), slow (0.2 s per reply), starttls
and tls (implicit), both with a certificate for "localhost".
    <!-- sample: run -->                          (a shell sample to run with bash)
    <!-- sample: not run: REASON -->              (a shell sample that cannot run here)

Python samples always run; a shell sample must say `run` or why not; a block
in any other language fails the test until it is classified, except `text`
(output, trees). Nothing is skipped silently.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import runpy
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import auth
import servers
import tls_servers

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"
PAGES = sorted(DOCS.glob("*.md"))

USERNAME, PASSWORD = "alice", "correct horse battery staple"

FENCE = re.compile(r"^(`{3,})([\w+-]*)\s*$")
MARKER = re.compile(r"^<!--\s*sample:\s*(.*?)\s*-->\s*$")
SHELLS = {"sh", "bash", "shell", "console"}


@dataclass
class Block:
    page: Path
    line: int  # 1-based line of the opening fence
    language: str
    code: str
    marker: str | None
    options: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def runs(self) -> bool:
        if self.language == "python":
            return True
        return self.language in SHELLS and self.marker is not None and "run" in self.options

    @property
    def server(self) -> str:
        return self.options.get("server", "smtp")


def blocks_of(page: Path) -> list[Block]:
    lines = page.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        ticks, language = opening.group(1), opening.group(2)
        end = index + 1
        while end < len(lines) and lines[end].rstrip() != ticks:
            end += 1
        marker = MARKER.match(lines[index - 1]) if index else None
        block = Block(page, index + 1, language, "\n".join(lines[index + 1 : end]) + "\n",
                      marker.group(1) if marker else None)  # fmt: skip
        if block.marker is not None:
            block.options = parse_marker(block.marker)
        found.append(block)
        index = end + 1
    return found


def parse_marker(text: str) -> dict[str, str]:
    if text.startswith("not run"):
        return {"not run": text.partition(":")[2].strip()}
    options = {}
    for word in text.split():
        name, _, value = word.partition("=")
        options[name] = value
    if "server" in options or "messages" in options:
        options.setdefault("run", "")
    return options


def readme_blocks() -> list[Block]:
    """README.md's Python samples, pointed at the test server instead of 127.0.0.1:2525."""
    found = []
    for block in blocks_of(README):
        if block.language != "python":
            continue  # the shell block is the two commands, checked against .ci/run below
        literal = 'SMTPClientSession("127.0.0.1", 2525)'
        if literal in block.code:
            block.code = block.code.replace(literal, "SMTPClientSession(HOST, PORT)")
            block.options["messages"] = str(block.code.count(".sendMessage("))
        found.append(block)
    return found


# ------------------------------------------------------------------ servers


class Rejecting(auth.AuthHandler):
    """Refuses recipients whose address starts with 'nobody'."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address.startswith("nobody"):
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"


class Slow(auth.AuthHandler):
    """Answers MAIL, RCPT and the end of data after 0.2 s each: a busy server."""

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802
        await asyncio.sleep(0.2)
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        await asyncio.sleep(0.2)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        await asyncio.sleep(0.2)
        return await super().handle_DATA(server, session, envelope)


class Servers:
    """The servers a page's samples use, started on first use, with the names
    each sample gets."""

    def __init__(self, folder: Path) -> None:
        self.pki = tls_servers.Pki(folder)
        self.started: dict[str, servers.SmtpServer] = {}

    def get(self, kind: str) -> servers.SmtpServer:
        if kind not in self.started:
            self.started[kind] = self._make(kind).start()
        return self.started[kind]

    def _make(self, kind: str) -> servers.SmtpServer:
        credentials = {USERNAME: PASSWORD}
        if kind == "smtp":
            return servers.SmtpServer(auth.AuthHandler(credentials))
        if kind == "rejecting":
            return servers.SmtpServer(Rejecting(credentials))
        if kind == "slow":
            return servers.SmtpServer(Slow(credentials))
        context = tls_servers.server_context(self.pki.issue("localhost"))
        handler = tls_servers.TlsAuthHandler(credentials)
        if kind == "starttls":
            return tls_servers.starttls_server(context, handler, auth_require_tls=True)
        if kind == "tls":
            return servers.SmtpServer(handler, ssl_context=context)
        raise AssertionError(f"unknown server kind {kind!r}")

    def names(self, kind: str) -> dict[str, object]:
        server = self.get(kind)
        return {
            "HOST": "localhost" if kind in ("starttls", "tls") else server.host,
            "PORT": server.port,
            "USERNAME": USERNAME,
            "PASSWORD": PASSWORD,
            "CA_FILE": self.pki.ca_file,
        }

    def stop(self) -> None:
        for server in self.started.values():
            server.stop()


# ------------------------------------------------------------------ runner

# Runs in the child interpreter: each sample in turn, in one namespace; shell
# samples through bash with the same names in the environment.
RUNNER = r"""
import gc, json, os, pathlib, subprocess, sys, traceback

# An unclosed file or session in a sample is a failure, not a warning lost in
# "Exception ignored".
unraisable = []
sys.unraisablehook = unraisable.append
namespace = {"__name__": "__main__"}
for block in json.loads(pathlib.Path(sys.argv[1]).read_text(encoding="utf-8")):
    print(f"--- sample {block['where']}", flush=True)
    try:
        if block["language"] == "python":
            namespace.update(block["names"])
            padded = "\n" * block["line"] + block["code"]
            exec(compile(padded, block["page"], "exec"), namespace)
        else:
            env = dict(os.environ, **{k: str(v) for k, v in block["names"].items()})
            env["POCOSMTP_PASSWORD"] = str(block["names"]["PASSWORD"])
            subprocess.run(["bash", "-euo", "pipefail", "-c", block["code"]], env=env,
                           check=True, stdin=subprocess.DEVNULL)
    except BaseException:
        traceback.print_exc()
        print(f"sample at {block['where']} failed", file=sys.stderr)
        sys.exit(1)
    sys.stdout.flush()
namespace.clear()
gc.collect()
for problem in unraisable:
    print(f"{problem.exc_type.__name__}: {problem.exc_value} ({problem.object!r})", file=sys.stderr)
sys.exit(1 if unraisable else 0)
"""


def run_samples(blocks: list[Block], folder: Path) -> None:
    work = folder / "work"
    work.mkdir()
    pool = Servers(folder)
    expected: dict[str, int] = {}
    try:
        payload = []
        for block in blocks:
            payload.append(
                {
                    "where": block.where,
                    "page": str(block.page),
                    "line": block.line,
                    "language": block.language,
                    "code": block.code,
                    "names": pool.names(block.server),
                }
            )
            expected[block.server] = expected.get(block.server, 0) + int(
                block.options.get("messages") or 0
            )
        script = folder / "samples.json"
        script.write_text(json.dumps(payload), encoding="utf-8")

        env = dict(os.environ)
        env["SSL_CERT_FILE"] = pool.pki.ca_file  # Poco's default Context: the "system" store
        env.pop("SSL_CERT_DIR", None)
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        if env.get("PYTHONPATH"):  # keep a relative PYTHONPATH=python working from elsewhere
            env["PYTHONPATH"] = os.pathsep.join(
                str((ROOT / p).resolve()) for p in env["PYTHONPATH"].split(os.pathsep)
            )
        done = subprocess.run(
            [sys.executable, "-W", "error", "-c", RUNNER, str(script)],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"

        for kind, count in expected.items():
            got = len(pool.get(kind).messages)
            assert got == count, f"the {kind} server got {got} messages, the markers say {count}"
    finally:
        pool.stop()


# ------------------------------------------------------------------ tests


def test_docs_exist_and_every_block_is_run_or_says_why():
    assert len(PAGES) >= 10
    unclassified = []
    python_samples = 0
    for page in PAGES:
        for block in blocks_of(page):
            python_samples += block.language == "python"
            if block.language in ("python", "text"):
                if block.language == "python" and "not run" in block.options:
                    unclassified.append(f"{block.where}: Python samples always run")
                continue
            if block.language in SHELLS and block.marker is not None:
                if "run" in block.options or block.options.get("not run"):
                    continue
            unclassified.append(f"{block.where}: ```{block.language} needs a sample marker")
    assert not unclassified, "\n".join(unclassified)
    assert python_samples >= 30


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_samples_of_each_page_run(page, tmp_path):
    blocks = [block for block in blocks_of(page) if block.runs]
    if not blocks:
        assert page.name in ("deviations.md", "parity.md", "errors.md"), (
            f"{page.name} has no runnable sample"
        )
        return
    run_samples(blocks, tmp_path)


def test_readme_sample_runs(tmp_path):
    blocks = readme_blocks()
    assert blocks and all("HOST" in block.code for block in blocks)
    run_samples(blocks, tmp_path)


def test_exception_tree_in_the_docs_is_the_modules():
    tree = runpy.run_path(str(ROOT / "scripts" / "exception_tree.py"))
    page = (DOCS / "errors.md").read_text(encoding="utf-8")
    assert tree["current"](page) == tree["section"](), (
        "docs/errors.md is out of date: run scripts/exception_tree.py --write"
    )


def test_index_links_every_page_and_every_link_resolves():
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\(([\w-]+\.md)(?:#[\w-]+)?\)", index))
    assert linked == {page.name for page in PAGES if page.name != "index.md"}

    broken = []
    for page in [*PAGES, README]:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            path = (page.parent / target.split("#")[0]).resolve()
            if not path.exists():
                broken.append(f"{page.name}: {target}")
    assert not broken, broken


def test_readme_links_the_guide():
    assert "(docs/index.md)" in README.read_text(encoding="utf-8")


# ------------------------------------------------------------------ as a new user


def test_ci_runs_exactly_the_readmes_two_commands():
    """A newcomer runs the README's "Two commands"; CI (.ci/run, in a fresh
    clone) must run exactly those, so the two cannot drift apart."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    (block,) = [block for block in blocks_of(README) if block.code.strip() in section]
    readme_commands = [
        line.split("#", 1)[0].strip() for line in block.code.splitlines() if line.strip()
    ]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    ci_commands = [
        line.strip()
        for line in ci.splitlines()
        if line.strip()
        and not line.lstrip().startswith("#")
        and not line.startswith(("set ", "cd "))
    ]
    assert readme_commands == ["scripts/bootstrap.sh", "scripts/test.sh"]
    assert ci_commands == readme_commands
    assert os.access(ROOT / ".ci" / "run", os.X_OK)
    for command in readme_commands:
        assert os.access(ROOT / command, os.X_OK), f"{command} is not executable"
