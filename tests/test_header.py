"""NameValueCollection and MessageHeader: Poco's API plus the mapping protocol."""

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pocosmtp
from pocosmtp import MessageHeader, NameValueCollection


def test_set_add_get_keep_poco_order_and_ignore_case():
    nvc = NameValueCollection()
    nvc.set("Received", "one")
    nvc.add("X-Tag", "a")
    nvc.add("received", "two")

    assert list(nvc) == [("Received", "one"), ("received", "two"), ("X-Tag", "a")]
    assert nvc.get("RECEIVED") == "one"
    assert nvc.get("missing", "fallback") == "fallback"
    assert nvc.has("x-tag") and not nvc.has("x-other")
    assert nvc.size() == 3 and not nvc.empty()

    nvc.set("received", "replaced")
    assert next(iter(nvc)) == ("Received", "replaced")
    nvc.erase("RECEIVED")
    assert list(nvc) == [("X-Tag", "a")]
    nvc.clear()
    assert nvc.empty() and len(nvc) == 0


def test_get_of_a_missing_name_raises_poco_not_found_which_is_a_key_error():
    with pytest.raises(KeyError) as info:
        NameValueCollection().get("Subject")
    assert isinstance(info.value, pocosmtp.NotFoundException)


def test_mapping_protocol():
    nvc = NameValueCollection()
    nvc["Subject"] = "hello"
    nvc["subject"] = "again"  # set(), not add()
    assert nvc["SUBJECT"] == "again"
    assert len(nvc) == 1
    assert "subject" in nvc and "From" not in nvc
    assert bool(nvc) and not bool(NameValueCollection())
    with pytest.raises(KeyError):
        nvc["From"]
    with pytest.raises(KeyError):
        del nvc["From"]
    del nvc["Subject"]
    assert "Subject" not in nvc


def test_iteration_is_a_snapshot_so_mutation_during_it_is_safe():
    nvc = NameValueCollection()
    for i in range(5):
        nvc.add(f"H{i}", str(i))
    seen = []
    for name, value in nvc:
        nvc.erase(name)
        seen.append((name, value))
    assert seen == [(f"H{i}", str(i)) for i in range(5)]
    assert nvc.empty()


def test_repr_shows_pairs_and_class():
    header = MessageHeader()
    header.add("A", "1")
    header.add("A", "2")
    assert repr(header) == "MessageHeader([('A', '1'), ('A', '2')])"
    assert repr(NameValueCollection()) == "NameValueCollection([])"


def test_copy_constructor_is_independent():
    header = MessageHeader()
    header["X"] = "1"
    copy = MessageHeader(header)
    copy["X"] = "2"
    assert header["X"] == "1" and copy["X"] == "2"


def test_write_produces_crlf_lines_in_order():
    header = MessageHeader()
    header.set("From", "a@example.org")
    header.add("X-Mixed", "v1")
    header.set("Subject", "hi")
    out = io.BytesIO()
    header.write(out)
    assert out.getvalue() == b"From: a@example.org\r\nX-Mixed: v1\r\nSubject: hi\r\n"


def test_read_unfolds_and_stops_at_the_empty_line():
    stream = io.BytesIO(b"Subject: a long\r\n folded line\r\nX-Two: 2\r\n\r\nNot: header\r\n")
    header = MessageHeader()
    header.read(stream)
    assert list(header) == [("Subject", "a long folded line"), ("X-Two", "2")]


def test_read_accepts_bytes():
    header = MessageHeader()
    header.read(b"A: 1\nB: 2\n")
    assert list(header) == [("A", "1"), ("B", "2")]


def test_field_limit_is_enforced_when_reading():
    header = MessageHeader()
    assert header.getFieldLimit() == 100
    header.setFieldLimit(2)
    assert header.getFieldLimit() == 2
    with pytest.raises(pocosmtp.MessageException):
        header.read(b"A: 1\r\nB: 2\r\nC: 3\r\n\r\n")


def test_length_limits_round_trip():
    header = MessageHeader()
    header.setNameLengthLimit(10)
    header.setValueLengthLimit(20)
    assert (header.getNameLengthLimit(), header.getValueLengthLimit()) == (10, 20)
    with pytest.raises(pocosmtp.MessageException):
        header.read(b"A-Much-Too-Long-Name: 1\r\n\r\n")


def test_write_to_a_sink_that_raises_propagates_the_python_error():
    class Broken(io.RawIOBase):
        def writable(self):
            return True

        def write(self, data):
            raise OSError("disk full")

    header = MessageHeader()
    header["A"] = "1"
    with pytest.raises(OSError, match="disk full"):
        header.write(Broken())


def test_read_from_a_text_stream_raises_type_error():
    with pytest.raises(TypeError, match="binary"):
        MessageHeader().read(io.StringIO("A: 1\r\n\r\n"))  # type: ignore[arg-type]


def test_has_token():
    header = MessageHeader()
    header["Connection"] = "keep-alive, Upgrade"
    assert header.hasToken("connection", "upgrade")
    assert not header.hasToken("Connection", "close")


def test_split_elements_and_parameters():
    assert MessageHeader.splitElements('text/plain; q=0.5, "a,b", , x') == [
        "text/plain; q=0.5",
        '"a,b"',
        "x",
    ]
    assert MessageHeader.splitElements("a,,b", False) == ["a", "", "b"]
    value, params = MessageHeader.splitParameters('multipart/mixed; boundary="MIME b"; x=1')
    assert value == "multipart/mixed"
    assert list(params) == [("boundary", "MIME b"), ("x", "1")]


def test_quote():
    assert MessageHeader.quote("plain.name_1-2") == "plain.name_1-2"
    assert MessageHeader.quote("two words") == '"two words"'
    assert MessageHeader.quote("two words", True) == "two words"


def test_decode_word_and_rfc2047():
    assert MessageHeader.decodeWord("=?UTF-8?Q?Gr=C3=BC=C3=9Fe?=") == "Grüße"
    assert MessageHeader.decodeRFC2047("ISO-8859-1?Q?=C4_x", "ISO-8859-1") == b"\xc4 x"


def test_decoded_header_values():
    header = MessageHeader()
    header["Subject"] = "=?UTF-8?B?w6TDtsO8?="
    assert header.getDecoded("Subject") == "äöü"
    assert header.getDecoded("Missing", "none") == "none"
    header.setAutoDecode(True)
    assert header.getAutoDecode()


def test_bytes_values_reach_poco_unchanged():
    header = MessageHeader()
    header.set(b"X-Raw", b"caf\xc3\xa9")  # type: ignore[arg-type]  # octets
    assert header["X-Raw"] == "café"
    out = io.BytesIO()
    header.write(out)
    assert out.getvalue() == b"X-Raw: caf\xc3\xa9\r\n"


token = st.text(
    st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters=":"),
    min_size=1,
    max_size=30,
)
value = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters="\x85"),
    max_size=120,
).map(str.strip)


@settings(max_examples=60, deadline=None)
@given(fields=st.lists(st.tuples(token, value), max_size=20))
def test_write_then_read_gives_the_same_fields(fields):
    header = MessageHeader()
    for name, v in fields:
        header.add(name, v)
    out = io.BytesIO()
    header.write(out)
    again = MessageHeader()
    again.read(out.getvalue() + b"\r\n")
    assert list(again) == list(header)
