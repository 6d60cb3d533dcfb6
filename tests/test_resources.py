"""Long runs leave memory and file descriptors flat: 100,000 messages over one
session, 10,000 sessions opened and closed (or only dropped, or built on a
socket), and thousands of sessions that fail at the greeting.

The client runs in a child interpreter (bounded.run_isolated), so the RSS it
measures is its own and not pytest's; the server stays in this process and
gets the other core. Each test prints what it measured (pytest -rA shows it).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import bounded
import pocosmtp
import servers

# A leak of 100 bytes per message is 10 MB over 100,000 messages; allocator
# noise after the warm-up stays far below this.
RSS_GROWTH_LIMIT = 8 << 20
MESSAGES, MESSAGES_WARMUP = 100_000, 500
SESSIONS, SESSIONS_WARMUP = 10_000, 300
FAILING_SESSIONS, FAILING_WARMUP = 2_000, 100

needs_plain_allocator = pytest.mark.skipif(
    bounded.under_sanitizer(),
    reason="ASan keeps freed memory in quarantine, so RSS says nothing about leaks",
)

# Shared by every child. compose() builds a small multipart message: the
# message test sends a fresh one every other time, so that MailMessage, its
# parts and their sources are created and destroyed as often as they are sent.
# Every report names the pocosmtp the child imported.
CHILD_HELPERS = """
import gc, time
import bounded, pocosmtp
from pocosmtp import MailMessage, MailRecipient, SMTPClientSession, StringPartSource

def compose(n):
    message = MailMessage()
    message.setSender("Sender <sender@example.org>")
    message.addRecipient(MailRecipient(MailRecipient.PRIMARY_RECIPIENT, "rcpt@example.org"))
    message.setSubject(f"message {n}")
    message.addContent(StringPartSource(f"body of message {n}\\n"))
    message.addAttachment("n.txt", StringPartSource(str(n).encode(), "text/plain"))
    return message

def snapshot():
    gc.collect()
    return bounded.rss(), bounded.open_fds()

def measure(step, warmup, count):
    # step(n) warmup times, then count times between two snapshots.
    for n in range(warmup):
        step(n)
    rss_before, fds_before = snapshot()
    started = time.monotonic()
    for n in range(count):
        step(n)
    seconds = time.monotonic() - started
    rss_after, fds_after = snapshot()
    return dict(rss_before=rss_before, rss_after=rss_after, fds_before=fds_before,
                fds_after=fds_after, seconds=seconds)

_report = report

def report(**values):
    _report(module=pocosmtp.__file__, **values)
"""


def run_child(body: str, limit: float, **constants: Any) -> dict[str, Any]:
    header = "".join(f"{name} = {value!r}\n" for name, value in constants.items())
    result = bounded.run_isolated(header + CHILD_HELPERS + body, limit)
    # An installed pocosmtp would pass these tests for the working tree's.
    assert result["module"] == pocosmtp.__file__, "the child imported another pocosmtp"
    return result


def show(what: str, result: dict[str, Any]) -> None:
    growth = result["rss_after"] - result["rss_before"]
    print(
        f"{what}: {result['seconds']:.1f} s, RSS {result['rss_before'] >> 20} MiB "
        f"-> {result['rss_after'] >> 20} MiB (growth {growth / 2**20:+.2f} MiB), "
        f"fds {result['fds_before']} -> {result['fds_after']}"
    )


@pytest.fixture
def fast_sink() -> Iterator[servers.FastSink]:
    sink = servers.FastSink()
    yield sink
    sink.stop()


def assert_flat(result: dict) -> None:
    """RSS grew by less than the limit and every descriptor was given back."""
    assert result["rss_after"] - result["rss_before"] < RSS_GROWTH_LIMIT, result
    assert result["fds_after"] == result["fds_before"], result


# ------------------------------------------------------------------ one session


@needs_plain_allocator
def test_hundred_thousand_messages_on_one_session_stay_flat(fast_sink: servers.FastSink) -> None:
    result = run_child(
        """
reused = compose(-1)
session = SMTPClientSession("127.0.0.1", PORT)
session.login("client.example")

def send(n):
    session.sendMessage(compose(n) if n % 2 else reused)

measured = measure(send, WARMUP, MESSAGES)
session.close()
report(**measured)
""",
        limit=100,
        PORT=fast_sink.port,
        WARMUP=MESSAGES_WARMUP,
        MESSAGES=MESSAGES,
    )
    show(f"{MESSAGES} messages", result)

    assert fast_sink.messages == MESSAGES_WARMUP + MESSAGES
    assert_flat(result)


# ------------------------------------------------------------------ many sessions

# How each session ends: close(), dropped without close() (the deleter warns
# and disconnects), or close() on a session built from a connected socket.
SESSION_LOOPS = {
    "closed": """
def one():
    session = SMTPClientSession("127.0.0.1", PORT)
    session.login("client.example")
    session.close()
""",
    "collected": """
import warnings

# "always", not "default": "default" files every distinct message (each names
# its own port) in a registry that would grow by one entry per session.
warnings.simplefilter("always", ResourceWarning)
unclosed = 0

def count_unclosed(message, category, *rest):
    global unclosed
    assert category is ResourceWarning and "unclosed <SMTPClientSession" in str(message)
    unclosed += 1

warnings.showwarning = count_unclosed

def one():
    session = SMTPClientSession("127.0.0.1", PORT)
    session.login("client.example")
""",
    "on a socket": """
from pocosmtp import SocketAddress, StreamSocket

def one():
    socket = StreamSocket(SocketAddress("127.0.0.1", PORT))
    session = SMTPClientSession(socket)
    session.login("client.example")
    session.close()
""",
}


@needs_plain_allocator
@pytest.mark.parametrize("ending", list(SESSION_LOOPS))
def test_ten_thousand_sessions_stay_flat(fast_sink: servers.FastSink, ending: str) -> None:
    result = run_child(
        SESSION_LOOPS[ending]
        + """
report(**measure(lambda n: one(), WARMUP, SESSIONS), unclosed=globals().get("unclosed"))
""",
        limit=60,
        PORT=fast_sink.port,
        WARMUP=SESSIONS_WARMUP,
        SESSIONS=SESSIONS,
    )
    show(f"{SESSIONS} sessions, {ending}", result)

    assert fast_sink.connections == SESSIONS_WARMUP + SESSIONS
    assert_flat(result)
    if ending == "collected":
        assert result["unclosed"] == SESSIONS_WARMUP + SESSIONS


# ------------------------------------------------------------------ failing sessions

# The greeting is where every session starts, so a failure there is the one a
# misbehaving or overloaded server makes most often.
FAILURES: dict[str, tuple[list[Any] | None, str]] = {
    "greeting refused": (["554 5.3.2 too busy"], "SMTPException"),
    "reset at the greeting": ([servers.RESET], "ConnectionResetError"),
    "connection refused": (None, "ConnectionRefusedError"),
}


@pytest.mark.parametrize("failure", list(FAILURES))
def test_failing_sessions_leak_no_descriptors(failure: str) -> None:
    script, expected = FAILURES[failure]
    peer = servers.ScriptedPeer(script) if script is not None else None
    try:
        result = run_child(
            """
import builtins

# Poco's own classes derive from the builtins (ConnectionResetException from
# ConnectionResetError), so the expected error is matched by class.
EXPECTED = getattr(pocosmtp, EXPECTED, None) or getattr(builtins, EXPECTED)
errors = {}

def one():
    try:
        with SMTPClientSession("127.0.0.1", PORT) as session:
            session.login("client.example")
    except EXPECTED:
        errors[EXPECTED.__name__] = errors.get(EXPECTED.__name__, 0) + 1
    except Exception as error:
        errors[repr(error)] = errors.get(repr(error), 0) + 1

report(**measure(lambda n: one(), WARMUP, SESSIONS), errors=errors)
""",
            limit=60,
            PORT=peer.port if peer is not None else servers.free_port(),
            WARMUP=FAILING_WARMUP,
            SESSIONS=FAILING_SESSIONS,
            EXPECTED=expected,
        )
    finally:
        if peer is not None:
            peer.stop()
    show(f"{FAILING_SESSIONS} sessions, {failure}", result)

    assert result["errors"] == {expected: FAILING_WARMUP + FAILING_SESSIONS}, result
    assert result["fds_after"] == result["fds_before"], result
