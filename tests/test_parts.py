"""The PartSource family, part stores, PartHandler, and who owns a source."""

import datetime as dt
import gc
import io
import os
import weakref

import pytest

import pocosmtp
from pocosmtp import (
    FileObjectPartSource,
    FilePartSource,
    FilePartStore,
    FilePartStoreFactory,
    MailMessage,
    MultipartSource,
    NullPartHandler,
    PartHandler,
    PartSource,
    PartStoreFactory,
    StringPartSource,
)

DATE = dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.timezone.utc)

MULTIPART = (
    b"From: a@example.org\r\n"
    b"content-type: Multipart/Mixed; boundary=XYZ\r\n"
    b"\r\n"
    b"preamble\r\n"
    b"--XYZ\r\n"
    b"CONTENT-TYPE: text/plain\r\n"
    b"Content-Transfer-Encoding: Quoted-Printable\r\n"
    b"\r\n"
    b"caf=C3=A9 soft=\r\nbreak\r\n"
    b"--XYZ\r\n"
    b"Content-Type: application/octet-stream; name=blob.bin\r\n"
    b"content-transfer-encoding: BASE64\r\n"
    b"Content-Disposition: attachment; filename=blob.bin\r\n"
    b"\r\n"
    b"AAEC/w==\r\n"
    b"--XYZ--\r\n"
)


def written(msg: MailMessage) -> bytes:
    out = io.BytesIO()
    msg.write(out)
    return out.getvalue()


def boundary_of(data: bytes) -> bytes:
    header = data.split(b"\r\n\r\n", 1)[0].decode()
    for line in header.split("\r\n"):
        if line.lower().startswith("content-type:"):
            return (
                pocosmtp.MediaType(line.split(":", 1)[1].strip()).getParameter("boundary").encode()
            )
    raise AssertionError("no Content-Type")


def part_bodies(data: bytes) -> list[bytes]:
    """Each part (header and body) of a one-level multipart message, as written."""
    b = boundary_of(data)
    body = data.split(b"\r\n\r\n", 1)[1]
    assert body.endswith(b"\r\n--" + b + b"--\r\n")
    chunks = body[: -len(b"--" + b + b"--\r\n")].split(b"--" + b + b"\r\n")
    assert chunks[0] == b""
    return [c.removesuffix(b"\r\n") for c in chunks[1:]]


# ------------------------------------------------------------ sources


def test_string_part_source_keeps_bytes_and_encodes_str_as_utf8():
    raw = StringPartSource(b"\xff\x00binary", "application/octet-stream", "b.bin")
    text = StringPartSource("café")
    assert raw.mediaType() == "application/octet-stream"
    assert raw.filename() == "b.bin"
    assert raw.getContentLength() == 8
    assert text.mediaType() == "text/plain" and text.filename() == ""
    assert text.getContentLength() == len("café".encode())

    msg = MailMessage()
    msg.addPart("", raw, MailMessage.CONTENT_INLINE, MailMessage.ENCODING_8BIT)
    msg.addPart("", text, MailMessage.CONTENT_INLINE, MailMessage.ENCODING_8BIT)
    first, second = part_bodies(written(msg))
    assert first.endswith(b"\r\n\r\n\xff\x00binary")
    assert second.endswith(b"\r\n\r\ncaf\xc3\xa9")


def test_headers_are_live_and_reach_the_written_part():
    src = StringPartSource(b"\x89PNG", "image/png", "logo.png")
    src.headers().set("Content-ID", "<logo@example>")
    headers = src.headers()
    headers.add("X-Extra", "1")
    msg = MailMessage()
    msg.addPart("logo.png", src, MailMessage.CONTENT_INLINE, MailMessage.ENCODING_BASE64)
    (part,) = part_bodies(written(msg))
    assert part == (
        b"Content-ID: <logo@example>\r\n"
        b"X-Extra: 1\r\n"
        b"Content-Type: image/png; name=logo.png\r\n"
        b"Content-Transfer-Encoding: base64\r\n"
        b"Content-Disposition: inline\r\n"
        b"\r\n"
        b"iVBORw=="
    )


def test_file_part_source_reads_the_file_when_written(tmp_path):
    path = tmp_path / "report.csv"
    path.write_bytes(b"a,b\r\n1,2\r\n")
    plain = FilePartSource(str(path))
    assert plain.filename() == "report.csv"
    assert plain.mediaType() == "application/octet-stream"
    assert plain.getContentLength() == 10
    typed = FilePartSource(str(path), "text/csv")
    assert typed.mediaType() == "text/csv"
    # Poco's order: (path, filename, mediaType); keywords make it explicit.
    named = FilePartSource(str(path), "data.csv", "text/csv")
    assert (named.filename(), named.mediaType()) == ("data.csv", "text/csv")
    keywords = FilePartSource(str(path), mediaType="text/csv", filename="k.csv")
    assert (keywords.filename(), keywords.mediaType()) == ("k.csv", "text/csv")

    msg = MailMessage()
    msg.addAttachment("data.csv", named, MailMessage.ENCODING_7BIT)
    (part,) = part_bodies(written(msg))
    assert part.endswith(b"attachment; filename=data.csv\r\n\r\na,b\r\n1,2\r\n")


def test_file_part_source_of_a_missing_file_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        FilePartSource(str(tmp_path / "missing"))


def test_file_object_part_source_streams_and_rewinds_seekable_files():
    data = bytes(range(256)) * 1000
    fileobj = io.BytesIO(b"skip" + data)
    fileobj.seek(4)
    src = FileObjectPartSource(fileobj, "application/x-test", "t.bin")
    assert src.fileobj() is fileobj
    assert src.filename() == "t.bin"
    assert src.getContentLength() == PartSource.UNKNOWN_CONTENT_LENGTH
    msg = MailMessage()
    msg.addAttachment("t.bin", src, MailMessage.ENCODING_8BIT)
    first = written(msg)
    second = written(msg)
    assert first.count(data) == 1
    assert second.count(data) == 1


def test_file_object_part_source_with_a_non_seekable_reader():
    class Pipe:
        def __init__(self, data):
            self.chunks = [data[i : i + 1000] for i in range(0, len(data), 1000)]
            self.calls = 0

        def read(self, size):
            self.calls += 1
            return self.chunks.pop(0) if self.chunks else b""

    pipe = Pipe(b"x" * 5000)
    msg = MailMessage()
    # Pipe.read(size) has no default, which typeshed's SupportsRead asks for.
    msg.addAttachment("p", FileObjectPartSource(pipe), MailMessage.ENCODING_7BIT)  # type: ignore[arg-type]
    (part,) = part_bodies(written(msg))
    assert part.endswith(b"\r\n\r\n" + b"x" * 5000)
    assert pipe.calls == 6


def test_file_object_part_source_rejects_non_readables():
    with pytest.raises(TypeError):
        FileObjectPartSource(object())  # type: ignore[arg-type]


def test_text_files_are_refused_at_once():
    with pytest.raises(TypeError, match="binary"):
        FileObjectPartSource(io.StringIO("text"))  # type: ignore[arg-type]


def test_a_read_returning_str_surfaces_as_type_error():
    class Texty:
        def read(self, size):
            return "text"

    msg = MailMessage()
    msg.addAttachment("t", FileObjectPartSource(Texty()))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="binary"):
        written(msg)


def test_a_real_file_streams_and_a_closed_one_raises(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(b"\x00\x01" * 40000)
    with open(path, "rb") as f:
        msg = MailMessage()
        msg.addAttachment("data.bin", FileObjectPartSource(f), MailMessage.ENCODING_8BIT)
        (part,) = part_bodies(written(msg))
    assert part.endswith(b"\r\n\r\n" + b"\x00\x01" * 40000)
    with pytest.raises(ValueError, match="closed"):
        written(msg)


def test_poco_sources_are_read_once():
    # Poco's StringPartSource is a stream: a second write finds it at its end.
    msg = MailMessage()
    msg.addAttachment("s.txt", StringPartSource("once"), MailMessage.ENCODING_7BIT)
    (first,) = part_bodies(written(msg))
    (second,) = part_bodies(written(msg))
    assert first.endswith(b"\r\n\r\nonce")
    assert second.endswith(b"\r\n\r\n")


def test_a_read_that_raises_surfaces_unchanged():
    class Failing(io.RawIOBase):
        def readable(self):
            return True

        def readinto(self, buffer):
            raise ConnectionResetError("source went away")

    msg = MailMessage()
    msg.addAttachment("t", FileObjectPartSource(Failing()))
    with pytest.raises(ConnectionResetError, match="source went away"):
        written(msg)


class BytesSource(PartSource):
    """A PartSource written in Python."""

    def __init__(self, data, name="py.txt"):
        super().__init__("text/x-py")
        self.data = data
        self.name = name

    def stream(self):
        return self.data

    def filename(self):
        return self.name


def test_python_subclass_of_part_source():
    src = BytesSource(b"from python")
    assert src.filename() == "py.txt"
    msg = MailMessage()
    msg.addAttachment("py.txt", src, MailMessage.ENCODING_7BIT)
    (part,) = part_bodies(written(msg))
    assert part == (
        b"Content-Type: text/x-py; name=py.txt\r\n"
        b"Content-Transfer-Encoding: 7bit\r\n"
        b"Content-Disposition: attachment; filename=py.txt\r\n"
        b"\r\n"
        b"from python"
    )


def test_python_subclass_without_stream_fails_when_written():
    class Incomplete(PartSource):
        pass

    msg = MailMessage()
    msg.addContent(Incomplete())
    with pytest.raises(TypeError, match="stream"):
        written(msg)


def test_multipart_source_nests_parts():
    alternative = MultipartSource()
    assert alternative.mediaType().startswith("multipart/alternative; boundary=")
    alternative.addPart(
        "", StringPartSource("plain"), MailMessage.CONTENT_INLINE, MailMessage.ENCODING_7BIT
    )
    alternative.addPart(
        "",
        StringPartSource("<b>html</b>", "text/html"),
        MailMessage.CONTENT_INLINE,
        MailMessage.ENCODING_7BIT,
    )
    inner = pocosmtp.MediaType(alternative.mediaType()).getParameter("boundary").encode()
    msg = MailMessage()
    msg.addContent(alternative, MailMessage.ENCODING_7BIT)
    data = written(msg)
    assert data.count(b"--" + inner + b"\r\n") == 2
    assert data.count(b"--" + inner + b"--") == 1
    assert b"\r\n\r\nplain\r\n" in data and b"\r\n\r\n<b>html</b>\r\n" in data


# ------------------------------------------------------------ ownership


def test_added_source_is_disowned_and_cannot_be_reused():
    src = StringPartSource("once")
    msg = MailMessage()
    msg.addContent(src)
    with pytest.raises(ValueError, match="disowned"):
        src.mediaType()
    with pytest.raises(ValueError, match="create a new source"):
        msg.addContent(src)
    with pytest.raises(ValueError, match="create a new source"):
        MailMessage().addAttachment("x", src)
    with pytest.raises(ValueError):
        MultipartSource().addPart("", src, MailMessage.CONTENT_INLINE, MailMessage.ENCODING_7BIT)
    assert len(msg.parts()) == 1


def test_dropping_the_python_reference_keeps_the_part():
    msg = MailMessage()
    msg.addContent(StringPartSource("kept"), MailMessage.ENCODING_7BIT)
    gc.collect()
    (part,) = part_bodies(written(msg))
    assert part.endswith(b"\r\n\r\nkept")


def test_a_source_outlived_by_its_python_object_stays_unusable():
    src = StringPartSource("x")
    msg = MailMessage()
    msg.addContent(src)
    del msg
    gc.collect()
    with pytest.raises(ValueError):
        src.filename()
    with pytest.raises(ValueError):
        MailMessage().addContent(src)


def test_part_views_keep_the_message_alive():
    msg = MailMessage()
    msg.addAttachment("a.txt", StringPartSource("abc", "text/plain", "a.txt"))
    part = msg.parts()[0]
    source = part.pSource
    del msg, part
    gc.collect()
    assert source.filename() == "a.txt"
    assert source.mediaType() == "text/plain"


def test_a_part_view_cannot_be_handed_to_another_message():
    msg = MailMessage()
    msg.addContent(StringPartSource("abc"))
    view = msg.parts()[0].pSource
    with pytest.raises(ValueError, match="create a new source"):
        MailMessage().addContent(view)
    assert view.mediaType() == "text/plain"


def test_non_sources_are_rejected_with_type_error():
    with pytest.raises(TypeError, match="PartSource"):
        MailMessage().addContent(b"raw bytes")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        MailMessage().addContent(None)  # type: ignore[arg-type]


def test_python_subclass_lives_while_the_message_owns_it():
    src = BytesSource(b"data")
    ref = weakref.ref(src)
    msg = MailMessage()
    msg.addAttachment("a", src)
    del src
    gc.collect()
    assert ref() is not None
    assert msg.parts()[0].pSource is ref()
    assert ref().filename() == "py.txt"  # type: ignore[union-attr]  # usable while owned
    with pytest.raises(ValueError, match="create a new source"):
        MailMessage().addContent(ref())  # type: ignore[arg-type]

    del msg
    gc.collect()
    assert ref() is None


def test_python_subclass_is_unusable_after_the_message_is_gone():
    src = BytesSource(b"data")
    msg = MailMessage()
    msg.addContent(src)
    del msg
    gc.collect()
    with pytest.raises(ValueError):
        src.mediaType()


# ------------------------------------------------------------ reading: handlers and stores


def test_python_part_handler_receives_headers_and_decoded_data():
    received = []

    class Collect(PartHandler):
        def handlePart(self, header, stream):  # noqa: N802  (Poco's name)
            received.append((list(header), stream.read(), stream))

    msg = MailMessage()
    msg.read(io.BytesIO(MULTIPART), Collect())
    assert msg.getSender() == "a@example.org"
    assert msg.parts() == []
    assert [(h, d) for h, d, _ in received] == [
        (
            [("CONTENT-TYPE", "text/plain"), ("Content-Transfer-Encoding", "Quoted-Printable")],
            "café soft break".replace(" break", "break").encode(),
        ),
        (
            [
                ("Content-Type", "application/octet-stream; name=blob.bin"),
                ("content-transfer-encoding", "BASE64"),
                ("Content-Disposition", "attachment; filename=blob.bin"),
            ],
            b"\x00\x01\x02\xff",
        ),
    ]
    stale = received[0][2]
    assert stale.closed
    with pytest.raises(ValueError):
        stale.read()


def test_handler_reading_line_by_line_and_partially():
    lines = []

    class FirstLine(PartHandler):
        def handlePart(self, header, stream):  # noqa: N802  (Poco's name)
            lines.append(stream.readline())

    MailMessage().read(MULTIPART, FirstLine())
    assert lines == [b"caf\xc3\xa9 softbreak", b"\x00\x01\x02\xff"]


def test_handler_exception_propagates():
    class Boom(PartHandler):
        def handlePart(self, header, stream):  # noqa: N802  (Poco's name)
            raise RuntimeError("handler failed")

    with pytest.raises(RuntimeError, match="handler failed"):
        MailMessage().read(MULTIPART, Boom())


def test_handler_without_handle_part_raises_type_error():
    with pytest.raises(TypeError, match="handlePart"):
        MailMessage().read(MULTIPART, PartHandler())


def test_null_part_handler_discards():
    msg = MailMessage()
    msg.read(MULTIPART, NullPartHandler())
    assert msg.parts() == [] and msg.isMultipart()
    NullPartHandler().handlePart(pocosmtp.MessageHeader(), b"ignored")  # type: ignore[arg-type]


def test_file_part_store_factory_keeps_parts_in_temp_files():
    msg = MailMessage(FilePartStoreFactory())
    msg.read(MULTIPART)
    parts = msg.parts()
    assert [type(p.pSource) for p in parts] == [FilePartStore, FilePartStore]
    text, blob = (p.pSource for p in parts)
    assert isinstance(text, FilePartStore) and isinstance(blob, FilePartStore)
    assert parts[0].disposition == MailMessage.CONTENT_INLINE
    assert parts[1].disposition == MailMessage.CONTENT_ATTACHMENT
    # Poco decodes whatever the case of Content-Transfer-Encoding, but records
    # the part's encoding only from the exact lower-case names.
    assert parts[0].encoding == parts[1].encoding == MailMessage.ENCODING_7BIT
    assert blob.filename() == "blob.bin"
    assert blob.path() != "blob.bin"
    with open(blob.path(), "rb") as f:
        assert f.read() == b"\x00\x01\x02\xff"
    with open(text.path(), "rb") as f:
        assert f.read() == b"caf\xc3\xa9 softbreak"
    paths = [text.path(), blob.path()]
    del msg, parts, text, blob
    gc.collect()
    assert not any(os.path.exists(p) for p in paths)


def test_file_part_store_directly():
    store = FilePartStore(b"\x01\x02", "application/octet-stream", "x.bin")
    assert store.filename() == "x.bin"
    with open(store.path(), "rb") as f:
        assert f.read() == b"\x01\x02"


def test_python_part_store_factory_gets_bytes_and_its_sources_are_taken_over():
    calls = []

    class Memory(PartStoreFactory):
        def createPartStore(self, content, mediaType, filename=""):  # noqa: N802, N803  (Poco's names)
            calls.append((content, mediaType, filename))
            return BytesSource(content, filename or "unnamed")

    factory = Memory()
    msg = MailMessage(factory)
    del factory
    gc.collect()
    msg.read(MULTIPART)
    assert calls == [
        (b"caf\xc3\xa9 softbreak", "text/plain", ""),
        (b"\x00\x01\x02\xff", "application/octet-stream; name=blob.bin", "blob.bin"),
    ]
    assert [p.pSource.filename() for p in msg.parts()] == ["unnamed", "blob.bin"]
    assert msg.createPartStore(b"z", "a/b").data == b"z"  # type: ignore[attr-defined]


def test_python_part_store_factory_returning_a_non_source_raises():
    class Bad(PartStoreFactory):
        def createPartStore(self, content, mediaType, filename=""):  # noqa: N802, N803  (Poco's names)
            return "not a source"

    with pytest.raises(TypeError, match="PartSource"):
        MailMessage(Bad()).read(MULTIPART)


def test_default_create_part_store_is_a_string_part_source():
    store = MailMessage().createPartStore(b"abc", "text/plain", "f.txt")
    assert type(store) is StringPartSource
    assert store.filename() == "f.txt"
    # str works too; the stub names the bytes that Poco passes to an override.
    store = FilePartStoreFactory().createPartStore("abc", "text/plain")  # type: ignore[arg-type]
    assert type(store) is FilePartStore


def test_repr_of_sources_and_parts():
    msg = MailMessage()
    msg.addAttachment("n.txt", StringPartSource("x", "text/plain", "n.txt"))
    assert repr(msg.parts()[0].pSource) == "<StringPartSource text/plain 'n.txt'>"
    assert repr(msg.parts()[0]).startswith("<MailMessage.Part 'n.txt' <StringPartSource")
    assert DATE.tzinfo is not None


# ------------------------------------------------------------ headers() views and lifetimes


def test_headers_object_taken_before_adding_keeps_the_message_alive():
    src = StringPartSource("x")
    headers = src.headers()
    headers.set("Content-ID", "<x@example>")
    msg = MailMessage()
    msg.addContent(src, MailMessage.ENCODING_7BIT)
    headers.add("X-After", "1")  # still the part's own header fields
    (part,) = part_bodies(written(msg))
    assert part.startswith(b"Content-ID: <x@example>\r\nX-After: 1\r\n")

    ref = weakref.ref(msg)
    del msg
    gc.collect()
    assert ref() is not None
    del headers
    gc.collect()
    assert ref() is None


def test_a_multipart_source_refuses_a_source_with_a_headers_object_in_use():
    src = StringPartSource("x")
    headers = src.headers()
    related = MultipartSource("multipart/related")
    with pytest.raises(ValueError, match=r"headers\(\) object in use"):
        related.addPart("", src, MailMessage.CONTENT_INLINE, MailMessage.ENCODING_7BIT)
    del headers
    gc.collect()
    related.addPart("", src, MailMessage.CONTENT_INLINE, MailMessage.ENCODING_7BIT)


def test_headers_of_a_viewed_part_keep_the_message_alive():
    msg = MailMessage()
    msg.addAttachment("a", StringPartSource("abc", "text/plain", "a.txt"))
    headers = msg.parts()[0].pSource.headers()
    del msg
    gc.collect()
    headers.set("X-Late", "1")
    assert headers["X-Late"] == "1"


def test_headers_of_a_python_source_keep_its_message_alive():
    src = BytesSource(b"data")
    ref = weakref.ref(src)
    msg = MailMessage()
    msg.addAttachment("a", src)
    headers = src.headers()
    del src, msg
    gc.collect()
    assert ref() is not None  # the message, kept by `headers`, still owns the source
    headers.set("X-Late", "1")
    del headers
    gc.collect()
    assert ref() is None


def test_headers_of_a_python_source_nested_in_a_multipart_source():
    src = BytesSource(b"data")
    ref = weakref.ref(src)
    related = MultipartSource("multipart/related")
    related.addPart("", src, MailMessage.CONTENT_INLINE, MailMessage.ENCODING_7BIT)
    early = src.headers()  # while the MultipartSource is still Python's
    msg = MailMessage()
    del early
    gc.collect()
    msg.addContent(related)
    late = src.headers()  # now the message owns everything
    del src, related, msg
    gc.collect()
    assert ref() is not None
    late.set("X-Late", "1")
    del late
    gc.collect()
    assert ref() is None


def test_headers_of_python_sources_made_while_reading_keep_the_message_alive():
    refs = []

    class Memory(PartStoreFactory):
        def createPartStore(self, content, mediaType, filename=""):  # noqa: N802, N803  (Poco's names)
            src = BytesSource(content)
            refs.append(weakref.ref(src))
            return src

    msg = MailMessage(Memory())
    msg.read(MULTIPART)
    headers = msg.parts()[1].pSource.headers()
    assert headers["Content-Type"] == "application/octet-stream; name=blob.bin"
    del msg
    gc.collect()
    assert all(r() is not None for r in refs)
    del headers
    gc.collect()
    assert all(r() is None for r in refs)
