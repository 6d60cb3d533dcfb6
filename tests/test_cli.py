"""The ``pocosmtp`` command, run as a user runs it: a subprocess against real
servers on 127.0.0.1 (aiosmtpd, with TLS and authentication where needed),
checking exit status, stdout, stderr and what the server stored.
"""

from __future__ import annotations

import base64
import email
import email.policy
import mailbox
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import auth
import servers
import tls_servers
from pocosmtp.cli import SecretMask

USER, PASSWORD = "alice", "Tr0ub4dor&3 s3cret"
CREDENTIALS = {USER: PASSWORD}

# aiosmtpd warns when AUTH is offered without TLS; these tests want exactly that.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("POCOSMTP_PASSWORD", None)
    # A relative PYTHONPATH (PYTHONPATH=python, to test the working tree) must
    # survive the change of folder below.
    if env.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.pathsep.join(
            os.path.abspath(p) for p in env["PYTHONPATH"].split(os.pathsep)
        )
    env.update(extra)
    return env


def pocosmtp(*args: str, cwd: Path, password: str | None = None, stdin: bytes = b""):
    """Runs ``python -m pocosmtp ARGS``; returns the CompletedProcess (text)."""
    env = _env(POCOSMTP_PASSWORD=password) if password is not None else _env()
    done = subprocess.run(
        [sys.executable, "-m", "pocosmtp", *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        timeout=60,
    )
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
    )


def parsed(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)


def secret_forms(password: str = PASSWORD, user: str = USER) -> list[str]:
    """The password and the base64 forms AUTH PLAIN, LOGIN and XOAUTH2 send."""
    blobs = [
        password.encode(),
        f"\0{user}\0{password}".encode(),
        f"user={user}\x01auth=Bearer {password}\x01\x01".encode(),
    ]
    return [password] + [base64.b64encode(blob).decode() for blob in blobs]


def assert_no_secret(*outputs: str) -> None:
    for output in outputs:
        for form in secret_forms():
            assert form not in output


class Rejecting(servers._Recorder):
    """Refuses recipients starting with 'reject' (RCPT) and bodies containing 'SPAM' (DATA)."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address.startswith("reject"):
            return f"550 5.1.1 <{address}>: Recipient address rejected"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if b"SPAM" in envelope.original_content:
            return "554 5.7.1 Message refused as spam"
        return await super().handle_DATA(server, session, envelope)


# ------------------------------------------------------------------ conventions


def test_help_lists_the_commands_and_exits_0(tmp_path):
    done = pocosmtp("--help", cwd=tmp_path)
    assert done.returncode == 0
    for command in ("send", "replay", "sink", "--verbose"):
        assert command in done.stdout
    assert done.stderr == ""

    send_help = pocosmtp("send", "--help", cwd=tmp_path)
    assert send_help.returncode == 0
    assert "POCOSMTP_PASSWORD" in send_help.stdout
    assert "--password" not in send_help.stdout


def test_installed_command_is_the_same_program(tmp_path):
    script = Path(sys.executable).parent / "pocosmtp"
    assert script.exists(), "the pocosmtp console script is not installed next to python"
    done = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, env=_env(), timeout=60
    )
    assert done.returncode == 0
    assert done.stdout.startswith("pocosmtp ")
    assert done.stdout == pocosmtp("--version", cwd=tmp_path).stdout


SEND = ["send", "--from", "a@example.org", "--to", "b@example.org"]


@pytest.mark.parametrize(
    "args, complaint",
    [
        ([], "required"),
        (["send", "--to", "b@example.org"], "needs --from"),
        ([*SEND, "--tls", "--starttls"], "not allowed"),
        ([*SEND, "--login", "plain"], "needs --user"),
        (["send", "--eml", "x.eml", "--subject", "Hi"], "--eml"),
        ([*SEND, "--login", "rot13"], "invalid choice"),
        ([*SEND, "--password", "x"], "unrecognized"),
    ],
)
def test_usage_errors_exit_2_on_stderr(tmp_path, args, complaint):
    done = pocosmtp(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert complaint in done.stderr
    assert "usage:" in done.stderr or "error:" in done.stderr
    assert done.stdout == ""


def test_login_without_a_password_and_no_terminal_is_a_usage_error(tmp_path, smtp_server):
    done = pocosmtp(
        "send", "--port", str(smtp_server.port), "--from", "a@example.org", "--to", "b@example.org",
        "--login", "plain", "--user", USER, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2
    assert "POCOSMTP_PASSWORD" in done.stderr
    assert smtp_server.messages == []


def test_refused_connection_exits_1_with_the_error_on_stderr(tmp_path):
    port = servers.free_port()
    done = pocosmtp(
        "send", "--port", str(port), "--from", "a@example.org", "--to", "b@example.org",
        "--body", "x", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith("pocosmtp: ")
    assert "refused" in done.stderr.lower()
    assert "Traceback" not in done.stderr


def test_missing_attachment_exits_1(tmp_path, smtp_server):
    done = pocosmtp(
        "send", "--port", str(smtp_server.port), "--from", "a@example.org", "--to", "b@example.org",
        "--attach", "no-such-file.pdf", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 1
    assert "no-such-file.pdf" in done.stderr
    assert "Traceback" not in done.stderr
    assert smtp_server.messages == []


# ------------------------------------------------------------------ send


def test_send_composes_from_options(tmp_path, smtp_server):
    (tmp_path / "report.csv").write_bytes(b"job,status\nbuild,ok\n")
    (tmp_path / "body.html").write_text("<p>Gr\u00fc\u00dfe</p>\n", encoding="utf-8")

    done = pocosmtp(
        "send", "--port", str(smtp_server.port),
        "--from", "Ops <ops@example.org>", "--to", "Dev Team <dev@example.org>",
        "--cc", "lead@example.org", "--bcc", "audit@example.org",
        "--subject", "Nightly r\u00e9sum\u00e9", "--body-file", "body.html", "--html",
        "--attach", "report.csv", cwd=tmp_path,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert done.stdout == f"sent to 3 recipients via 127.0.0.1:{smtp_server.port}\n"
    assert done.stderr == ""
    (received,) = smtp_server.wait_for(1)
    assert received.mail_from == "ops@example.org"
    assert sorted(received.rcpt_tos) == ["audit@example.org", "dev@example.org", "lead@example.org"]
    message = parsed(received.data)
    assert message["Subject"] == "Nightly r\u00e9sum\u00e9"
    assert message["To"] == "Dev Team <dev@example.org>"
    assert message["Cc"] == "lead@example.org"
    assert "Bcc" not in message
    html, attachment = [part for part in message.walk() if not part.is_multipart()]
    assert html.get_content_type() == "text/html"
    assert html.get_content().rstrip() == "<p>Gr\u00fc\u00dfe</p>"
    assert attachment.get_filename() == "report.csv"
    assert attachment.get_content() == b"job,status\nbuild,ok\n"


def test_send_plain_text_body(tmp_path, smtp_server):
    done = pocosmtp(
        "send", "--port", str(smtp_server.port), "--from", "a@example.org",
        "--to", "b@example.org", "--subject", "Hi", "--body", "Hello there.", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    message = parsed(smtp_server.wait_for(1)[0].data)
    assert not message.is_multipart()
    assert message.get_content_type() == "text/plain"
    assert message.get_content().strip() == "Hello there."


def test_send_eml_unchanged_except_bcc(tmp_path, smtp_server):
    stored = (
        b"From: Ann <ann@example.org>\r\n"
        b"To: bob@example.org, Carl <carl@example.org>\r\n"
        b"Bcc: secret@example.org,\r\n"
        b" other-secret@example.org\r\n"
        b"Subject: kept as it is\r\n"
        b"X-Custom: 1\r\n"
        b"\r\n"
        b"Body line one.\r\n"
        b".leading dot\r\n"
    )
    (tmp_path / "stored.eml").write_bytes(stored)

    done = pocosmtp("send", "--port", str(smtp_server.port), "--eml", "stored.eml", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    (received,) = smtp_server.wait_for(1)
    assert received.mail_from == "ann@example.org"
    assert received.rcpt_tos == [
        "bob@example.org",
        "carl@example.org",
        "secret@example.org",
        "other-secret@example.org",
    ]
    assert received.data == stored.replace(
        b"Bcc: secret@example.org,\r\n other-secret@example.org\r\n", b""
    )


def test_send_eml_from_stdin_with_envelope_options(tmp_path, smtp_server):
    stored = b"From: ann@example.org\nTo: bob@example.org\nSubject: s\n\nLF only\n"
    done = pocosmtp(
        "send", "--port", str(smtp_server.port), "--eml", "-",
        "--from", "bounce@example.org", "--to", "elsewhere@example.org",
        cwd=tmp_path, stdin=stored,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (received,) = smtp_server.wait_for(1)
    assert (received.mail_from, received.rcpt_tos) == (
        "bounce@example.org",
        ["elsewhere@example.org"],
    )
    assert received.data == stored.replace(b"\n", b"\r\n")  # Poco sends CRLF line ends


def test_rejected_recipient_exits_1_with_the_server_reply(tmp_path, smtp_server_factory):
    server = smtp_server_factory(Rejecting())
    done = pocosmtp(
        "send", "--port", str(server.port), "--from", "a@example.org",
        "--to", "rejected@example.org", "--body", "x", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stdout == ""
    assert "550 5.1.1 <rejected@example.org>: Recipient address rejected" in done.stderr
    assert server.messages == []


# ------------------------------------------------------------------ login and secrets


@pytest.mark.parametrize("method", ["plain", "login", "cram-md5", "cram-sha1", "xoauth2", "ntlm"])
def test_login_methods_never_show_the_password(tmp_path, smtp_server_factory, method):
    handler = auth.AuthHandler(CREDENTIALS)
    server = smtp_server_factory(handler, auth_required=True)

    done = pocosmtp(
        "--verbose", "send", "--port", str(server.port), "--login", method, "--user", USER,
        "--from", "alice@example.org", "--to", "bob@example.org", "--body", "x",
        cwd=tmp_path, password=PASSWORD,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert handler.attempts == [(method.upper(), USER, True)]
    assert f"AUTH {method.upper()}" in done.stderr  # the step is shown...
    assert_no_secret(done.stdout, done.stderr)  # ...never the secret
    assert len(server.wait_for(1)) == 1


def test_wrong_password_exits_1_without_showing_it(tmp_path, smtp_server_factory):
    handler = auth.AuthHandler(CREDENTIALS)
    server = smtp_server_factory(handler, auth_required=True)
    done = pocosmtp(
        "-v", "send", "--port", str(server.port), "--login", "login", "--user", USER,
        "--from", "alice@example.org", "--to", "bob@example.org",
        cwd=tmp_path, password=PASSWORD + "-wrong",
    )  # fmt: skip
    assert done.returncode == 1
    assert "535" in done.stderr
    assert PASSWORD not in done.stderr + done.stdout
    assert handler.attempts == [("LOGIN", USER, False)]


def test_password_prompt_on_a_terminal_is_not_echoed(tmp_path, smtp_server_factory):
    handler = auth.AuthHandler(CREDENTIALS)
    server = smtp_server_factory(handler, auth_required=True)
    argv = [
        "send", "--port", str(server.port), "--login", "plain", "--user", USER,
        "--from", "alice@example.org", "--to", "bob@example.org", "--body", "x", "-v",
    ]  # fmt: skip

    status, output = run_on_terminal(argv, tmp_path, answer=PASSWORD)

    assert status == 0, output
    assert f"SMTP password for {USER}:" in output
    assert_no_secret(output)
    assert handler.attempts == [("PLAIN", USER, True)]


def test_secret_mask_covers_auth_lines_challenges_and_the_password():
    mask = SecretMask()
    mask.add(PASSWORD, USER)
    plain = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
    assert mask.mask(f"C: AUTH PLAIN {plain}") == "C: AUTH PLAIN ****"
    assert mask.mask("S: 334 PDEyMzQ1QGV4YW1wbGU+") == "S: 334 ****"
    assert mask.mask(f"reply quoting {PASSWORD!s} back") == "reply quoting **** back"
    assert mask.mask("AUTH LOGIN") == "AUTH LOGIN"  # the method alone is no secret
    assert mask.mask("AUTH NTLM TlRMTVNTUAABAAAAB4IIAA==") == "AUTH NTLM ****"
    assert mask.mask("EHLO, then AUTH LOGIN (user 'bob')") == "EHLO, then AUTH LOGIN (user 'bob')"
    assert mask.mask("250 OK") == "250 OK"


# ------------------------------------------------------------------ TLS


@pytest.fixture
def pki(tmp_path) -> tls_servers.Pki:
    return tls_servers.Pki(tmp_path)


def test_starttls_with_cafile_and_login(tmp_path, pki):
    handler = tls_servers.TlsAuthHandler(CREDENTIALS)
    server = tls_servers.starttls_server(
        tls_servers.server_context(pki.issue("localhost")),
        handler,
        auth_required=True,
        auth_require_tls=True,
    ).start()
    try:
        done = pocosmtp(
            "-v", "send", "--host", "localhost", "--port", str(server.port), "--starttls",
            "--cafile", pki.ca_file, "--login", "plain", "--user", USER,
            "--from", "alice@example.org", "--to", "bob@example.org", "--subject", "tls",
            cwd=tmp_path, password=PASSWORD,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "STARTTLS" in done.stderr
        assert_no_secret(done.stdout, done.stderr)
        assert handler.attempts == [("PLAIN", USER, True)]
        assert handler.encrypted == [True]
        assert server.wait_for(1) and handler.tls[0].encrypted
    finally:
        server.stop()


def test_starttls_refuses_a_certificate_the_system_does_not_trust(tmp_path, pki):
    server = tls_servers.starttls_server(tls_servers.server_context(pki.issue("localhost"))).start()
    try:
        done = pocosmtp(
            "send", "--host", "localhost", "--port", str(server.port), "--starttls",
            "--from", "a@example.org", "--to", "b@example.org", cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == 1
        assert "certificate" in done.stderr.lower()
        assert server.messages == []
    finally:
        server.stop()


def test_implicit_tls_with_cafile(tmp_path, pki):
    server = tls_servers.implicit_tls_server(
        tls_servers.server_context(pki.issue("localhost"))
    ).start()
    try:
        done = pocosmtp(
            "send", "--host", "localhost", "--port", str(server.port), "--tls",
            "--cafile", pki.ca_file, "--from", "a@example.org", "--to", "b@example.org",
            "--body", "over TLS", cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        server.wait_for(1)
        assert isinstance(server.handler, tls_servers.TlsRecorder)
        assert server.handler.tls[0].encrypted
    finally:
        server.stop()


# ------------------------------------------------------------------ replay


def eml(number: int, to: str = "bob@example.org", body: str = "hello") -> bytes:
    return (
        f"From: ann@example.org\r\nTo: {to}\r\nSubject: message {number}\r\n\r\n{body}\r\n"
    ).encode()


def test_replay_folder_continues_past_rejections(tmp_path, smtp_server_factory):
    server = smtp_server_factory(Rejecting())
    folder = tmp_path / "outbox"
    folder.mkdir()
    (folder / "1.eml").write_bytes(eml(1))
    (folder / "2.eml").write_bytes(eml(2, to="rejected@example.org"))
    (folder / "3.eml").write_bytes(eml(3, body="SPAM SPAM"))
    (folder / "4.eml").write_bytes(eml(4))
    (folder / "notes.txt").write_text("not a message")

    done = pocosmtp("replay", "outbox", "--port", str(server.port), cwd=tmp_path)

    assert done.returncode == 1
    summary = done.stdout.splitlines()
    assert summary[0].startswith(f"replay to 127.0.0.1:{server.port}: 2 sent, 2 rejected in ")
    assert summary[1] == (
        "  rejected 2.eml: Recipient rejected: <rejected@example.org>: "
        "550 5.1.1 <rejected@example.org>: Recipient address rejected"
    )
    assert summary[2].startswith("  rejected 3.eml: ") and "554 5.7.1" in summary[2]
    assert "[" not in done.stderr  # no progress bar without a terminal
    subjects = [parsed(m.data)["Subject"] for m in server.wait_for(2)]
    assert subjects == ["message 1", "message 4"]


def test_replay_mbox_over_one_session(tmp_path, smtp_server):
    box = mailbox.mbox(tmp_path / "archive.mbox")
    for number in range(1, 6):
        box.add(eml(number))
    box.close()

    done = pocosmtp(
        "replay", "archive.mbox", "--port", str(smtp_server.port), "--to", "copy@example.org",
        cwd=tmp_path,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert ": 5 sent, 0 rejected in " in done.stdout
    received = smtp_server.wait_for(5)
    assert [m.rcpt_tos for m in received] == [["copy@example.org"]] * 5
    assert [parsed(m.data)["Subject"] for m in received] == [f"message {n}" for n in range(1, 6)]


def test_replay_of_a_missing_source_exits_1(tmp_path, smtp_server):
    done = pocosmtp("replay", "nowhere", "--port", str(smtp_server.port), cwd=tmp_path)
    assert done.returncode == 1
    assert "nowhere" in done.stderr


def test_replay_shows_a_progress_bar_on_a_terminal(tmp_path, smtp_server):
    folder = tmp_path / "outbox"
    folder.mkdir()
    for number in range(3):
        (folder / f"{number}.eml").write_bytes(eml(number))

    status, output = run_on_terminal(
        ["replay", str(folder), "--port", str(smtp_server.port)], tmp_path
    )

    assert status == 0, output
    assert "] 3/3" in output and "[" + "#" * 30 + "]" in output
    assert ": 3 sent, 0 rejected" in output


# ------------------------------------------------------------------ sink


def test_sink_stores_what_it_receives_and_stops_on_sigterm(tmp_path):
    sink = subprocess.Popen(
        [sys.executable, "-m", "pocosmtp", "sink", "--dir", "captured", "--port", "0"],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert sink.stdout is not None
    try:
        banner = sink.stdout.readline()
        assert banner.startswith("capturing mail on 127.0.0.1:"), banner
        port = banner.split()[3].rsplit(":", 1)[1]

        done = pocosmtp(
            "send", "--port", port, "--from", "a@example.org", "--to", "b@example.org",
            "--subject", "captured", "--body", "kept", cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert sink.stdout.readline() == "stored captured/000001.eml\n"
    finally:
        sink.send_signal(signal.SIGTERM)
        out, err = sink.communicate(timeout=30)

    assert sink.returncode == 0, err
    assert out == "stopped; 1 message stored\n"
    stored = parsed((tmp_path / "captured" / "000001.eml").read_bytes())
    assert stored["Subject"] == "captured"


# ------------------------------------------------------------------ terminal


def run_on_terminal(argv: list[str], cwd: Path, answer: str | None = None) -> tuple[int, str]:
    """Runs the CLI with a pseudo-terminal as its controlling terminal and its
    stdin, stdout and stderr; types ``answer`` at the password prompt. Returns
    the exit status and everything the terminal showed."""
    main, child = pty.openpty()
    # The child becomes a session leader and takes the terminal as its own,
    # so getpass reads from it as from a user's terminal.
    take_terminal = (
        "import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
        "os.execv(sys.executable, [sys.executable, '-m', 'pocosmtp', *sys.argv[1:]])"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", take_terminal, *argv],
        cwd=cwd,
        env=_env(),
        stdin=child,
        stdout=child,
        stderr=child,
        start_new_session=True,
    )
    os.close(child)
    shown = b""
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(main, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                shown += chunk
                if answer is not None and b"password for" in shown:
                    os.write(main, answer.encode() + b"\n")
                    answer = None
            elif process.poll() is not None:
                break
        status = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(main)
    return status, shown.decode(errors="replace")
