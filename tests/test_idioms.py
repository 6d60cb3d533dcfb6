"""The Python idioms pocosmtp adds on top of Poco's API without renaming it:
sessions as context managers, a ResourceWarning for sessions left open, and
informative reprs for every public class.

Gaps the binding does not cover yet are marked xfail(strict=True): the test
fails as soon as the binding closes the gap, so the marker gets removed.
"""

from __future__ import annotations

import gc
import io
import re
import warnings
from typing import Any

import pytest

import pocosmtp
import servers
from pocosmtp import SecureSMTPClientSession, SMTPClientSession
from pocosmtp.sink import Sink

# ------------------------------------------------------------------ context managers


@pytest.mark.parametrize("session_class", [SMTPClientSession, SecureSMTPClientSession])
def test_with_block_sends_quit_and_closes(scripted_peer, session_class):
    peer = scripted_peer(["220 peer.test ESMTP", "250 peer.test", "221 bye"])

    with session_class(peer.host, peer.port) as session:
        assert session.__enter__() is session
        session.login("client.test")
        assert not repr(session).endswith(" closed>")

    peer.wait_closed()
    assert peer.lines == ["EHLO client.test", "QUIT"]
    assert repr(session).endswith(" closed>")
    with pytest.raises(pocosmtp.IllegalStateException, match="close\\(\\) was called"):
        session.login()
    session.close()  # closing again does nothing


def test_the_blocks_error_wins_over_a_failing_close(scripted_peer):
    peer = scripted_peer(["220 peer.test ESMTP", "250 peer.test", servers.CLOSE])

    with pytest.raises(LookupError, match="from the block"):
        with SMTPClientSession(peer.host, peer.port) as session:
            session.login("client.test")
            raise LookupError("from the block")

    assert repr(session).endswith(" closed>")


@pytest.mark.parametrize("session_class", [SMTPClientSession, SecureSMTPClientSession])
def test_a_session_left_open_warns_when_collected(scripted_peer, session_class):
    peer = scripted_peer(["220 peer.test ESMTP", "250 peer.test", "221 bye"])
    session = session_class(peer.host, peer.port)
    session.login("client.test")

    where = rf"127\.0\.0\.1 127\.0\.0\.1:{peer.port}"
    with pytest.warns(ResourceWarning, match=rf"^unclosed <{session_class.__name__} {where}>$"):
        del session
        gc.collect()

    peer.wait_closed()
    assert peer.lines == ["EHLO client.test", "QUIT"]  # then closed as before


def test_an_unclosed_warning_raised_as_error_is_reported_not_raised(smtp_server, monkeypatch):
    reported: list[Any] = []
    monkeypatch.setattr("sys.unraisablehook", reported.append)
    session = SMTPClientSession(smtp_server.host, smtp_server.port)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        del session
        gc.collect()

    assert [type(each.exc_value) for each in reported] == [ResourceWarning]
    assert "unclosed <SMTPClientSession" in str(reported[0].exc_value)


def test_a_closed_session_collects_silently(smtp_server):
    session = SMTPClientSession(smtp_server.host, smtp_server.port)
    session.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        del session
        gc.collect()


def test_an_aborted_session_collects_silently(scripted_peer):
    peer = scripted_peer(["220 peer.test ESMTP", "250 peer.test", "250 ok", "250 ok", "354 go"])
    session = SMTPClientSession(peer.host, peer.port)
    session.login("client.test")
    session.sendAddresses("a@example.org", ["b@example.org"])
    session.sendData()

    class Broken(io.RawIOBase):
        def readable(self):
            return True

        def readinto(self, buffer):
            raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        session.sendMessage(Broken())
    assert repr(session).endswith(" closed>")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        del session
        gc.collect()


# ------------------------------------------------------------------ reprs


def _reprs(smtp_server, tmp_path) -> dict[str, tuple[Any, str]]:
    """An instance of each public class, with the pattern its repr must match."""
    from pocosmtp import (
        Context,
        FileObjectPartSource,
        FilePartSource,
        FilePartStore,
        MailMessage,
        MailRecipient,
        MediaType,
        MessageHeader,
        MultipartSource,
        NameValueCollection,
        SocketAddress,
        StreamSocket,
        StringPartSource,
    )

    attachment = tmp_path / "report.csv"
    attachment.write_text("a,b\n")
    message = MailMessage()
    message.setSubject("Hi")
    message.addAttachment("a.txt", StringPartSource("x", "text/plain", "a.txt"))
    session = SMTPClientSession(smtp_server.host, smtp_server.port)
    socket = StreamSocket(SocketAddress(smtp_server.host, smtp_server.port))
    return {
        "SMTPClientSession": (session, r"<SMTPClientSession 127\.0\.0\.1 127\.0\.0\.1:\d+>"),
        "StreamSocket": (socket, r"<StreamSocket .*127\.0\.0\.1:\d+.*>"),
        "SocketAddress": (SocketAddress("127.0.0.1", 25), r"SocketAddress\('127\.0\.0\.1:25'\)"),
        "MailRecipient": (
            MailRecipient(MailRecipient.BCC_RECIPIENT, "a@example.org", "A"),
            r"MailRecipient\(MailRecipient\.BCC_RECIPIENT, 'a@example\.org', 'A'\)",
        ),
        "MailMessage": (message, r"MailMessage\(\[.*\('Subject', 'Hi'\).*\]\)"),
        "MailMessage.Part": (
            message.parts()[0],
            r"<MailMessage\.Part 'a\.txt' <StringPartSource text/plain 'a\.txt'> .*>",
        ),
        "MessageHeader": (MessageHeader(), r"MessageHeader\(\[\]\)"),
        "NameValueCollection": (NameValueCollection(), r"NameValueCollection\(\[\]\)"),
        "MediaType": (MediaType("text/csv"), r"MediaType\('text/csv'\)"),
        "StringPartSource": (StringPartSource("x"), r"<StringPartSource text/plain ''>"),
        "FilePartSource": (
            FilePartSource(str(attachment)),
            r"<FilePartSource application/octet-stream 'report\.csv'>",
        ),
        "FileObjectPartSource": (
            FileObjectPartSource(attachment.open("rb"), "text/csv", "r.csv"),
            r"<FileObjectPartSource text/csv 'r\.csv'>",
        ),
        "FilePartStore": (FilePartStore(b"x", "text/plain", "x.txt"), r"<FilePartStore .*>"),
        "MultipartSource": (MultipartSource(), r"<MultipartSource multipart/alternative.*>"),
        "Context": (
            Context(Context.TLS_CLIENT_USE, "", Context.VERIFY_STRICT),
            r"<Context TLS_CLIENT_USE VERIFY_STRICT.*>",
        ),
        "SMTPException": (
            pocosmtp.SMTPException("Recipient rejected", 550),
            r"SMTPException\('Recipient rejected', 550\)",
        ),
    }


def test_reprs_are_informative(smtp_server, tmp_path):
    objects = _reprs(smtp_server, tmp_path)
    try:
        for name, (obj, pattern) in objects.items():
            assert re.fullmatch(pattern, repr(obj)), f"{name}: {obj!r}"
    finally:
        objects["SMTPClientSession"][0].close()
        objects["StreamSocket"][0].close()
        objects["FileObjectPartSource"][0].fileobj().close()


def test_python_side_reprs(tmp_path):
    with Sink(tmp_path / "mail") as sink:
        assert repr(sink) == f"<Sink 127.0.0.1:{sink.port} {str(tmp_path / 'mail')!r}, 0 stored>"


@pytest.mark.parametrize(
    "name", ["PartHandler", "NullPartHandler", "PartStoreFactory", "FilePartStoreFactory"]
)
def test_handler_and_factory_reprs_name_the_class(name):
    assert repr(getattr(pocosmtp, name)()) == f"<{name}>"


def test_a_python_subclass_repr_names_both_classes():
    class MyHandler(pocosmtp.PartHandler):
        def handlePart(self, header, stream):  # noqa: N802 (Poco's name)
            pass

    class MyFactory(pocosmtp.FilePartStoreFactory):
        pass

    assert re.fullmatch(r"<.*MyHandler \(PartHandler\)>", repr(MyHandler()))
    assert re.fullmatch(r"<.*MyFactory \(FilePartStoreFactory\)>", repr(MyFactory()))
