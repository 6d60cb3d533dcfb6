"""Poco's MailStreamTest (Net/testsuite/src/MailStreamTest.cpp), through pocosmtp.

pocosmtp does not bind MailOutputStream; it is what SMTPClientSession.sendMessage
writes message data through. So testMailOutputStream becomes: send Poco's test
message as a raw stream to a ScriptedPeer and compare the DATA bytes on the
wire (dot-stuffing, line ends, the final dot) with the bytes Poco's test
expects. testMailInputStream cannot be ported: MailInputStream, the reader that
undoes dot-stuffing, is used only by Poco's POP3 client, which is not bound.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import servers
from pocosmtp import SMTPClientSession

HEADER = b"From: john.doe@no.domain\r\nTo: jane.doe@no.domain\r\nSubject: test\r\n\r\n"

# Poco's input, and what its test expects MailOutputStream to write.
POCO_MESSAGE = HEADER + (
    b"This is a test.\r\n"
    b"\n.\n"
    b"\rThis.is.\ngarbage\r.\r\n"
    b".This line starts with a period.\r\n"
    b"\r\n"
    b".and this one too\r\n"
    b".\r\n"
)
POCO_EXPECTED = HEADER + (
    b"This is a test.\r\n"
    b"\r\n..\r\n"
    b"\rThis.is.\r\ngarbage\r.\r\n"
    b"..This line starts with a period.\r\n"
    b"\r\n"
    b"..and this one too\r\n"
    b"..\r\n"
    b".\r\n"
)
# The one line of the message with bare CRs, and what Poco makes of it.
BARE_CR_LINE = b"\rThis.is.\ngarbage\r.\r\n"
BARE_CR_POCO = b"\rThis.is.\r\ngarbage\r.\r\n"


def data_on_the_wire(
    scripted_peer: Callable[[list[Any]], servers.ScriptedPeer], message: bytes
) -> bytes:
    """What the client sends after DATA, up to and including the final dot."""
    peer = scripted_peer(
        [
            "220 localhost SMTP ready",
            "250 Hello localhost",
            "250 OK",
            "250 OK",
            "354 Send data",
            "250 OK",
            "221 Bye",
        ]
    )
    session = SMTPClientSession("127.0.0.1", peer.port)
    session.setTimeout(timedelta(seconds=5))
    session.login("localhost")
    session.sendAddresses("john.doe@no.domain", ["jane.doe@no.domain"])
    session.sendData()
    session.sendMessage(message)
    session.close()
    peer.wait_closed()
    received = bytes(peer.received)
    commands, _, rest = received.partition(b"DATA\r\n")
    assert commands.endswith(b"RCPT TO: <jane.doe@no.domain>\r\n")
    data, quit_, _ = rest.rpartition(b"QUIT\r\n")
    assert quit_, received
    return data


def test_mail_output_stream(scripted_peer: Callable[[list[Any]], servers.ScriptedPeer]) -> None:
    # Deviation 20 (SMTP smuggling): pocosmtp sends every line end as CRLF
    # before Poco stuffs dots, so the bare CRs Poco passes through become
    # CRLF, and the dot that followed one now starts a line and is doubled.
    # Every other byte is what Poco's test expects.
    expected = POCO_EXPECTED.replace(BARE_CR_POCO, b"\r\nThis.is.\r\ngarbage\r\n..\r\n")
    assert expected != POCO_EXPECTED
    assert data_on_the_wire(scripted_peer, POCO_MESSAGE) == expected


def test_mail_output_stream_without_bare_cr(
    scripted_peer: Callable[[list[Any]], servers.ScriptedPeer],
) -> None:
    # Poco's message without its bare-CR line: then the wire carries exactly
    # the bytes Poco's test expects (bare LF made CRLF, leading dots doubled,
    # a lone dot stuffed, one final dot).
    message = POCO_MESSAGE.replace(BARE_CR_LINE, b"")
    expected = POCO_EXPECTED.replace(BARE_CR_POCO, b"")
    assert (message, expected) != (POCO_MESSAGE, POCO_EXPECTED)
    assert data_on_the_wire(scripted_peer, message) == expected
