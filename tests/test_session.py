"""SMTPClientSession: the dialogue on the wire, replies, errors and closing."""

from __future__ import annotations

import io
import time
from datetime import timedelta

import pytest

import pocosmtp
import servers
from pocosmtp import SMTPClientSession

GREETING = "220 peer.test ESMTP"
ONE_SECOND = timedelta(seconds=1)


def session_for(peer, timeout: timedelta = ONE_SECOND) -> SMTPClientSession:
    session = SMTPClientSession("127.0.0.1", peer.port)
    session.setTimeout(timeout)
    return session


# ------------------------------------------------------------------ class surface


def test_constants_and_login_methods():
    assert SMTPClientSession.SMTP_PORT == 25
    assert SMTPClientSession.DEFAULT_TIMEOUT == timedelta(seconds=30)
    methods = SMTPClientSession.LoginMethod
    names = ["AUTH_NONE", "AUTH_CRAM_MD5", "AUTH_CRAM_SHA1", "AUTH_LOGIN", "AUTH_PLAIN",
             "AUTH_XOAUTH2", "AUTH_NTLM"]  # fmt: skip
    assert [m.name for m in methods] == names
    assert [int(m) for m in methods] == list(range(7))  # Poco's enumerator values
    for name in names:
        assert getattr(SMTPClientSession, name) is methods[name]


def test_new_session_has_default_read_timeout(scripted_peer):
    peer = scripted_peer([GREETING])
    session = SMTPClientSession("127.0.0.1", peer.port)
    assert session.getTimeout() == timedelta(seconds=30)
    session.setTimeout(timedelta(seconds=2, milliseconds=500))
    assert session.getTimeout() == timedelta(seconds=2, milliseconds=500)
    session.close()


def test_repr_names_the_server_and_the_state(scripted_peer):
    peer = scripted_peer([GREETING])
    session = session_for(peer)
    assert repr(session) == f"<SMTPClientSession 127.0.0.1 127.0.0.1:{peer.port}>"
    session.close()
    assert repr(session).endswith(" closed>")


# ------------------------------------------------------------------ the dialogue


def test_login_sends_ehlo_then_quit(scripted_peer):
    peer = scripted_peer([GREETING, "250 peer.test"])
    session = session_for(peer)
    session.login("client.example")
    session.close()
    peer.wait_closed()
    assert peer.lines == ["EHLO client.example", "QUIT"]


def test_login_falls_back_to_helo_when_ehlo_is_refused(scripted_peer):
    peer = scripted_peer([GREETING, "502 5.5.1 EHLO not implemented", "250 peer.test"])
    session = session_for(peer)
    session.login("client.example")
    session.close()
    peer.wait_closed()
    assert peer.lines == ["EHLO client.example", "HELO client.example", "QUIT"]


def test_login_without_hostname_uses_the_node_name(scripted_peer):
    import platform

    peer = scripted_peer([GREETING, "250 peer.test"])
    session = session_for(peer)
    session.login()
    session.close()
    peer.wait_closed()
    assert peer.lines[0] == f"EHLO {platform.node()}"


def test_negative_greeting_raises_with_the_code(scripted_peer):
    peer = scripted_peer(["554 5.3.2 too busy"])
    with session_for(peer) as session, pytest.raises(pocosmtp.SMTPException) as caught:
        session.login("client.example")
    assert caught.value.code() == 554
    assert "too busy" in str(caught.value)
    assert peer.lines == []


def test_refused_helo_raises_with_the_code(scripted_peer):
    peer = scripted_peer([GREETING, "500 no EHLO", "550 no HELO either"])
    with session_for(peer) as session, pytest.raises(pocosmtp.SMTPException) as caught:
        session.login("client.example")
    assert caught.value.code() == 550
    assert "no HELO either" in str(caught.value)


def test_envelope_and_stream_on_the_wire(scripted_peer):
    peer = scripted_peer(
        [
            GREETING,
            "250 peer.test",
            "250 sender ok",
            "250 rcpt ok",
            "250 rcpt ok",
            "354 go ahead",
            "250 queued as 42",
        ]
    )
    session = session_for(peer)
    session.login("client.example")
    session.sendAddresses("Alice <a@b.example>", ["c@d.example", "e@f.example"])
    session.sendData()
    session.sendMessage(b"Subject: hi\r\n\r\n.leading dot\r\nend\r\n")
    session.close()
    peer.wait_closed()
    assert peer.lines == [
        "EHLO client.example",
        "MAIL FROM: <a@b.example>",
        "RCPT TO: <c@d.example>",
        "RCPT TO: <e@f.example>",
        "DATA",
        "QUIT",
    ]
    assert peer.data == [b"Subject: hi\r\n\r\n..leading dot\r\nend"]


def test_stream_without_final_line_break_is_terminated(scripted_peer):
    peer = scripted_peer([GREETING, "250 ok", "250 ok", "250 ok", "354 go", "250 queued"])
    session = session_for(peer)
    session.login("client.example")
    session.sendAddresses("a@b", ["c@d"])
    session.sendData()
    session.sendMessage(io.BytesIO(b"Subject: x\r\n\r\nno newline"))
    session.close()
    peer.wait_closed()
    assert peer.data == [b"Subject: x\r\n\r\nno newline"]
    assert peer.received.endswith(b"no newline\r\n.\r\nQUIT\r\n")


def test_rejected_recipient_raises_550_with_the_reply(scripted_peer):
    peer = scripted_peer([GREETING, "250 ok", "250 sender ok", "550 5.1.1 <c@d>: no such user"])
    with session_for(peer) as session:
        session.login("client.example")
        with pytest.raises(pocosmtp.SMTPException) as caught:
            session.sendAddresses("a@b", ["c@d"])
    assert caught.value.code() == 550
    assert "no such user" in str(caught.value)
    assert peer.lines[-2:] == ["RCPT TO: <c@d>", "QUIT"]


def test_refused_data_raises(scripted_peer):
    peer = scripted_peer([GREETING, "250 ok", "554 5.5.1 no valid recipients"])
    with session_for(peer) as session:
        session.login("client.example")
        with pytest.raises(pocosmtp.SMTPException) as caught:
            session.sendData()
    assert caught.value.code() == 554


def test_rejected_message_raises_and_the_session_goes_on(scripted_peer):
    peer = scripted_peer(
        [GREETING, "250 ok", "250 ok", "250 ok", "354 go", "554 5.7.1 spam", "250 still here"]
    )
    session = session_for(peer)
    session.login("client.example")
    session.sendAddresses("a@b", ["c@d"])
    session.sendData()
    with pytest.raises(pocosmtp.SMTPException) as caught:
        session.sendMessage(b"Subject: spam\r\n\r\nbuy\r\n")
    assert caught.value.code() == 554
    assert "spam" in str(caught.value)
    # An SMTP reply leaves the dialogue in step: the session is still usable.
    assert session.sendCommand("NOOP") == (250, "250 still here")
    session.close()


def test_send_command_returns_status_and_reply(scripted_peer):
    peer = scripted_peer(
        [GREETING, "250-peer.test\r\n250-SIZE 1000\r\n250 HELP", "252 maybe", "502 no"]
    )
    session = session_for(peer)
    session.open()
    status, reply = session.sendCommand("EHLO", "client.example")
    assert status == 250
    assert reply.splitlines() == ["250-peer.test", "250-SIZE 1000", "250 HELP"]
    assert session.sendCommand("VRFY", "bob") == (252, "252 maybe")
    assert session.sendCommand("XTEST") == (502, "502 no")  # negative: returned, not raised
    session.close()
    peer.wait_closed()
    assert peer.lines == ["EHLO client.example", "VRFY bob", "XTEST", "QUIT"]


def test_open_reads_the_greeting_once(scripted_peer):
    peer = scripted_peer([GREETING, "250 noop"])
    session = session_for(peer)
    session.open()
    session.open()
    assert session.sendCommand("NOOP") == (250, "250 noop")
    session.close()


# ------------------------------------------------------------------ network failures


def test_stalled_server_times_out(scripted_peer):
    peer = scripted_peer([GREETING, servers.STALL])
    session = session_for(peer, ONE_SECOND)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        session.login("client.example")
    assert 0.9 < time.monotonic() - started < 3


def test_refused_connection_raises_connection_refused():
    with pytest.raises(ConnectionRefusedError):
        SMTPClientSession("127.0.0.1", servers.free_port())


def test_server_reset_raises_connection_reset(scripted_peer):
    peer = scripted_peer([GREETING, servers.RESET])
    session = session_for(peer)
    with pytest.raises(ConnectionResetError):
        session.login("client.example")


# ------------------------------------------------------------------ closing


def test_context_manager_quits_and_closes(scripted_peer):
    peer = scripted_peer([GREETING, "250 ok"])
    with SMTPClientSession("127.0.0.1", peer.port) as session:
        assert isinstance(session, SMTPClientSession)
        session.login("client.example")
    peer.wait_closed()
    assert peer.lines == ["EHLO client.example", "QUIT"]


def test_context_manager_closes_on_error_and_keeps_the_error(scripted_peer):
    peer = scripted_peer([GREETING, "250 ok"])
    with pytest.raises(KeyError):
        with SMTPClientSession("127.0.0.1", peer.port) as session:
            session.login("client.example")
            raise KeyError("body failed")
    peer.wait_closed()
    assert peer.lines[-1] == "QUIT"


def test_context_manager_error_wins_over_a_failing_quit(scripted_peer):
    peer = scripted_peer([GREETING, "250 ok", servers.STALL])
    session = session_for(peer)
    with pytest.raises(KeyError):
        with session:
            session.login("client.example")
            raise KeyError("body failed")
    assert peer.lines[-1] == "QUIT"  # tried, timed out, dropped
    assert repr(session).endswith(" closed>")


def test_calls_after_close_raise_a_clear_error(scripted_peer):
    peer = scripted_peer([GREETING, "250 ok"])
    session = session_for(peer)
    session.login("client.example")
    session.close()
    session.close()  # closing twice is harmless and sends nothing
    for call in (
        lambda: session.sendCommand("NOOP"),
        lambda: session.sendMessage(b"x\r\n"),
        lambda: session.sendAddresses("a@b", ["c@d"]),
        lambda: session.login("client.example"),
    ):
        with pytest.raises(pocosmtp.IllegalStateException, match="session is closed"):
            call()
    peer.wait_closed()
    assert peer.lines == ["EHLO client.example", "QUIT"]


def test_close_before_open_drops_the_connection_without_quit(scripted_peer):
    peer = scripted_peer([GREETING])
    session = session_for(peer)
    session.close()
    peer.wait_closed()
    assert peer.received == b""


def test_close_when_quit_times_out_still_closes(scripted_peer):
    peer = scripted_peer([GREETING, "250 ok", servers.STALL])
    session = session_for(peer)
    session.login("client.example")
    with pytest.raises(TimeoutError):
        session.close()
    assert repr(session).endswith(" closed>")
    with pytest.raises(pocosmtp.IllegalStateException):
        session.sendCommand("NOOP")


# ------------------------------------------------------------------ aborted transfers


class FailingReader(io.RawIOBase):
    """Gives `head`, then raises on the next read."""

    def __init__(self, head: bytes) -> None:
        self.head = head

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if not self.head:
            raise OSError("disk on fire")
        n = len(self.head)
        buffer[:n] = self.head
        self.head = b""
        return n


def test_failing_stream_aborts_the_connection_mid_data(scripted_peer):
    peer = scripted_peer([GREETING, "250 ok", "250 ok", "250 ok", "354 go", "250 queued"])
    session = session_for(peer)
    session.login("client.example")
    session.sendAddresses("a@b", ["c@d"])
    session.sendData()
    with pytest.raises(OSError, match="disk on fire"):
        session.sendMessage(FailingReader(b"Subject: half\r\n\r\nfirst line\r\n"))
    peer.wait_closed()
    # The server saw no end of data and no further command: the message is lost.
    assert peer.data == []
    assert peer.lines == ["EHLO client.example", "MAIL FROM: <a@b>", "RCPT TO: <c@d>", "DATA"]
    assert not peer.received.endswith(b"\r\n.\r\n")
    with pytest.raises(pocosmtp.IllegalStateException, match="part-way"):
        session.sendCommand("NOOP")
    session.close()  # closing an aborted session is harmless


def test_wrong_stream_type_is_refused_before_anything_is_sent(scripted_peer):
    peer = scripted_peer([GREETING, "250 ok", "250 ok", "250 ok", "354 go", "250 queued"])
    session = session_for(peer)
    session.login("client.example")
    with pytest.raises(TypeError):
        session.sendMessage("not bytes")  # type: ignore[call-overload]
    assert session.sendCommand("NOOP") == (250, "250 ok")
    session.close()


# ------------------------------------------------------------------ against aiosmtpd


def test_raw_stream_reaches_the_server(smtp_server):
    data = b"From: a@b.example\r\nSubject: raw\r\n\r\n.starts with a dot\r\n..two\r\n"
    with SMTPClientSession(smtp_server.host, smtp_server.port) as session:
        session.login("client.example")
        session.sendAddresses("a@b.example", ["c@d.example"])
        session.sendData()
        session.sendMessage(data)
    (received,) = smtp_server.wait_for(1)
    assert received.mail_from == "a@b.example"
    assert received.rcpt_tos == ["c@d.example"]
    assert received.data == data


def test_large_file_object_reaches_the_server_intact(smtp_server):
    body = b"".join(b"%06d .dot line of the body\r\n" % i for i in range(20000))  # ~560 KB
    data = b"Subject: big\r\n\r\n" + body
    with SMTPClientSession(smtp_server.host, smtp_server.port) as session:
        session.login("client.example")
        session.sendAddresses("a@b.example", ["c@d.example"])
        session.sendData()
        session.sendMessage(io.BufferedReader(io.BytesIO(data)))
    (received,) = smtp_server.wait_for(1)
    assert received.data == data


def test_two_messages_on_one_session(smtp_server):
    with SMTPClientSession(smtp_server.host, smtp_server.port) as session:
        session.login("client.example")
        for n in range(2):
            session.sendAddresses("a@b.example", [f"r{n}@d.example"])
            session.sendData()
            session.sendMessage(b"Subject: %d\r\n\r\nbody\r\n" % n)
    first, second = smtp_server.wait_for(2)
    assert (first.rcpt_tos, second.rcpt_tos) == (["r0@d.example"], ["r1@d.example"])
    assert second.data == b"Subject: 1\r\n\r\nbody\r\n"
