"""Poco's MultipartWriterTest (Net/testsuite/src/MultipartWriterTest.cpp), through pocosmtp.

MultipartWriter is not bound; MailMessage.write() runs it for a message with
parts, with a boundary it makes itself (MultipartWriter::createBoundary), and
writes each part's own header fields followed by the Content-Type,
Content-Transfer-Encoding and Content-Disposition fields it adds. So these
tests compare the body after the message header with Poco's expected framing,
the random boundary taken from the message's Content-Type and those three
fields inserted after the part's own.
"""

from __future__ import annotations

import io
import re

from pocosmtp import MailMessage, MediaType, MessageHeader, StringPartSource

# What MailMessage adds to the fields of a 7bit inline text/plain part.
MAIL_MESSAGE_FIELDS = (
    b"Content-Type: text/plain\r\n"
    b"Content-Transfer-Encoding: 7bit\r\n"
    b"Content-Disposition: inline\r\n"
)


def add_part(message: MailMessage, data: str, fields: dict[str, str]) -> None:
    source = StringPartSource(data)
    for name, value in fields.items():
        source.headers().set(name, value)
    message.addPart("", source, MailMessage.CONTENT_INLINE, MailMessage.ENCODING_7BIT)


def boundary_and_body(message: MailMessage) -> tuple[bytes, bytes]:
    out = io.BytesIO()
    message.write(out)
    header, _, body = out.getvalue().partition(b"\r\n\r\n")
    fields = MessageHeader()
    fields.read(io.BytesIO(header + b"\r\n"))
    return MediaType(fields["Content-Type"]).getParameter("boundary").encode(), body


def test_write_one_part() -> None:
    message = MailMessage()
    add_part(message, "this is part 1", {"name1": "value1"})
    boundary, body = boundary_and_body(message)
    assert body == (
        b"--$B\r\nname1: value1\r\n" + MAIL_MESSAGE_FIELDS + b"\r\nthis is part 1\r\n--$B--\r\n"
    ).replace(b"$B", boundary)


def test_write_two_parts() -> None:
    message = MailMessage()
    add_part(message, "this is part 1", {"name1": "value1"})
    add_part(message, "this is part 2", {})
    boundary, body = boundary_and_body(message)
    assert body == (
        b"--$B\r\nname1: value1\r\n" + MAIL_MESSAGE_FIELDS + b"\r\nthis is part 1\r\n"
        b"--$B\r\n" + MAIL_MESSAGE_FIELDS + b"\r\nthis is part 2\r\n--$B--\r\n"
    ).replace(b"$B", boundary)


def test_boundary() -> None:
    message = MailMessage()
    add_part(message, "x", {})
    boundary, _ = boundary_and_body(message)
    # "MIME_boundary_" and 16 hex digits: 30 characters.
    assert re.fullmatch(rb"MIME_boundary_[0-9A-F]{16}", boundary), boundary
    assert len(boundary) == 14 + 16
