"""Poco's QuotedPrintableTest (Net/testsuite/src/QuotedPrintableTest.cpp), through pocosmtp.

QuotedPrintableEncoder and QuotedPrintableDecoder are not bound. MailMessage
writes content with ENCODING_QUOTED_PRINTABLE through the encoder, and reads
a quoted-printable body or part through the decoder, so Poco's two texts are
put through those: the encoded text must be exactly the message body, and
the decoded text exactly what getContent() or a PartHandler returns.
"""

from __future__ import annotations

import io

from pocosmtp import InputStream, MailMessage, MessageHeader, PartHandler, StringPartSource

# Trailing white space, a control character (backspace), a line longer than
# 76 characters and two octets above 127.
PLAIN = (
    b"Lorem ipsum dolor sit amet, consectetuer adipiscing elit.\r\n"
    b"Proin id odio sit amet metus dignissim porttitor. \r\n"
    b"Aliquam nulla ipsum, faucibus non, aliquet quis, aliquet id, felis. "
    b"Proin sodales molestie arcu.\r\n"
    b"\t\bSed suscipit, mi in facilisis feugiat, \t   \r\n"
    b"\x80\x81\r\n"
)
ENCODED = (
    b"Lorem ipsum dolor sit amet, consectetuer adipiscing elit.\r\n"
    b"Proin id odio sit amet metus dignissim porttitor.=20\r\n"
    b"Aliquam nulla ipsum, faucibus non, aliquet quis, aliquet id, felis. Proin s=\r\n"
    b"odales molestie arcu.\r\n"
    b"\t=08Sed suscipit, mi in facilisis feugiat, \t  =20\r\n"
    b"=80=81\r\n"
)


def written(message: MailMessage) -> bytes:
    out = io.BytesIO()
    message.write(out)
    return out.getvalue()


def test_encode() -> None:
    message = MailMessage()
    message.setContent(PLAIN, MailMessage.ENCODING_QUOTED_PRINTABLE)
    header, _, body = written(message).partition(b"\r\n\r\n")
    assert b"\r\nContent-Transfer-Encoding: quoted-printable" in header
    assert body == ENCODED


def test_encode_in_a_part() -> None:
    # The same encoder for a part: its data ends before the closing boundary.
    message = MailMessage()
    message.addContent(StringPartSource(PLAIN), MailMessage.ENCODING_QUOTED_PRINTABLE)
    data = written(message)
    part = data.split(b"Content-Disposition: inline\r\n\r\n", 1)[1]
    assert part.startswith(ENCODED + b"\r\n--MIME_boundary_")


def test_decode() -> None:
    message = MailMessage()
    message.read(io.BytesIO(b"Content-Transfer-Encoding: quoted-printable\r\n\r\n" + ENCODED))
    assert message.getContent(raw=True) == PLAIN


def test_decode_in_a_part() -> None:
    received: list[bytes] = []

    class Collect(PartHandler):
        def handlePart(self, header: MessageHeader, stream: InputStream) -> None:  # noqa: N802
            received.append(stream.read())

    MailMessage().read(
        io.BytesIO(
            b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
            b"--b\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
            + ENCODED
            + b"\r\n--b--\r\n"
        ),
        Collect(),
    )
    assert received == [PLAIN]
