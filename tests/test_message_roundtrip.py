"""Round trips between Poco's MailMessage and the standard library's email package."""

import datetime as dt
import email
import email.header
import email.message
import email.policy
import io

from hypothesis import given, settings
from hypothesis import strategies as st

from pocosmtp import (
    InputStream,
    MailMessage,
    MailRecipient,
    MessageHeader,
    PartHandler,
    StringPartSource,
)

DATE = dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.timezone.utc)

# Line breaks are CRLF only (Poco's rule for content), so characters that
# str.splitlines() or a mail parser would take as line ends are left out.
line_chars = st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"))
lines = st.lists(
    st.one_of(
        st.text(line_chars, max_size=300),
        st.text(line_chars, max_size=40).map(lambda s: "." + s),
        st.just("."),
        st.text(st.sampled_from(" \t"), min_size=1, max_size=5),
    ),
    min_size=1,
    max_size=12,
)
binaries = st.binary(max_size=3000)

SETTINGS = settings(max_examples=60, deadline=None)


def written(msg: MailMessage) -> bytes:
    out = io.BytesIO()
    msg.write(out)
    return out.getvalue()


def crlf_text(body_lines: list[str]) -> str:
    return "\r\n".join(body_lines) + "\r\n"


def poco_message() -> MailMessage:
    msg = MailMessage()
    msg.setDate(DATE)
    msg.setSender("Alice <alice@example.org>")
    msg.setSubject(MailMessage.encodeWord("Grüße"))
    msg.addRecipient(MailRecipient(MailRecipient.PRIMARY_RECIPIENT, "bob@example.org", "Bob"))
    return msg


@SETTINGS
@given(body_lines=lines)
def test_single_part_written_by_poco_parses_in_the_stdlib(body_lines: list[str]) -> None:
    body = crlf_text(body_lines)
    msg = poco_message()
    msg.setContentType("text/plain; charset=utf-8")
    msg.setContent(body)

    parsed = email.message_from_bytes(written(msg), policy=email.policy.default)
    assert parsed["Subject"] == "Grüße"
    assert parsed["To"] == "Bob <bob@example.org>"
    assert parsed["Date"].datetime == DATE
    assert parsed.get_payload(decode=True) == body.encode()


@SETTINGS
@given(body_lines=lines, attachment=binaries)
def test_multipart_written_by_poco_parses_in_the_stdlib(
    body_lines: list[str], attachment: bytes
) -> None:
    body = crlf_text(body_lines)
    msg = poco_message()
    msg.addContent(StringPartSource(body, "text/plain; charset=utf-8"))
    msg.addAttachment("blob.bin", StringPartSource(attachment, "application/octet-stream", "b.bin"))

    parsed = email.message_from_bytes(written(msg), policy=email.policy.default)
    assert parsed.get_content_type() == "multipart/mixed"
    assert not parsed.defects
    text, blob = parsed.iter_parts()
    assert text.get_content_type() == "text/plain"
    assert text.get_payload(decode=True) == body.encode()
    assert text.get_content().replace("\r\n", "\n") == body.replace("\r\n", "\n")
    assert blob.get_filename() == "b.bin"
    assert blob.get_param("name") == "blob.bin"
    assert blob.get_content_disposition() == "attachment"
    assert blob.get_payload(decode=True) == attachment


@SETTINGS
@given(body_lines=lines, attachment=binaries)
def test_multipart_written_by_the_stdlib_is_read_by_poco(
    body_lines: list[str], attachment: bytes
) -> None:
    text = "\n".join(body_lines) + "\n"
    source = email.message.EmailMessage(policy=email.policy.SMTP)
    source["From"] = "alice@example.org"
    source["Subject"] = "from the stdlib"
    source.set_content(text)
    source.add_attachment(
        attachment, maintype="application", subtype="octet-stream", filename="f.bin"
    )
    data = source.as_bytes()

    received = []

    class Collect(PartHandler):
        def handlePart(self, header: MessageHeader, stream: InputStream) -> None:  # noqa: N802
            received.append((header.get("Content-Type"), stream.read()))

    msg = MailMessage()
    msg.read(data, Collect())
    assert msg.getSubject() == "from the stdlib"
    assert msg.isMultipart()
    (text_type, text_data), (blob_type, blob_data) = received
    assert text_type.startswith("text/plain")
    assert text_data == crlf_text(body_lines).encode()
    assert blob_type == "application/octet-stream"
    assert blob_data == attachment

    # The default reader keeps the parts, so the message can be written again.
    kept = MailMessage()
    kept.read(data)
    again = email.message_from_bytes(written(kept), policy=email.policy.default)
    parts = list(again.iter_parts())
    assert parts[1].get_payload(decode=True) == attachment


@SETTINGS
@given(text=st.text(st.characters(blacklist_categories=("Cs",)), max_size=200))  # type: ignore[arg-type]
def test_encode_word_decodes_back_in_the_stdlib(text: str) -> None:
    encoded = MailMessage.encodeWord(text)
    if text.isascii():
        assert encoded == text
        return
    # Poco 1.14.2 folds after 72 counted octets, so an encoded word can reach
    # 76 characters (RFC 2047 asks for 75) and may split a UTF-8 sequence
    # between words; decoders that join adjacent words, like the stdlib's,
    # still read it whole.
    assert all(len(line.strip()) <= 76 for line in encoded.split("\r\n"))
    decoded = str(email.header.make_header(email.header.decode_header(encoded)))
    assert decoded == text
