"""The test peers themselves behave as the other tests assume (checked with smtplib)."""

import smtplib
from collections.abc import Callable

import pytest

import servers


def test_smtp_server_records_what_it_accepts(smtp_server: servers.SmtpServer) -> None:
    with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=5) as client:
        client.sendmail("a@example.org", ["b@example.org"], b"Subject: x\r\n\r\n.leading dot\r\n")
    (received,) = smtp_server.wait_for(1)
    assert received.mail_from == "a@example.org"
    assert received.rcpt_tos == ["b@example.org"]
    assert received.data == b"Subject: x\r\n\r\n.leading dot\r\n"


def test_scripted_peer_plays_replies_and_records_the_wire(
    scripted_peer: Callable[..., servers.ScriptedPeer],
) -> None:
    peer = scripted_peer(["220 hi", "250 hello", "250 ok", "250 ok", "354 go", "250 queued"])
    with smtplib.SMTP("127.0.0.1", peer.port, timeout=5) as client:
        client.helo("me")
        client.sendmail("a@x", ["b@y"], b"line\r\n.dot\r\n")
    peer.wait_closed()
    assert peer.lines == ["helo me", "mail FROM:<a@x>", "rcpt TO:<b@y>", "data", "QUIT"]
    assert peer.data == [b"line\r\n..dot"]


def test_scripted_peer_close_marker_ends_the_conversation(
    scripted_peer: Callable[..., servers.ScriptedPeer],
) -> None:
    peer = scripted_peer(["220 hi", servers.CLOSE])
    client = smtplib.SMTP("127.0.0.1", peer.port, timeout=5)
    with pytest.raises(smtplib.SMTPServerDisconnected):
        client.helo("me")
    peer.wait_closed()
