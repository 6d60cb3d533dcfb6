"""MailMessage and MailRecipient: byte-exact output, reading, and the Python-facing API."""

import base64
import datetime as dt
import io
import threading

import pytest

import pocosmtp
from pocosmtp import (
    FileObjectPartSource,
    MailMessage,
    MailRecipient,
    MediaType,
    PartHandler,
    StringPartSource,
)

UTC = dt.timezone.utc
DATE = dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
DATE_LINE = b"Date: Mon, 6 May 2024 07:08:09 GMT\r\n"


def written(msg: MailMessage) -> bytes:
    out = io.BytesIO()
    msg.write(out)
    return out.getvalue()


def boundary_of(data: bytes) -> bytes:
    header = MailMessage()
    header.read(data)
    return MediaType(header.getContentType()).getParameter("boundary").encode()


def base_message() -> MailMessage:
    msg = MailMessage()
    msg.setDate(DATE)
    msg.setSender('"Alice" <alice@example.org>')
    msg.setSubject("Report")
    return msg


# ------------------------------------------------------------ MailRecipient


def test_recipient_types_are_an_enum_and_class_attributes():
    assert MailRecipient.RecipientType.CC_RECIPIENT is MailRecipient.CC_RECIPIENT
    assert [int(t) for t in MailRecipient.RecipientType] == [0, 1, 2]
    assert MailRecipient.BCC_RECIPIENT.name == "BCC_RECIPIENT"


def test_recipient_constructors_accessors_equality_and_repr():
    empty = MailRecipient()
    assert (empty.getType(), empty.getAddress(), empty.getRealName()) == (
        MailRecipient.PRIMARY_RECIPIENT,
        "",
        "",
    )
    r = MailRecipient(MailRecipient.CC_RECIPIENT, "c@example.org", "Carol")
    assert r == MailRecipient(MailRecipient(MailRecipient.CC_RECIPIENT, "c@example.org", "Carol"))
    assert r != MailRecipient(MailRecipient.CC_RECIPIENT, "c@example.org")
    assert repr(r) == "MailRecipient(MailRecipient.CC_RECIPIENT, 'c@example.org', 'Carol')"
    assert repr(MailRecipient(MailRecipient.BCC_RECIPIENT, "b@x")) == (
        "MailRecipient(MailRecipient.BCC_RECIPIENT, 'b@x')"
    )
    r.setType(MailRecipient.BCC_RECIPIENT)
    r.setAddress("d@example.org")
    r.setRealName("Dave")
    assert (r.getType(), r.getAddress(), r.getRealName()) == (
        MailRecipient.BCC_RECIPIENT,
        "d@example.org",
        "Dave",
    )


def test_recipients_returns_copies_and_set_recipients_replaces():
    msg = MailMessage()
    msg.addRecipient(MailRecipient(MailRecipient.PRIMARY_RECIPIENT, "a@x"))
    copies = msg.recipients()
    copies[0].setAddress("changed@x")
    assert msg.recipients()[0].getAddress() == "a@x"
    msg.setRecipients([MailRecipient(MailRecipient.CC_RECIPIENT, "b@x")])
    assert msg.recipients() == [MailRecipient(MailRecipient.CC_RECIPIENT, "b@x")]


# ------------------------------------------------------------ constants and enums


def test_constants_and_enum_values_are_class_attributes():
    assert MailMessage.HEADER_CC == "CC"
    assert MailMessage.HEADER_MIME_VERSION == "Mime-Version"
    assert MailMessage.HEADER_CONTENT_ID == "Content-ID"
    assert MailMessage.TEXT_PLAIN == "text/plain"
    assert MailMessage.EMPTY_HEADER == ""
    assert MailMessage.CTE_QUOTED_PRINTABLE == "quoted-printable"
    assert MailMessage.ENCODING_BASE64 is MailMessage.ContentTransferEncoding.ENCODING_BASE64
    assert MailMessage.CONTENT_ATTACHMENT is MailMessage.ContentDisposition.CONTENT_ATTACHMENT
    assert int(MailMessage.ENCODING_QUOTED_PRINTABLE) == 2


# ------------------------------------------------------------ writing, byte-exact


def test_single_part_message_is_written_byte_exact():
    msg = base_message()
    for i in range(1, 6):
        msg.addRecipient(MailRecipient(MailRecipient.PRIMARY_RECIPIENT, f"user{i}@example.org"))
    msg.addRecipient(
        MailRecipient(MailRecipient.CC_RECIPIENT, "carol@example.org", "Carol C. Jones")
    )
    msg.addRecipient(MailRecipient(MailRecipient.BCC_RECIPIENT, "dave@example.org"))
    msg.setContent("x" * 100 + "\r\n.dot\r\n")

    # Header order is the order of the calls (Date and Content-Type come from
    # the constructor); To and CC are added on writing, folded with a tab
    # past 70 columns; BCC never appears.
    assert written(msg) == (
        DATE_LINE + b"Content-Type: text/plain\r\n"
        b'From: "Alice" <alice@example.org>\r\n'
        b"Subject: Report\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n"
        b"To: <user1@example.org>, <user2@example.org>, <user3@example.org>, \r\n"
        b"\t<user4@example.org>, <user5@example.org>\r\n"
        b"CC: Carol C. Jones <carol@example.org>\r\n"
        b"\r\n" + b"x" * 75 + b"=\r\n" + b"x" * 25 + b"\r\n.dot\r\n"
    )


def test_quoted_printable_lines_never_exceed_76_octets():
    msg = base_message()
    msg.setContent(("é" * 60 + " tail = \t" + "y" * 200 + "\r\n") * 3)
    body = written(msg).split(b"\r\n\r\n", 1)[1]
    lines = body.split(b"\r\n")
    assert max(len(line) for line in lines) == 76
    assert all(line.endswith(b"=") for line in lines if len(line) == 76)
    unfolded = body.replace(b"=\r\n", b"")
    assert unfolded.startswith(b"=C3=A9" * 60 + b" tail =3D \ty")


def test_real_names_needing_quotes_are_quoted():
    msg = base_message()
    msg.addRecipient(MailRecipient(MailRecipient.PRIMARY_RECIPIENT, "b@x", "Builder, Bob"))
    assert b'To: "Builder, Bob" <b@x>\r\n' in written(msg)


def test_multipart_message_is_written_byte_exact():
    msg = base_message()
    msg.addRecipient(MailRecipient(MailRecipient.PRIMARY_RECIPIENT, "bob@example.org"))
    msg.addContent(StringPartSource("Hello Bob,\r\nsee attached.\r\n"))
    attachment = bytes(range(200))
    msg.addAttachment("data.bin", StringPartSource(attachment, "application/octet-stream", "d.bin"))
    assert msg.isMultipart()

    data = written(msg)
    b = boundary_of(data)
    assert b.startswith(b"MIME_boundary_")
    encoded = base64.b64encode(attachment)
    lines = [encoded[i : i + 72] for i in range(0, len(encoded), 72)]
    assert [len(x) for x in lines] == [72, 72, 72, 52]
    assert data == (
        DATE_LINE + b"Content-Type: multipart/mixed; boundary=" + b + b"\r\n"
        b'From: "Alice" <alice@example.org>\r\n'
        b"Subject: Report\r\n"
        b"To: <bob@example.org>\r\n"
        b"Mime-Version: 1.0\r\n"
        b"\r\n"
        b"--" + b + b"\r\n"
        b"Content-Type: text/plain\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n"
        b"Content-Disposition: inline\r\n"
        b"\r\n"
        b"Hello Bob,\r\nsee attached.\r\n"
        b"\r\n--" + b + b"\r\n"
        b"Content-Type: application/octet-stream; name=data.bin\r\n"
        b"Content-Transfer-Encoding: base64\r\n"
        b"Content-Disposition: attachment; filename=d.bin\r\n"
        b"\r\n" + b"\r\n".join(lines) + b"\r\n--" + b + b"--\r\n"
    )
    # The boundary is made once per message.
    assert boundary_of(written(msg)) == b


def test_add_part_with_every_encoding():
    msg = base_message()
    payload = "Grüße\r\n"
    for encoding in MailMessage.ContentTransferEncoding:
        msg.addPart("", StringPartSource(payload), MailMessage.CONTENT_INLINE, encoding)
    data = written(msg)
    assert data.count(b"Content-Transfer-Encoding: 7bit\r\n") == 1
    assert data.count(b"Content-Transfer-Encoding: 8bit\r\n") == 1
    assert b"\r\n\r\nGr\xc3\xbc\xc3\x9fe\r\n\r\n--" in data
    assert b"\r\n\r\nGr=C3=BC=C3=9Fe\r\n\r\n--" in data
    assert b"\r\n\r\n" + base64.b64encode(payload.encode()) + b"\r\n--" in data
    assert [p.encoding for p in msg.parts()] == list(MailMessage.ContentTransferEncoding)


def test_write_to_a_sink_that_raises_surfaces_the_python_error():
    class Full(io.RawIOBase):
        def writable(self):
            return True

        def write(self, data):
            raise OSError(28, "No space left on device")

    msg = base_message()
    msg.setContent("x")
    with pytest.raises(OSError, match="No space left"):
        msg.write(Full())


def test_write_to_a_non_writable_raises_type_error():
    with pytest.raises(TypeError):
        base_message().write(object())  # type: ignore[arg-type]


def test_write_releases_the_gil():
    """A slow source read by another thread's write leaves this thread free to run."""
    started = threading.Event()
    proceed = threading.Event()

    class Slow(io.RawIOBase):
        def readable(self):
            return True

        def readinto(self, buffer):
            if not started.is_set():
                started.set()
                assert proceed.wait(5)
                buffer[:3] = b"abc"
                return 3
            return 0

    msg = base_message()
    msg.addAttachment("s", FileObjectPartSource(Slow()), MailMessage.ENCODING_7BIT)
    result: dict[str, bytes] = {}
    writer = threading.Thread(target=lambda: result.setdefault("data", written(msg)))
    writer.start()
    assert started.wait(5)
    proceed.set()
    writer.join(5)
    assert b"\r\n\r\nabc\r\n--" in result["data"]


# ------------------------------------------------------------ content, type, date, words


def test_content_round_trips_as_str_or_exact_bytes():
    msg = MailMessage()
    msg.setContent("café", MailMessage.ENCODING_8BIT)
    assert msg.getContent() == "café"
    assert msg["Content-Transfer-Encoding"] == "8bit"
    msg.setContent(b"\xff\xfe raw")
    assert msg.getContent(raw=True) == b"\xff\xfe raw"
    with pytest.raises(UnicodeDecodeError):
        msg.getContent()
    assert b"\r\n\r\n=FF=FE raw" in written(msg)


def test_content_type_defaults_and_overloads():
    msg = MailMessage()
    assert msg.getContentType() == "text/plain"
    assert not msg.isMultipart()
    msg.setContentType(MediaType("text", "html"))
    assert msg.getContentType() == "text/html"
    msg.erase("Content-Type")
    assert msg.getContentType() == MailMessage.TEXT_PLAIN


def test_date_takes_and_gives_aware_datetimes():
    msg = MailMessage()
    now = msg.getDate()
    assert now.tzinfo is not None
    assert abs(now - dt.datetime.now(UTC)) < dt.timedelta(seconds=5)

    cet = dt.timezone(dt.timedelta(hours=1))
    msg.setDate(dt.datetime(2024, 5, 6, 8, 8, 9, 999, tzinfo=cet))
    assert msg["Date"] == "Mon, 6 May 2024 07:08:09 GMT"
    assert msg.getDate() == DATE
    with pytest.raises(ValueError, match="naive"):
        msg.setDate(dt.datetime(2024, 1, 1))


def test_sender_and_subject_default_to_empty():
    msg = MailMessage()
    assert msg.getSender() == "" and msg.getSubject() == ""
    msg.setSender("a@x")
    msg.setSubject("s")
    assert (msg["From"], msg["Subject"]) == ("a@x", "s")


def test_encode_word():
    assert MailMessage.encodeWord(b"\xc4\xd6", "ISO-8859-1") == "=?ISO-8859-1?q?=C4=D6?="
    assert MailMessage.encodeWord("Grüße aus Köln") == "=?UTF-8?q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?="
    assert MailMessage.encodeWord("plain ascii") == "plain ascii"
    long = MailMessage.encodeWord("ä" * 40)
    assert "?=\r\n =?UTF-8?q?" in long
    assert all(len(line) <= 76 for line in long.split("\r\n"))


def test_message_header_api_is_inherited():
    msg = base_message()
    assert isinstance(msg, pocosmtp.MessageHeader)
    msg["X-Mailer"] = "pocosmtp"
    assert ("X-Mailer", "pocosmtp") in list(msg)
    assert repr(msg).startswith("MailMessage([('Date', ")


# ------------------------------------------------------------ reading


MIXED_CASE = (
    b"from: a@example.org\r\n"
    b"SUBJECT: Mixed\r\n"
    b'CONTENT-TYPE: Multipart/Mixed; BOUNDARY="b1"\r\n'
    b"\r\n"
    b"--b1\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-transfer-encoding: quoted-printable\r\n"
    b"\r\n"
    b"first =C3=A9\r\n"
    b"--b1\r\n"
    b"Content-Type: text/html\r\n"
    b"Content-Disposition: attachment; filename=x.html\r\n"
    b"\r\n"
    b"<p>x</p>"
)


def test_read_multipart_with_mixed_case_headers_and_no_final_boundary():
    msg = MailMessage()
    msg.read(io.BytesIO(MIXED_CASE))
    assert (msg.getSender(), msg.getSubject()) == ("a@example.org", "Mixed")
    assert msg.isMultipart()
    text, html = msg.parts()
    assert (text.name, text.disposition, text.encoding) == (
        "",
        MailMessage.CONTENT_INLINE,
        MailMessage.ENCODING_QUOTED_PRINTABLE,
    )
    assert text.pSource.mediaType() == "text/plain; charset=utf-8"
    assert html.disposition == MailMessage.CONTENT_ATTACHMENT
    assert html.pSource.filename() == "x.html"

    collected = []

    class Collect(PartHandler):
        def handlePart(self, header, stream):  # noqa: N802  (Poco's name)
            collected.append(stream.read())

    MailMessage().read(MIXED_CASE, Collect())
    assert collected == [b"first \xc3\xa9", b"<p>x</p>"]


def test_missing_final_boundary_after_a_line_break_leaks_an_eof_octet():
    # Poco 1.14.2's MultipartReader stores the EOF marker as a 0xFF octet when
    # the stream ends right after a line break without the closing boundary.
    collected = []

    class Collect(PartHandler):
        def handlePart(self, header, stream):  # noqa: N802  (Poco's name)
            collected.append(stream.read())

    MailMessage().read(MIXED_CASE + b"\r\n", Collect())
    assert collected == [b"first \xc3\xa9", b"<p>x</p>\r\n\xff"]


def test_read_single_part_decodes_the_content():
    msg = MailMessage()
    msg.read(
        b"Subject: one\r\n"
        b"Content-Transfer-Encoding: Quoted-Printable\r\n"
        b"\r\n"
        b"soft=\r\nbreak caf=C3=A9\r\n"
    )
    assert not msg.isMultipart()
    assert msg.getContent() == "softbreak café\r\n"
    assert msg.parts() == []


def test_read_then_write_keeps_the_parts():
    original = base_message()
    original.addContent(StringPartSource("body text\r\n"))
    original.addAttachment("a.bin", StringPartSource(b"\x00\xff", "application/octet-stream"))
    data = written(original)

    again = MailMessage()
    again.read(data)
    assert [p.pSource.mediaType() for p in again.parts()] == [
        "text/plain",
        "application/octet-stream; name=a.bin",
    ]
    rewritten = written(again)
    assert boundary_of(rewritten) == boundary_of(data)
    assert base64.b64encode(b"\x00\xff") in rewritten
    assert b"body text" in rewritten


def test_read_from_a_text_stream_raises_type_error():
    with pytest.raises(TypeError, match="binary"):
        MailMessage().read(io.StringIO("Subject: x\r\n\r\nbody"))  # type: ignore[arg-type]


def test_read_errors_from_python_propagate():
    class Failing(io.RawIOBase):
        def readable(self):
            return True

        def readinto(self, buffer):
            raise TimeoutError("slow source")

    with pytest.raises(TimeoutError, match="slow source"):
        MailMessage().read(Failing())


def test_a_source_failing_inside_a_part_reaches_the_handlers_caller():
    # Poco's errors while decoding a part end the part, as for a C++
    # handler; an error of the Python source below must still surface.
    head = (
        b"Content-Type: multipart/mixed; boundary=XYZ\r\n\r\n--XYZ\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + b"QUJD" * 40000
    )

    class Failing(io.RawIOBase):
        def __init__(self):
            self.inner = io.BytesIO(head)

        def readable(self):
            return True

        def readinto(self, buffer):
            got = self.inner.readinto(buffer)
            if not got:
                raise ConnectionResetError("source went away")
            return got

    seen = []

    class Reading(pocosmtp.PartHandler):
        def handlePart(self, header, stream):  # noqa: N802 (Poco's name)
            seen.append(len(stream.read()))

    with pytest.raises(ConnectionResetError, match="source went away"):
        MailMessage().read(Failing(), Reading())
    assert seen == []  # the handler's read() raised; it never returned


# ------------------------------------------------------------ in use by Poco


class CallbackSink(io.RawIOBase):
    """A sink that runs `action` on its first write."""

    def __init__(self, action):
        self.action = action
        self.data = bytearray()

    def writable(self):
        return True

    def write(self, data):
        action, self.action = self.action, None
        if action:
            action()
        self.data += data
        return len(data)


def test_a_message_cannot_change_while_it_is_written():
    msg = base_message()
    msg.addContent(StringPartSource("text"))
    attempts = {
        "addAttachment": lambda: msg.addAttachment("x", StringPartSource("x")),
        "setSubject": lambda: msg.setSubject("changed"),
        "header set": lambda: msg.set("X-New", "1"),
        "clear": msg.clear,
        "part headers": lambda: msg.parts()[0].pSource.headers().set("X", "1"),
        "write again": lambda: msg.write(io.BytesIO()),
        "read into it": lambda: msg.read(b"Subject: x\r\n\r\n"),
    }
    for name, attempt in attempts.items():
        with pytest.raises(RuntimeError, match="being written"):
            msg.write(CallbackSink(attempt))
        assert msg.getSubject() == "Report", name
        assert len(msg.parts()) == 1, name

    # Looking is fine while writing, and everything works again afterwards.
    seen = []
    msg.write(CallbackSink(lambda: seen.append((msg.getSubject(), len(msg.parts())))))
    assert seen == [("Report", 1)]
    msg.setSubject("changed")
    msg.addAttachment("x", StringPartSource("x"))
    assert len(msg.parts()) == 2


def test_a_message_being_read_cannot_be_looked_at_from_a_handler():
    msg = MailMessage()
    errors = []

    class Peek(PartHandler):
        def handlePart(self, header, stream):  # noqa: N802  (Poco's name)
            try:
                msg.getSubject()
            except RuntimeError as e:
                errors.append(str(e))

    msg.read(MIXED_CASE, Peek())
    assert len(errors) == 2 and "being read" in errors[0]
    assert msg.getSubject() == "Mixed"


def test_a_header_cannot_change_while_it_is_written():
    header = pocosmtp.MessageHeader()
    header["A"] = "1"
    with pytest.raises(RuntimeError, match="being written"):
        header.write(CallbackSink(lambda: header.add("B", "2")))
    assert list(header) == [("A", "1")]
