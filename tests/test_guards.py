"""The binding's security guards (docs/deviations.md, rows 18 to 22), each
against a real peer on 127.0.0.1: command injection, header injection, SMTP
smuggling, Bcc, and the envelope sender. Poco 1.14.2 lets every one of these
through; tests/parity shows the C++ side of each.
"""

from __future__ import annotations

import io
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import auth
import pocosmtp
import servers
from pocosmtp import (
    MailMessage,
    MailRecipient,
    MediaType,
    MessageHeader,
    NameValueCollection,
    SMTPClientSession,
    StringPartSource,
)

GREETING = "220 peer.test ESMTP"
INJECTIONS = ["a\r\nRSET", "a\nRSET", "a\rRSET", "\r\n", "a\r\n RSET"]
BREAKS = ["x\r\nBcc: evil@example.net", "x\nBcc: evil@example.net", "x\rBcc: evil@example.net"]


def primary(address: str) -> MailRecipient:
    return MailRecipient(MailRecipient.PRIMARY_RECIPIENT, address)


def message(content: bytes | str = "Hello.\r\n", sender: str = "Alice <alice@example.org>"):
    mail = MailMessage()
    mail.setSender(sender)
    mail.addRecipient(primary("bob@example.org"))
    mail.setSubject("guards")
    mail.setContent(content, MailMessage.ENCODING_8BIT)
    return mail


def data_of(peer: servers.ScriptedPeer) -> bytes:
    """The raw message data the client sent, from after DATA up to the final dot."""
    raw = bytes(peer.received)
    start = raw.index(b"DATA\r\n") + len(b"DATA\r\n")
    end = raw.index(b"\r\n.\r\n", start)
    return raw[start : end + 2]


def assert_clean_data(data: bytes) -> None:
    """Only CRLF line ends, and no line that is a lone '.' before the end."""
    assert re.search(rb"\r(?!\n)", data) is None, "a bare CR reached the wire"
    assert re.search(rb"(?<!\r)\n", data) is None, "a bare LF reached the wire"
    assert b"\r\n.\r\n" not in data[:-2], "an end of data before the real one"
    for line in data.split(b"\r\n"):
        assert not line.startswith(b".") or line.startswith(b".."), line


# ------------------------------------------------------------------ command injection


@pytest.mark.parametrize("bad", INJECTIONS)
@pytest.mark.parametrize(
    "call",
    [
        lambda s, bad: s.sendCommand("NOOP " + bad),
        lambda s, bad: s.sendCommand("NOOP", bad),
        lambda s, bad: s.sendAddresses(bad + "@example.org", ["bob@example.org"]),
        lambda s, bad: s.sendAddresses("alice@example.org", ["bob@example.org", bad]),
        lambda s, bad: s.login(bad),
        lambda s, bad: s.login("client.test", SMTPClientSession.AUTH_PLAIN, bad, "secret"),
        lambda s, bad: s.login(SMTPClientSession.AUTH_LOGIN, bad, "secret"),
        lambda s, bad: s.sendMessage(message(), ["bob@example.org", bad]),
    ],
    ids=[
        "command",
        "argument",
        "sender",
        "recipient",
        "ehlo-host",
        "auth-user",
        "auth-user-default-host",
        "explicit-recipient",
    ],
)
def test_line_breaks_in_command_text_are_refused_before_sending(scripted_peer, call, bad):
    peer = scripted_peer([GREETING, "250 peer.test", "250 ok", "250 ok"])
    with SMTPClientSession(peer.host, peer.port) as session:
        session.open()
        with pytest.raises(ValueError, match="CR or LF") as caught:
            call(session, bad)
        assert isinstance(caught.value, pocosmtp.InvalidArgumentException)
        # Nothing was sent, and the session is still in step.
        assert peer.received == b""
        assert session.sendCommand("NOOP") == (250, "250 peer.test")
    assert peer.lines == ["NOOP", "QUIT"]


def test_the_error_does_not_echo_the_refused_text(scripted_peer):
    peer = scripted_peer([GREETING, "250 peer.test"])
    with SMTPClientSession(peer.host, peer.port) as session:
        with pytest.raises(ValueError) as caught:
            session.login("client.test", SMTPClientSession.AUTH_LOGIN, "Qx7\r\nZz9", "hunter2")
    text = str(caught.value)
    assert "user name" in text
    assert "Qx7" not in text and "Zz9" not in text and "hunter2" not in text


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_a_password_with_line_breaks_is_sent_encoded(smtp_server_factory):
    # AUTH PLAIN carries the password base64-encoded: a CR LF in it cannot
    # start a command, so it is not refused.
    handler = auth.AuthHandler({"user": "pa\r\nss"})
    server = smtp_server_factory(handler, auth_required=True)
    with SMTPClientSession(server.host, server.port) as session:
        session.login("client.test", SMTPClientSession.AUTH_PLAIN, "user", "pa\r\nss")
    assert handler.attempts == [("PLAIN", "user", True)]


# ------------------------------------------------------------------ header injection


@pytest.mark.parametrize("bad", BREAKS)
@pytest.mark.parametrize("kind", [NameValueCollection, MessageHeader, MailMessage])
@pytest.mark.parametrize("how", ["set", "add", "setitem"])
def test_header_values_with_line_breaks_are_refused(kind, how, bad):
    fields = kind()
    before = list(fields)
    with pytest.raises(ValueError, match="CR or LF") as caught:
        if how == "setitem":
            fields["X-Note"] = bad
        else:
            getattr(fields, how)("X-Note", bad)
    assert isinstance(caught.value, pocosmtp.InvalidArgumentException)
    assert list(fields) == before


@pytest.mark.parametrize("name", ["", "Bad Name", "X:Y", "X\r\nBcc", "Caf\u00e9", "X\x7f"])
def test_invalid_field_names_are_refused(name):
    with pytest.raises(ValueError, match="field name"):
        MessageHeader().set(name, "value")


def test_folded_values_are_one_field_and_accepted():
    fields = MessageHeader()
    fields.set("Subject", MailMessage.encodeWord("\u00e4" * 60))
    fields.add("X-Folded", "first\r\n\tsecond")
    out = io.BytesIO()
    fields.write(out)
    lines = out.getvalue().split(b"\r\n")
    assert lines[-1] == b""
    assert sum(not line.startswith((b" ", b"\t")) for line in lines[:-1]) == 2


@pytest.mark.parametrize("bad", ["first\r\n", "first\r\n \r\nsecond", "first\r\n\t", "a\n b"])
def test_folding_that_would_end_the_header_is_refused(bad):
    with pytest.raises(ValueError):
        MessageHeader().set("X-Folded", bad)


@pytest.mark.parametrize(
    "call",
    [
        lambda bad: MailMessage().setSubject(bad),
        lambda bad: MailMessage().setSender(bad),
        lambda bad: MailMessage().setContentType("text/plain" + bad),
        lambda bad: MailRecipient(MailRecipient.CC_RECIPIENT, bad),
        lambda bad: MailRecipient(MailRecipient.CC_RECIPIENT, "a@b.example", bad),
        lambda bad: primary("a@b.example").setAddress(bad),
        lambda bad: primary("a@b.example").setRealName(bad),
        lambda bad: MediaType("text/plain" + bad),
        lambda bad: MediaType("text", "plain" + bad),
        lambda bad: MediaType("text/plain").setParameter("charset", bad),
        lambda bad: MessageHeader().set("X-Note", bad),
        lambda bad: MailMessage().addAttachment(bad, StringPartSource("x")),
        lambda bad: StringPartSource("x").headers().set("Content-ID", bad),
    ],
    ids=[
        "subject",
        "sender",
        "content-type",
        "recipient-address",
        "real-name",
        "set-address",
        "set-real-name",
        "media-type",
        "media-subtype",
        "media-parameter",
        "header",
        "attachment-name",
        "part-header",
    ],
)
def test_every_way_into_a_header_line_refuses_line_breaks(call):
    with pytest.raises(ValueError):
        call("x\r\nBcc: evil@example.net")


def test_a_field_decoded_on_read_cannot_inject_when_written_or_sent(scripted_peer):
    # autoDecode turns an encoded word into raw text, CR LF included: the
    # value never passed a guarded setter, so write() and sendMessage()
    # check the whole message before a byte leaves.
    mail = MailMessage()
    mail.setAutoDecode(True)
    mail.read(
        b"From: alice@example.org\r\nTo: bob@example.org\r\n"
        b"X-Note: =?UTF-8?Q?hi=0D=0ABcc:_evil@example.net?=\r\n\r\nbody\r\n"
    )
    assert mail["X-Note"] == "hi\r\nBcc: evil@example.net"
    mail.addRecipient(primary("bob@example.org"))
    with pytest.raises(ValueError, match="X-Note"):
        mail.write(io.BytesIO())
    peer = scripted_peer([GREETING, "250 peer.test"])
    with SMTPClientSession(peer.host, peer.port) as session:
        session.login("client.test")
        with pytest.raises(ValueError, match="X-Note"):
            session.sendMessage(mail)
    assert peer.lines == ["EHLO client.test", "QUIT"]


# ------------------------------------------------------------------ SMTP smuggling

SMUGGLED = (
    b"MAIL FROM:<evil@example.net>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\n"
    b"Subject: forged\r\n\r\nforged body\r\n"
)
VARIANTS = {
    "lf-dot-lf": b"\n.\n",
    "lf-dot-crlf": b"\n.\r\n",
    "cr-dot-crlf": b"\r.\r\n",
    "crlf-dot-cr": b"\r\n.\r",
    "cr-dot-cr": b"\r.\r",
    "nul": b"\r\n\x00.\r\n",
}


def smuggling_body(end: bytes) -> bytes:
    return b"before" + end + SMUGGLED + b"after\r\n"


@pytest.mark.parametrize("end", list(VARIANTS.values()), ids=list(VARIANTS))
@pytest.mark.parametrize("kind", ["composed", "raw-bytes", "raw-file"])
def test_no_smuggled_end_of_data_reaches_the_wire(scripted_peer, kind, end):
    peer = scripted_peer([GREETING, "250 peer.test", "250 ok", "250 ok", "354 go", "250 queued"])
    with SMTPClientSession(peer.host, peer.port) as session:
        session.login("client.test")
        if kind == "composed":
            session.sendMessage(message(smuggling_body(end)))
        else:
            session.sendAddresses("alice@example.org", ["bob@example.org"])
            session.sendData()
            raw = b"Subject: raw\r\n\r\n" + smuggling_body(end)
            session.sendMessage(raw if kind == "raw-bytes" else io.BytesIO(raw))
    data = data_of(peer)
    assert_clean_data(data)
    # The whole message arrived as one message, the "commands" as its text.
    assert len(peer.data) == 1
    assert b"RCPT TO:<victim@example.org>\r\n" in data
    assert data.endswith(b"after\r\n")
    assert peer.lines[-1] == "QUIT"
    assert "MAIL FROM:<evil@example.net>" not in peer.lines


def test_only_line_ends_change(scripted_peer):
    body = b"one\rtwo\nthree\r\n\x00four\r\n.five\r\n"
    peer = scripted_peer([GREETING, "250 peer.test", "250 ok", "250 ok", "354 go", "250 queued"])
    with SMTPClientSession(peer.host, peer.port) as session:
        session.login("client.test")
        session.sendAddresses("alice@example.org", ["bob@example.org"])
        session.sendData()
        session.sendMessage(b"Subject: s\r\n\r\n" + body)
    assert data_of(peer) == b"Subject: s\r\n\r\none\r\ntwo\r\nthree\r\n\x00four\r\n..five\r\n"


@pytest.mark.postfix
def test_postfix_receives_one_message_whatever_the_line_ends(tmp_path):
    import tls_servers
    from test_tls import trusting

    pki = tls_servers.Pki(tmp_path)
    with tls_servers.Postfix.running(pki.issue("localhost", "127.0.0.1")) as postfix:
        with pocosmtp.SecureSMTPClientSession("localhost", postfix.port) as session:
            session.login("client.test")
            session.startTLS(trusting(pki))
            session.login("client.test")
            for name, end in VARIANTS.items():
                mail = message(smuggling_body(end), sender="Alice <alice@example.org>")
                mail.setSubject("variant " + name)
                session.sendMessage(mail)
        delivered = postfix.wait_for_inbox(
            lambda mbox: mbox.count(b"\nSubject: variant ") == len(VARIANTS)
        )
        # One delivery per message sent, none from the smuggled sender.
        assert len(re.findall(rb"(?m)^From alice@example\.org ", delivered)) == len(VARIANTS)
        assert b"From evil@example.net" not in delivered
        assert "victim" not in postfix.log()
        # The would-be commands arrived as text inside the real messages.
        assert delivered.count(b"\nRCPT TO:<victim@example.org>\n") == len(VARIANTS)


# ------------------------------------------------------------------ Bcc


def test_a_bcc_field_is_not_transmitted_but_bcc_recipients_get_the_mail(smtp_server):
    mail = message()
    mail.addRecipient(MailRecipient(MailRecipient.BCC_RECIPIENT, "hidden@example.org"))
    mail.set("Bcc", "hidden@example.org")
    mail.set("Resent-Bcc", "also-hidden@example.org")
    with SMTPClientSession(smtp_server.host, smtp_server.port) as session:
        session.login("client.test")
        session.sendMessage(mail)
    (received,) = smtp_server.wait_for(1)
    assert received.rcpt_tos == ["bob@example.org", "hidden@example.org"]
    assert b"hidden@example.org" not in received.data
    assert b"Bcc" not in received.data and b"BCC" not in received.data
    # The message object itself keeps its fields: only the wire lacks them.
    assert mail.get("Bcc") == "hidden@example.org"
    written = io.BytesIO()
    mail.write(written)
    assert b"Bcc: hidden@example.org\r\n" in written.getvalue()


def test_a_bcc_field_of_a_parsed_message_is_not_transmitted(smtp_server):
    stored = (
        b"From: alice@example.org\r\nTo: bob@example.org\r\n"
        b"bcc: hidden@example.org,\r\n secret@example.org\r\nSubject: stored\r\n\r\n"
        b"Bcc: in the body is text\r\n"
    )
    parsed = MailMessage()
    parsed.read(stored)
    assert parsed.has("Bcc")
    with SMTPClientSession(smtp_server.host, smtp_server.port) as session:
        session.login("client.test")
        session.sendAddresses("alice@example.org", ["bob@example.org", "hidden@example.org"])
        session.sendData()
        session.sendMessage(stored)
    (received,) = smtp_server.wait_for(1)
    assert received.data == (
        b"From: alice@example.org\r\nTo: bob@example.org\r\nSubject: stored\r\n\r\n"
        b"Bcc: in the body is text\r\n"
    )


# ------------------------------------------------------------------ envelope sender


@pytest.mark.parametrize(
    ("sender", "envelope"),
    [
        ("alice@example.org", "alice@example.org"),
        ("<alice@example.org>", "alice@example.org"),
        ("Alice <alice@example.org>", "alice@example.org"),
        ('"Jo <jo@old.example>" <jo@example.org>', "jo@example.org"),
        ('"Smith, Jo" <jo@example.org>', "jo@example.org"),
        ("Jo (work <x>) <jo@example.org> (home)", "jo@example.org"),
        ("jo@example.org (Jo Example)", "jo@example.org"),
        ('"quoted local"@example.org', '"quoted local"@example.org'),
        ("=?UTF-8?q?J=C3=B6?= <jo@example.org>", "jo@example.org"),
    ],
)
def test_mail_from_is_the_senders_address(smtp_server, sender, envelope):
    with SMTPClientSession(smtp_server.host, smtp_server.port) as session:
        session.login("client.test")
        session.sendMessage(message(sender=sender))
    (received,) = smtp_server.wait_for(1)
    assert received.mail_from == envelope


@pytest.mark.parametrize(
    "sender",
    [
        "Jo <jo@example.org> via list",
        "Jo <jo@example.org>, Al <al@example.org>",
        "<a@example.org> <b@example.org>",
        '"unclosed <jo@example.org>',
        "Jo (unclosed <jo@example.org>",
        "Jo <jo@example.org",
        "Jo jo@example.org",
    ],
)
def test_a_from_field_without_one_clear_address_is_refused(scripted_peer, sender):
    peer = scripted_peer([GREETING, "250 peer.test"])
    with SMTPClientSession(peer.host, peer.port) as session:
        session.login("client.test")
        with pytest.raises(ValueError, match="envelope sender"):
            session.sendMessage(message(sender=sender))
        assert session.sendCommand("NOOP")[0] == 500  # still in step: the script ran out
    assert peer.lines == ["EHLO client.test", "NOOP", "QUIT"]


# ------------------------------------------------------------------ the data filter, modelled


def guarded(data: bytes) -> bytes:
    """What must reach the wire after DATA for data: a model of the filter
    (line ends, Bcc fields of the header) and of Poco's MailOutputStream
    (dot-stuffing, the final dot)."""
    lines = re.split(rb"\r\n|\r|\n", data)
    ends_with_break = len(lines) > 1 and lines[-1] == b""
    if ends_with_break:
        lines.pop()
    kept: list[bytes] = []
    in_header, dropping = True, False
    for line in lines:
        if in_header:
            if line == b"":
                in_header = False
            elif line[:1] in (b" ", b"\t"):
                if dropping:
                    continue
            else:
                name = line.split(b":", 1)[0].strip(b" \t").lower()
                dropping = name in (b"bcc", b"resent-bcc")
                if dropping:
                    continue
        kept.append(b"." + line if line.startswith(b".") else line)
    text = b"\r\n".join(kept)
    if kept and (ends_with_break or text):
        text += b"\r\n"
    return text + b".\r\n"


def sent_data(data: bytes, chunked: bool) -> bytes:
    peer = servers.ScriptedPeer(
        [GREETING, "250 peer.test", "250 ok", "250 ok", "354 go", "250 queued"]
    )
    try:
        with SMTPClientSession(peer.host, peer.port) as session:
            session.login("client.test")
            session.sendAddresses("alice@example.org", ["bob@example.org"])
            session.sendData()
            session.sendMessage(io.BytesIO(data) if chunked else data)
    finally:
        peer.stop()
    raw = bytes(peer.received)
    start = raw.index(b"DATA\r\n") + len(b"DATA\r\n")
    assert raw.endswith(b"QUIT\r\n")
    return raw[start : -len(b"QUIT\r\n")]


pieces = st.sampled_from(
    [b"\r", b"\n", b"\r\n", b".", b"..", b" ", b"\t", b":", b"Bcc", b"bCC:", b"Resent-Bcc",
     b"To", b"x", b"\x00", b"Subject: s"]
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(parts=st.lists(pieces, max_size=30))
def test_the_filter_matches_its_model(parts):
    data = b"".join(parts)
    assert sent_data(data, chunked=False) == guarded(data)


@pytest.mark.parametrize("tail", [b"\r\n.\r\nx", b"\r.\r\nx", b"\r\r\n.x", b"\n.\nx"])
@pytest.mark.parametrize("shift", [-1, 0, 1])
def test_line_ends_split_across_chunks(tail, shift):
    # The file adapter reads, and the filter buffers, 64 KiB at a time: a CR
    # at the end of one chunk and its LF (or not) at the start of the next.
    data = b"Subject: chunks\r\n\r\n" + b"y" * (65536 - 19 - 1 + shift) + tail
    assert sent_data(data, chunked=True) == guarded(data)
