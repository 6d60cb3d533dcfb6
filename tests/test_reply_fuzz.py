"""A reply-stream fuzzer: Hypothesis plays random server replies (valid codes,
multi-line replies, AUTH challenges, binary garbage, odd line breaks, partial
lines, hang-ups and resets) against random sequences of every session
method. Every call must return or raise a pocosmtp exception or a builtin
OSError (plus the two builtins pinned in test_hostile_servers: IndexError
for a bare "334", UnicodeDecodeError for a reply that is not UTF-8); none may
crash the interpreter, hang past its read timeout, or leak a descriptor.

The normal run tries FUZZ_EXAMPLES examples (about 20 s). For a longer run:

    POCOSMTP_FUZZ_EXAMPLES=20000 scripts/test.sh tests/test_reply_fuzz.py

Hypothesis prints the failing reply stream and the calls, shrunk, and keeps
it in .hypothesis/ so the next run tries it first.
"""

from __future__ import annotations

import base64
import io
import os
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import auth
import bounded
import pocosmtp
import servers
from pocosmtp import MailMessage, MailRecipient, SMTPClientSession

FUZZ_EXAMPLES = int(os.environ.get("POCOSMTP_FUZZ_EXAMPLES", "250"))
TIMEOUT = 0.15  # seconds; the read timeout of the fuzzed sessions
ALLOWED = (pocosmtp.PocoException, OSError, UnicodeDecodeError, IndexError)

# ------------------------------------------------------------------ replies

CODES = [211, 220, 221, 235, 250, 251, 252, 334, 354, 421, 450, 451, 500, 501, 502, 503, 504,
         530, 535, 550, 551, 552, 553, 554, 0, 99, 999]  # fmt: skip
LINE_ENDS = [b"\r\n", b"\r\n", b"\r\n", b"\n", b"\r", b"\n\r", b""]
text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40).map(str.encode)


@st.composite
def reply(draw: st.DrawFn) -> bytes:
    """A reply of one or more lines, mostly well formed."""
    lines = draw(st.lists(st.tuples(st.sampled_from(CODES), text), min_size=1, max_size=4))
    out = b""
    for index, (code, words) in enumerate(lines):
        last = index == len(lines) - 1
        separator = draw(st.sampled_from([b" ", b"-"])) if last else b"-"
        out += b"%03d" % code + separator + words + draw(st.sampled_from(LINE_ENDS))
    return out


def challenge(data: bytes) -> bytes:
    return b"334 " + base64.b64encode(data) + b"\r\n"


KNOWN = [
    b"250-peer.fuzz\r\n250 AUTH LOGIN PLAIN CRAM-MD5 CRAM-SHA1 XOAUTH2 NTLM\r\n",
    b"250 AUTH=LOGIN PLAIN\r\n",
    challenge(b"Username:"),
    challenge(b"Password:"),
    challenge(b"<1896.697170952@peer.fuzz>"),
    challenge(auth.ntlm_challenge(b"\x01" * 8, auth.NTLM_TARGET)),
    b"334\r\n",
    b"334 ",
    b"235 2.7.0 ok\r\n",
    b"354 go ahead\r\n",
    b"250 ok\r\n",
    b"250-first\r\n",
]

step = st.one_of(
    reply(),
    st.sampled_from(KNOWN),
    st.binary(max_size=48).map(lambda junk: junk + b"\r\n"),  # garbage, one line
    st.binary(max_size=48),  # garbage, no line end
    st.binary(max_size=64).map(challenge),  # a challenge of random bytes
    st.sampled_from(KNOWN).flatmap(  # a valid reply cut short by a hang-up
        lambda whole: st.integers(0, len(whole)).map(lambda cut: (whole[:cut], servers.CLOSE))
    ),
    st.just(servers.CLOSE),
    st.just(servers.RESET),
)
greeting = st.one_of(st.just(b"220 peer.fuzz ESMTP\r\n"), step)

# ------------------------------------------------------------------ calls

METHODS = list(SMTPClientSession.LoginMethod)


def make_message() -> MailMessage:
    message = MailMessage()
    message.setSender("Fuzz <fuzz@example.org>")
    message.addRecipient(MailRecipient(MailRecipient.PRIMARY_RECIPIENT, "to@example.org"))
    message.setSubject("fuzz")
    message.setContent("line one\r\n.line two\r\n")
    return message


CALLS: dict[str, Any] = {
    "open": lambda s: s.open(),
    "login()": lambda s: s.login(),
    "login(host)": lambda s: s.login("client.fuzz"),
    **{
        f"login({method.name})": (lambda m: lambda s: s.login("client.fuzz", m, "user", "secret"))(
            method
        )
        for method in METHODS
    },
    "login(method) without host": lambda s: s.login(SMTPClientSession.AUTH_PLAIN, "u", "p"),
    "sendCommand(NOOP)": lambda s: s.sendCommand("NOOP"),
    "sendCommand(VRFY, bob)": lambda s: s.sendCommand("VRFY", "bob"),
    "sendAddresses": lambda s: s.sendAddresses("a@example.org", ["b@example.org", "c@x"]),
    "sendData": lambda s: s.sendData(),
    "sendMessage(bytes)": lambda s: s.sendMessage(b"Subject: f\r\n\r\n.dot\r\nend\r\n"),
    "sendMessage(file)": lambda s: s.sendMessage(io.BytesIO(b"Subject: f\r\n\r\nbody")),
    "sendMessage(message)": lambda s: s.sendMessage(make_message()),
    "sendMessage(message, recipients)": lambda s: s.sendMessage(make_message(), ["r@x.org"]),
    "close": lambda s: s.close(),
}

# ------------------------------------------------------------------ the fuzz test


def play(script: list[Any], calls: list[str]) -> None:
    peer = servers.ScriptedPeer(script)
    sessions: list[SMTPClientSession] = []

    def run() -> list[tuple[str, Any]]:
        # Even the constructor may fail: a reset can arrive before it returns.
        try:
            sessions.append(SMTPClientSession("127.0.0.1", peer.port))
        except ALLOWED as error:
            return [("SMTPClientSession", error)]
        session = sessions[0]
        session.setTimeout(timedelta(seconds=TIMEOUT))
        outcomes: list[tuple[str, Any]] = []
        for name in [*calls, "close"]:
            try:
                outcomes.append((name, CALLS[name](session)))
            except ALLOWED as error:
                outcomes.append((name, error))
        return outcomes

    try:
        # Each call waits for at most one read timeout before it raises.
        limit = (len(calls) + 2) * TIMEOUT + 3

        def rescue() -> None:
            bounded.cut_client_sockets(peer.port)

        outcome = bounded.call_bounded(run, limit, rescue=rescue)
        if outcome.error is not None:
            raise AssertionError(
                f"{type(outcome.error).__name__} escaped: {outcome.error!r}"
            ) from outcome.error
        for session in sessions:
            assert repr(session).endswith(" closed>"), outcome.value
            try:
                session.sendCommand("NOOP")
            except pocosmtp.IllegalStateException:
                pass
            else:
                raise AssertionError("a closed session sent a command")
    finally:
        peer.stop()


@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    script=st.tuples(greeting, st.lists(step, max_size=8)).map(lambda g: [g[0], *g[1]]),
    calls=st.lists(st.sampled_from(sorted(CALLS)), min_size=1, max_size=4),
)
def test_random_reply_streams_never_crash_hang_or_escape(script, calls):
    play(script, calls)


def test_the_fuzzer_leaks_no_descriptors():
    # Runs after the fuzz test in file order; a fresh batch of examples here
    # would double the time, so this replays a fixed sample instead.
    sample: list[tuple[list[Any], list[str]]] = [
        ([b"220 hi\r\n", (b"250 a", servers.CLOSE)], ["login(host)"]),
        ([b"220 hi\r\n", servers.RESET], ["sendCommand(NOOP)", "sendData"]),
        ([b"\x00\xff\r\n"], ["login(AUTH_LOGIN)"]),
        ([b"220 hi\r\n", KNOWN[0], b"334 !!\r\n", b"535 no\r\n"], ["login(AUTH_CRAM_MD5)"]),
        ([b"220 hi\r\n", b"250 ok\r\n", b"25"], ["sendMessage(message)"]),
    ]
    play(*sample[-1])  # warm up whatever the first call allocates once
    before = bounded.open_fds()
    for _ in range(5):
        for script, calls in sample:
            try:
                play(script, calls)
            except AssertionError:
                pass  # a failure of its own is the fuzz test's to report
    assert bounded.open_fds() == before
