"""Poco's MultipartReaderTest (Net/testsuite/src/MultipartReaderTest.cpp), through pocosmtp.

MultipartReader is not bound; MailMessage.read(stream, handler) runs it on
the body of a multipart message, with the boundary from Content-Type, and
hands each part's header and data to the PartHandler. So each test puts
Poco's multipart body behind a one-field message header and checks what the
handler receives. Where Poco calls nextPart() once more and expects a
MultipartException, the equivalent here is that the handler is called for
no further part: MailMessage.read() stops when the reader has none left.
"""

from __future__ import annotations

import io

import pytest

import pocosmtp
from pocosmtp import InputStream, MailMessage, MessageHeader, PartHandler

BOUNDARY = b"MIME_boundary_01234567"


class Parts(PartHandler):
    """Records every part as (header fields, data)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[tuple[list[tuple[str, str]], bytes]] = []

    def handlePart(self, header: MessageHeader, stream: InputStream) -> None:  # noqa: N802
        self.parts.append((list(header), stream.read()))


def parts_of(body: bytes, boundary: bytes = BOUNDARY, eol: bytes = b"\r\n") -> Parts:
    """Reads body as the body of a multipart/mixed message with this boundary."""
    handler = Parts()
    header = b"Content-Type: multipart/mixed; boundary=" + boundary + eol + eol
    MailMessage().read(io.BytesIO(header + body), handler)
    return handler


NAME1 = [("name1", "value1")]


def test_read_one_part() -> None:
    body = (
        b"\r\n--MIME_boundary_01234567\r\nname1: value1\r\n\r\nthis is part 1\r\n"
        b"--MIME_boundary_01234567--\r\n"
    )
    assert parts_of(body).parts == [(NAME1, b"this is part 1")]


def test_read_two_parts() -> None:
    body = (
        b"\r\n--MIME_boundary_01234567\r\nname1: value1\r\n\r\nthis is part 1\r\n"
        b"--MIME_boundary_01234567\r\n\r\nthis is part 2\r\n\r\n"
        b"--MIME_boundary_01234567--\r\n"
    )
    # Only the line break before a boundary belongs to the boundary.
    assert parts_of(body).parts == [(NAME1, b"this is part 1"), ([], b"this is part 2\r\n")]


def test_read_empty_lines() -> None:
    body = (
        b"\r\n--MIME_boundary_01234567\r\nname1: value1\r\n\r\nthis is\r\npart 1\r\n\r\n"
        b"--MIME_boundary_01234567\r\n\r\nthis\r\n\r\nis part 2\r\n\r\n\r\n"
        b"--MIME_boundary_01234567--\r\n"
    )
    assert parts_of(body).parts == [
        (NAME1, b"this is\r\npart 1\r\n"),
        ([], b"this\r\n\r\nis part 2\r\n\r\n"),
    ]


def test_read_long_part() -> None:
    long_part = b"X" * 3000
    body = (
        b"\r\n--MIME_boundary_01234567\r\nname1: value1\r\n\r\n" + long_part + b"\r\n"
        b"--MIME_boundary_01234567\r\n\r\nthis is part 2\r\n--MIME_boundary_01234567--\r\n"
    )
    assert parts_of(body).parts == [(NAME1, long_part), ([], b"this is part 2")]


def test_guess_boundary() -> None:
    # MailMessage passes Content-Type's boundary to the reader; an empty one
    # makes the reader take it from the first boundary line, as a reader
    # made without a boundary does in Poco's test. Had it guessed wrong, the
    # part would not end before the closing boundary line.
    body = (
        b"\r\n--MIME_boundary_01234567\r\nname1: value1\r\n\r\nthis is part 1\r\n"
        b"--MIME_boundary_01234567--\r\n"
    )
    assert parts_of(body, boundary=b'""').parts == [(NAME1, b"this is part 1")]


def test_preamble() -> None:
    body = (
        b"this is the\r\npreamble\r\n--MIME_boundary_01234567\r\nname1: value1\r\n\r\n"
        b"this is part 1\r\n--MIME_boundary_01234567--\r\n"
    )
    assert parts_of(body).parts == [(NAME1, b"this is part 1")]


def test_bad_boundary() -> None:
    # Poco's test tolerates a MultipartException from nextPart(); through
    # MailMessage it is raised, and no part reaches the handler.
    handler = Parts()
    message = (
        b"Content-Type: multipart/mixed; boundary=MIME_boundary_7654321\r\n\r\n"
        b"\r\n--MIME_boundary_01234567\r\nname1: value1\r\n\r\nthis is part 1\r\n"
        b"--MIME_boundary_01234567--\r\n"
    )
    with pytest.raises(pocosmtp.MultipartException, match="No boundary line found"):
        MailMessage().read(io.BytesIO(message), handler)
    assert handler.parts == []


def test_robustness() -> None:
    # A bare CR after the first boundary, LF elsewhere, no final line break.
    body = (
        b"--MIME_boundary_01234567\rname1: value1\r\n\nthis is part 1\n--MIME_boundary_01234567--"
    )
    assert parts_of(body).parts == [(NAME1, b"this is part 1")]


def test_unix_line_ends() -> None:
    body = (
        b"\n--MIME_boundary_01234567\nname1: value1\n\nthis is part 1\n"
        b"--MIME_boundary_01234567\n\nthis is part 2\n\n--MIME_boundary_01234567--\n"
    )
    assert parts_of(body, eol=b"\n").parts == [
        (NAME1, b"this is part 1"),
        ([], b"this is part 2\n"),
    ]
