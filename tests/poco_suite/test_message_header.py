"""Poco's MessageHeaderTest (Net/testsuite/src/MessageHeaderTest.cpp), through pocosmtp.

MessageHeader is bound directly, so these are straight ports: testRead1
becomes test_read_1, testReadFolding1 test_read_folding_1, and so on. Poco's
splitElements and splitParameters fill out-parameters; pocosmtp returns the
list, and the (value, parameters) pair.
"""

from __future__ import annotations

import io
from typing import Any

import pytest

import pocosmtp
from pocosmtp import MessageHeader

THREE_FIELDS = b"name1: value1\r\nname2: value2\r\nname3: value3\r\n"


def read(data: bytes) -> MessageHeader:
    header = MessageHeader()
    header.read(io.BytesIO(data))
    return header


def test_write() -> None:
    header = MessageHeader()
    header.set("name1", "value1")
    header.set("name2", "value2")
    header.set("name3", "value3")
    out = io.BytesIO()
    header.write(out)
    assert out.getvalue() == THREE_FIELDS


def test_read_1() -> None:
    header = read(THREE_FIELDS)
    assert header.size() == 3
    assert (header["name1"], header["name2"], header["name3"]) == ("value1", "value2", "value3")


def test_read_2() -> None:
    header = read(b"name1: value1\nname2: value2\nname3: value3\n")
    assert header.size() == 3
    assert (header["name1"], header["name2"], header["name3"]) == ("value1", "value2", "value3")


def test_read_3() -> None:
    header = read(b"name1: value1\r\n")
    assert header.size() == 1
    assert header["name1"] == "value1"


def test_read_4() -> None:
    header = read(b"name1: value1\r\nname2: value2\r\n\r\nsomedata")
    assert header.size() == 2
    assert (header["name1"], header["name2"]) == ("value1", "value2")


def test_read_4_leaves_the_rest_of_the_stream() -> None:
    stream = io.BytesIO(b"name1: value1\r\nname2: value2\r\n\r\nsomedata")
    MessageHeader().read(stream)
    assert stream.read() == b"\r\nsomedata"


def test_read_5() -> None:
    # An empty value, and trailing white space dropped.
    header = read(b"name1:\r\nname2: value2\r\nname3: value3  \r\n")
    assert header.size() == 3
    assert (header["name1"], header["name2"], header["name3"]) == ("", "value2", "value3")


def test_read_folding_1() -> None:
    header = read(b"name1: value1\r\nname2: value21\r\n value22\r\nname3: value3\r\n")
    assert header.size() == 3
    assert header["name1"] == "value1"
    assert header["name2"] == "value21 value22"
    assert header["name3"] == "value3"


def test_read_folding_2() -> None:
    # LF line ends, and a tab kept as the folding white space.
    header = read(b"name1: value1\nname2: value21\n\tvalue22\nname3: value3\n")
    assert header.size() == 3
    assert header["name1"] == "value1"
    assert header["name2"] == "value21\tvalue22"
    assert header["name3"] == "value3"


def test_read_folding_3() -> None:
    header = read(b"name1: value1\r\nname2: value21\r\n value22\r\n")
    assert header.size() == 2
    assert header["name1"] == "value1"
    assert header["name2"] == "value21 value22"


def test_read_folding_4() -> None:
    # The stream ends inside a folded field.
    header = read(b"name1: value1\r\nname2: value21\r\n value22\r\n value23")
    assert header.size() == 2
    assert header["name1"] == "value1"
    assert header["name2"] == "value21 value22 value23"


def test_read_folding_5() -> None:
    header = read(b"name1: value1\r\nname2: value21\r\n value22\r\n value23\r\nname3: value3")
    assert header.size() == 3
    assert header["name1"] == "value1"
    assert header["name2"] == "value21 value22 value23"
    assert header["name3"] == "value3"


def test_read_invalid_1() -> None:
    # 300 characters without a colon: a field name that never ends.
    with pytest.raises(pocosmtp.MessageException):
        read(b"name1: value1\r\nname2: value21\r\n value22\r\n value23\r\n" + b"x" * 300)


def test_read_invalid_2() -> None:
    # A value of 9000 characters without a line end.
    with pytest.raises(pocosmtp.MessageException):
        read(b"name1: value1\r\nname2: " + b"x" * 9000)


def test_split_elements() -> None:
    split = MessageHeader.splitElements
    assert split("") == []
    assert split("foo") == ["foo"]
    assert split("  foo ") == ["foo"]
    assert split("foo,bar") == ["foo", "bar"]
    assert split("foo,,bar") == ["foo", "bar"]
    assert split("foo,,bar", False) == ["foo", "", "bar"]
    assert split('foo;param="a,b",bar;param="c,d"') == ['foo;param="a,b"', 'bar;param="c,d"']
    assert split('foo; param="a,b",  bar; param="c,d"') == [
        'foo; param="a,b"',
        'bar; param="c,d"',
    ]
    assert split("foo, bar, f00, baz") == ["foo", "bar", "f00", "baz"]
    assert split("a,b,c") == ["a", "b", "c"]
    # Backslash escapes inside and outside quotes: each \x keeps only x.
    assert split(r'a="value=\\\"foo, bar\\\"",b=foo') == [r'a="value=\"foo, bar\""', "b=foo"]
    assert split(r"a=\",b=\"") == ['a="', 'b="']


def test_split_parameters() -> None:
    def split(s: str) -> tuple[str, list[tuple[str, str]]]:
        value, parameters = MessageHeader.splitParameters(s)
        return value, list(parameters)

    assert split("") == ("", [])
    assert split("multipart/related") == ("multipart/related", [])
    assert split("multipart/related; boundary=MIME_boundary_01234567") == (
        "multipart/related",
        [("boundary", "MIME_boundary_01234567")],
    )
    assert split('multipart/related; boundary="MIME_boundary_76543210"') == (
        "multipart/related",
        [("boundary", "MIME_boundary_76543210")],
    )
    assert split("text/plain; charset=us-ascii") == ("text/plain", [("charset", "us-ascii")])
    assert split("value; p1=foo; p2=bar") == ("value", [("p1", "foo"), ("p2", "bar")])
    assert split('value; p1="foo; bar"') == ("value", [("p1", "foo; bar")])
    assert split("value ; p1=foo ; p2=bar ") == ("value", [("p1", "foo"), ("p2", "bar")])


def test_field_limit() -> None:
    header = MessageHeader()
    header.setFieldLimit(2)
    with pytest.raises(pocosmtp.MessageException):
        header.read(io.BytesIO(THREE_FIELDS))


def test_name_length_limit() -> None:
    header = MessageHeader()
    header.setNameLengthLimit(2)
    with pytest.raises(pocosmtp.MessageException):
        header.read(io.BytesIO(b"name1: value1\r\n"))


def test_value_length_limit() -> None:
    header = MessageHeader()
    header.setValueLengthLimit(2)
    with pytest.raises(pocosmtp.MessageException):
        header.read(io.BytesIO(b"name1: value1\r\n"))


def test_decode_word() -> None:
    decode = MessageHeader.decodeWord
    assert decode("this is pure ASCII", "ISO-8859-1") == "this is pure ASCII"
    # White space between two encoded words goes; other text stays.
    assert decode("(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", "ISO-8859-1") == "(ab)"
    assert decode("(=?ISO-8859-1?Q?a?= <0> =?ISO-8859-1?Q?b?=)", "ISO-8859-1") == "(a <0> b)"
    assert decode("Hello =?UTF-8?B?RnJhbmNpcw==?=, good bye", "ISO-8859-1") == (
        "Hello Francis, good bye"
    )
    assert (
        decode(
            'application/pdf; name="=?utf-8?Q?RUG_Regler-_und_Ger=C3=A4tebau_Gm?= '
            '=?utf-8?Q?bH_Angebot_Erneuerung_=C3=9CE.pdf?="',
            "UTF-8",
        )
        == 'application/pdf; name="RUG Regler- und Gerätebau GmbH Angebot Erneuerung ÜE.pdf"'
    )


# An HTTP request head, as in Poco's test: the request line has no colon and
# is skipped; the two X- fields hold encoded words.
HTTP_REQUEST_HEADER = (
    b"GET / HTTP/2\n"
    b"Host: stackoverflow.com\n"
    b"User-Agent: Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:109.0) Gecko/20100101 "
    b"Firefox/119.0\n"
    b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    b"*/*;q=0.8\n"
    b"Accept-Language: en-GB,en;q=0.5\n"
    b"Accept-Encoding: gzip, deflate, br\n"
    b"Connection: keep-alive\n"
    b"Upgrade-Insecure-Requests: 1\n"
    b"X-Encoded-Header-A: (=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)\n"
    b"X-Encoded-Header-B: Hello =?UTF-8?B?RnJhbmNpcw==?=, good bye\n"
    b"\n"
)


def test_auto_decode() -> None:
    # On by default: the values are decoded while reading.
    header = MessageHeader()
    header.read(io.BytesIO(HTTP_REQUEST_HEADER))
    assert header.get("X-Encoded-Header-A") == "(ab)"
    assert header.get("X-Encoded-Header-B") == "Hello Francis, good bye"
    assert header.getDecoded("X-Encoded-Header-A") == "(ab)"
    assert header.getDecoded("X-Encoded-Header-B") == "Hello Francis, good bye"

    # Off: the values are kept as read; getDecoded() still decodes.
    header = MessageHeader()
    header.setAutoDecode(False)
    header.read(io.BytesIO(HTTP_REQUEST_HEADER))
    assert header.get("X-Encoded-Header-A") == "(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)"
    assert header.get("X-Encoded-Header-B") == "Hello =?UTF-8?B?RnJhbmNpcw==?=, good bye"
    assert header.getDecoded("X-Encoded-Header-A") == "(ab)"
    assert header.getDecoded("X-Encoded-Header-B") == "Hello Francis, good bye"


def test_read_leaves_an_unseekable_stream_where_its_last_chunk_ended() -> None:
    # Without seek() the read-ahead cannot be given back: what follows the
    # header in the same 64 KiB chunk is consumed (say so, and pin it).
    class Unseekable(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self.inner = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            return self.inner.readinto(buffer)

    stream = Unseekable(b"name1: value1\r\n\r\nbody")
    MessageHeader().read(stream)
    assert stream.inner.read() == b""
