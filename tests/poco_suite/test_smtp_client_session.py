"""Poco's SMTPClientSessionTest (Net/testsuite/src/SMTPClientSessionTest.cpp), through pocosmtp.

Poco's tests talk to a DialogServer (DialogServer.cpp) that answers every
line with the next scripted response and records the lines it receives.
Here tests/servers.ScriptedPeer plays that part: it answers each command with
the next reply of the script, takes the message data up to the final dot as
one unit, and records every byte. Poco checks the received lines one by one;
these tests compare the whole byte stream, so nothing may be added, dropped
or reordered, and the message's Date is fixed (Poco checks only "Date") so
that its header can be compared too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

import pocosmtp
import servers
from pocosmtp import MailMessage, MailRecipient, SMTPClientSession

Peer = Callable[[list[Any]], servers.ScriptedPeer]

GREETING = "220 localhost SMTP ready"
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
BODY = "Hello\r\nblah blah\r\n\r\nJohn\r\n"


def session_for(peer: servers.ScriptedPeer) -> SMTPClientSession:
    session = SMTPClientSession("127.0.0.1", peer.port)
    # A missing reply fails the test in seconds, not after 30.
    session.setTimeout(dt.timedelta(seconds=5))
    return session


def message_to(recipients: list[MailRecipient]) -> MailMessage:
    message = MailMessage()
    message.setSender("john.doe@no.where")
    message.setRecipients(recipients)
    message.setSubject("Test Message")
    message.setContent(BODY)
    message.setDate(EPOCH)
    return message


def sent(peer: servers.ScriptedPeer, session: SMTPClientSession) -> bytes:
    session.close()
    peer.wait_closed()
    return bytes(peer.received)


# Header and body of the messages below, as sent (QP leaves BODY unchanged).
def data(*recipient_fields: bytes) -> bytes:
    return (
        b"Date: Thu, 1 Jan 1970 00:00:00 GMT\r\n"
        b"Content-Type: text/plain\r\n"
        b"From: john.doe@no.where\r\n"
        b"Subject: Test Message\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n"
        + b"".join(recipient_fields)
        + b"\r\n"
        + BODY.encode()
        + b".\r\n"
    )


def test_login_ehlo(scripted_peer: Peer) -> None:
    peer = scripted_peer([GREETING, "250 Hello localhost", "221 Bye"])
    session = session_for(peer)
    session.login("localhost")
    assert sent(peer, session) == b"EHLO localhost\r\nQUIT\r\n"


def test_login_helo(scripted_peer: Peer) -> None:
    peer = scripted_peer([GREETING, "500 EHLO not understood", "250 Hello localhost", "221 Bye"])
    session = session_for(peer)
    session.login("localhost")
    assert sent(peer, session) == b"EHLO localhost\r\nHELO localhost\r\nQUIT\r\n"


def test_login_failed(scripted_peer: Peer) -> None:
    peer = scripted_peer(["500 No SMTP service here", "221 Bye"])
    session = session_for(peer)
    with pytest.raises(pocosmtp.SMTPException) as failed:
        session.login("localhost")
    assert failed.value.code() == 500
    # Deviation 5 (close()): Poco's close() does nothing on a session whose
    # greeting was refused and leaves the connection open; pocosmtp's ends
    # the connection. Neither sends a byte: no EHLO, no QUIT.
    assert sent(peer, session) == b""


def test_send(scripted_peer: Peer) -> None:
    peer = scripted_peer(
        [GREETING, "250 Hello localhost", "250 OK", "250 OK", "354 Send data", "250 OK", "221 Bye"]
    )
    session = session_for(peer)
    session.login("localhost")
    session.sendMessage(
        message_to(
            [MailRecipient(MailRecipient.PRIMARY_RECIPIENT, "jane.doe@no.where", "Jane Doe")]
        )
    )
    assert sent(peer, session) == (
        b"EHLO localhost\r\n"
        b"MAIL FROM: <john.doe@no.where>\r\n"
        b"RCPT TO: <jane.doe@no.where>\r\n"
        b"DATA\r\n" + data(b"To: Jane Doe <jane.doe@no.where>\r\n") + b"QUIT\r\n"
    )


# EHLO, MAIL FROM, three RCPT TO, DATA, the data, QUIT.
THREE_RECIPIENTS = [
    GREETING,
    "250 Hello localhost",
    "250 OK",
    "250 OK",
    "250 OK",
    "250 OK",
    "354 Send data",
    "250 OK",
    "221 Bye",
]


def test_send_multi_recipient(scripted_peer: Peer) -> None:
    peer = scripted_peer(THREE_RECIPIENTS)
    session = session_for(peer)
    session.login("localhost")
    message = message_to(
        [
            MailRecipient(MailRecipient.PRIMARY_RECIPIENT, "jane.doe@no.where", "Jane Doe"),
            MailRecipient(MailRecipient.CC_RECIPIENT, "jack.doe@no.where", "Jack Doe"),
            MailRecipient(MailRecipient.BCC_RECIPIENT, "joe.doe@no.where", "Joe Doe"),
        ]
    )
    session.sendMessage(message)
    # Every recipient gets RCPT TO; the BCC one appears in no header field.
    assert sent(peer, session) == (
        b"EHLO localhost\r\n"
        b"MAIL FROM: <john.doe@no.where>\r\n"
        b"RCPT TO: <jane.doe@no.where>\r\n"
        b"RCPT TO: <jack.doe@no.where>\r\n"
        b"RCPT TO: <joe.doe@no.where>\r\n"
        b"DATA\r\n"
        + data(b"To: Jane Doe <jane.doe@no.where>\r\n", b"CC: Jack Doe <jack.doe@no.where>\r\n")
        + b"QUIT\r\n"
    )


def test_multi_separate_recipient(scripted_peer: Peer) -> None:
    peer = scripted_peer(THREE_RECIPIENTS)
    session = session_for(peer)
    session.login("localhost")
    message = message_to(
        [
            MailRecipient(MailRecipient.PRIMARY_RECIPIENT, "jane.doe@no.where", "Jane Doe"),
            MailRecipient(MailRecipient.CC_RECIPIENT, "jack.doe@no.where", "Jack Doe"),
            MailRecipient(MailRecipient.CC_RECIPIENT, "joe.doe@no.where", "Joe Doe"),
        ]
    )
    session.sendMessage(message, ["jill.doe@no.where", "josh.doe@no.where", "jake.doe@no.where"])
    # The envelope names only the given recipients; the header names only
    # the message's.
    assert sent(peer, session) == (
        b"EHLO localhost\r\n"
        b"MAIL FROM: <john.doe@no.where>\r\n"
        b"RCPT TO: <jill.doe@no.where>\r\n"
        b"RCPT TO: <josh.doe@no.where>\r\n"
        b"RCPT TO: <jake.doe@no.where>\r\n"
        b"DATA\r\n"
        + data(
            b"To: Jane Doe <jane.doe@no.where>\r\n",
            b"CC: Jack Doe <jack.doe@no.where>, Joe Doe <joe.doe@no.where>\r\n",
        )
        + b"QUIT\r\n"
    )


def test_send_failed(scripted_peer: Peer) -> None:
    peer = scripted_peer(
        [
            GREETING,
            "250 Hello localhost",
            "250 OK",
            "250 OK",
            "354 Send data",
            "500 Error",
            "221 Bye",
        ]
    )
    session = session_for(peer)
    session.login("localhost")
    message = message_to(
        [MailRecipient(MailRecipient.PRIMARY_RECIPIENT, "jane.doe@no.where", "Jane Doe")]
    )
    with pytest.raises(pocosmtp.SMTPException) as failed:
        session.sendMessage(message)
    assert failed.value.code() == 500
    assert failed.value.reply() == "500 Error"
    # A refused message is a whole reply: the session stays open, and
    # close() ends it with QUIT.
    assert sent(peer, session).endswith(b"\r\n.\r\nQUIT\r\n")
    assert peer.lines == [
        "EHLO localhost",
        "MAIL FROM: <john.doe@no.where>",
        "RCPT TO: <jane.doe@no.where>",
        "DATA",
        "QUIT",
    ]
