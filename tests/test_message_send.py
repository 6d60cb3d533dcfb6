"""A multipart MailMessage sent through SMTPClientSession arrives byte for byte."""

import datetime as dt
import email
import email.policy
import io
import re

import servers
from pocosmtp import (
    FileObjectPartSource,
    MailMessage,
    MailRecipient,
    MultipartSource,
    SMTPClientSession,
    StringPartSource,
)

PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452") + bytes(range(256)) * 4


REPORT = b"quarter,total\r\n" + b"".join(b"q%d,%d\r\n" % (i, i * 7) for i in range(1, 5))


def report_message() -> MailMessage:
    msg = MailMessage()
    msg.setDate(dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.timezone.utc))
    msg.setSender("Alice <alice@example.org>")
    msg.setSubject("Quarterly report")
    msg.addRecipient(MailRecipient(MailRecipient.PRIMARY_RECIPIENT, "bob@example.org", "Bob"))
    msg.addRecipient(MailRecipient(MailRecipient.CC_RECIPIENT, "carol@example.org"))
    msg.addRecipient(MailRecipient(MailRecipient.BCC_RECIPIENT, "dave@example.org"))

    related = MultipartSource("multipart/related")
    related.addPart(
        "",
        StringPartSource(
            '<p>Figures:</p>\r\n.<img src="cid:chart@example.org">\r\n', "text/html; charset=utf-8"
        ),
        MailMessage.CONTENT_INLINE,
        MailMessage.ENCODING_QUOTED_PRINTABLE,
    )
    image = StringPartSource(PNG, "image/png", "chart.png")
    image.headers().set(MailMessage.HEADER_CONTENT_ID, "<chart@example.org>")
    related.addPart("chart.png", image, MailMessage.CONTENT_INLINE, MailMessage.ENCODING_BASE64)
    msg.addContent(related, MailMessage.ENCODING_7BIT)
    msg.addAttachment(
        "report.csv", FileObjectPartSource(io.BytesIO(REPORT), "text/csv", "report.csv")
    )
    return msg


def without_boundaries(data: bytes) -> bytes:
    """data with each random MIME boundary replaced by a name in order of appearance."""
    names: dict[bytes, bytes] = {}
    for b in re.findall(rb"boundary=(MIME_boundary_[0-9A-F]+)", data):
        names.setdefault(b, b"BOUNDARY%d" % len(names))
    for b, name in names.items():
        data = data.replace(b, name)
    return data


def test_multipart_with_attachment_and_inline_image_arrives_intact(
    smtp_server: servers.SmtpServer,
) -> None:
    msg = report_message()
    with SMTPClientSession(smtp_server.host, smtp_server.port) as session:
        session.login("client.example")
        session.sendMessage(msg)
    (received,) = smtp_server.wait_for(1)

    assert received.mail_from == "alice@example.org"
    assert received.rcpt_tos == ["bob@example.org", "carol@example.org", "dave@example.org"]
    # Poco's StringPartSource and MultipartSource are read once, so the
    # expected bytes come from a twin message (its boundaries are its own).
    twin = io.BytesIO()
    report_message().write(twin)
    assert without_boundaries(received.data) == without_boundaries(twin.getvalue())
    assert without_boundaries(received.data).count(b"BOUNDARY") == 8

    parsed = email.message_from_bytes(received.data, policy=email.policy.default)
    assert "Bcc" not in parsed
    html_related, attachment = parsed.iter_parts()
    html, png = html_related.iter_parts()
    assert html_related.get_content_type() == "multipart/related"
    assert html.get_content().replace("\r\n", "\n").startswith("<p>Figures:</p>\n.<img")
    assert png["Content-ID"] == "<chart@example.org>"
    assert png.get_payload(decode=True) == PNG
    assert attachment.get_filename() == "report.csv"
    assert attachment.get_payload(decode=True) == REPORT
