"""SMTPClientSession.sendMessage with a MailMessage: envelope, data, failures."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import timedelta

import pytest

import pocosmtp
import servers
from pocosmtp import MailMessage, MailRecipient, SMTPClientSession

GREETING = "220 peer.test ESMTP"


def make_message(content: str = "Hello,\r\n.a line with a dot\r\nbye\r\n") -> MailMessage:
    message = MailMessage()
    message.setSender("Alice <alice@example.org>")
    message.addRecipient(MailRecipient(MailRecipient.PRIMARY_RECIPIENT, "bob@example.org"))
    message.addRecipient(MailRecipient(MailRecipient.CC_RECIPIENT, "carol@example.org"))
    message.addRecipient(MailRecipient(MailRecipient.BCC_RECIPIENT, "dave@example.org"))
    message.setSubject("greetings")
    message.setContent(content)
    return message


def written(message: MailMessage) -> bytes:
    out = io.BytesIO()
    message.write(out)
    return out.getvalue()


def test_message_reaches_the_server_as_written(smtp_server: servers.SmtpServer) -> None:
    message = make_message()
    with SMTPClientSession(smtp_server.host, smtp_server.port) as session:
        session.login("client.example")
        session.sendMessage(message)
    (received,) = smtp_server.wait_for(1)
    assert received.mail_from == "alice@example.org"
    # Every recipient, BCC included, gets a RCPT TO.
    assert received.rcpt_tos == ["bob@example.org", "carol@example.org", "dave@example.org"]
    # The server keeps the data as written, with the line break Poco adds
    # before the final dot when the message does not end in one.
    expected = written(message)
    assert received.data == (expected if expected.endswith(b"\r\n") else expected + b"\r\n")
    assert b"\r\n.a line with a dot\r\n" in received.data
    assert b"dave@example.org" not in received.data  # BCC stays out of the headers


def test_explicit_recipients_replace_the_message_recipients(
    scripted_peer: Callable[..., servers.ScriptedPeer],
) -> None:
    peer = scripted_peer([GREETING, "250 ok", "250 ok", "250 ok", "354 go", "250 queued"])
    session = SMTPClientSession("127.0.0.1", peer.port)
    session.setTimeout(timedelta(seconds=1))
    session.login("client.example")
    session.sendMessage(make_message(), ["x@y.example"])
    session.close()
    peer.wait_closed()
    assert peer.lines == [
        "EHLO client.example",
        "MAIL FROM: <alice@example.org>",
        "RCPT TO: <x@y.example>",
        "DATA",
        "QUIT",
    ]
    (data,) = peer.data
    assert b"\r\n..a line with a dot\r\n" in data  # dot-stuffed on the wire
    assert b"Subject: greetings\r\n" in data


def test_empty_recipient_list_is_refused_and_the_session_stays_usable(
    scripted_peer: Callable[..., servers.ScriptedPeer],
) -> None:
    peer = scripted_peer([GREETING, "250 ok", "250 sender ok", "250 reset"])
    session = SMTPClientSession("127.0.0.1", peer.port)
    session.setTimeout(timedelta(seconds=1))
    session.login("client.example")
    with pytest.raises(pocosmtp.InvalidArgumentException, match="empty recipients"):
        session.sendMessage(make_message(), [])
    assert session.sendCommand("RSET") == (250, "250 reset")
    session.close()


def test_rejected_sender_raises_with_the_code(
    scripted_peer: Callable[..., servers.ScriptedPeer],
) -> None:
    peer = scripted_peer([GREETING, "250 ok", "553 5.7.1 sender not allowed"])
    session = SMTPClientSession("127.0.0.1", peer.port)
    session.setTimeout(timedelta(seconds=1))
    session.login("client.example")
    with pytest.raises(pocosmtp.SMTPException) as caught:
        session.sendMessage(make_message())
    assert caught.value.code() == 553
    assert "sender not allowed" in str(caught.value)
    session.close()


class BrokenFile(io.RawIOBase):
    """A readable file that fails after its first chunk."""

    def __init__(self) -> None:
        self.calls = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        self.calls += 1
        if self.calls > 1:
            raise OSError("attachment vanished")
        buffer[:10] = b"0123456789"
        return 10


def test_part_source_failing_mid_message_aborts_the_connection(
    scripted_peer: Callable[..., servers.ScriptedPeer],
) -> None:
    replies = ["250 ehlo", "250 sender", "250 rcpt", "250 rcpt", "250 rcpt", "354 go", "250 q"]
    peer = scripted_peer([GREETING, *replies])
    session = SMTPClientSession("127.0.0.1", peer.port)
    session.setTimeout(timedelta(seconds=1))
    session.login("client.example")
    message = make_message()
    message.addAttachment("data.bin", pocosmtp.FileObjectPartSource(BrokenFile()))
    with pytest.raises(OSError, match="attachment vanished"):
        session.sendMessage(message)
    peer.wait_closed()
    assert peer.data == []  # the server never saw the end of the data
    assert peer.lines[-1] == "DATA"
    with pytest.raises(pocosmtp.IllegalStateException, match="part-way"):
        session.sendCommand("RSET")
