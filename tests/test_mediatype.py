"""MediaType: parsing, parameters, matching."""

import pytest

import pocosmtp
from pocosmtp import MediaType


def test_parse_type_subtype_and_parameters() -> None:
    mt = MediaType('multipart/mixed; boundary="b 1"; charset=utf-8')
    assert mt.getType() == "multipart"
    assert mt.getSubType() == "mixed"
    assert mt.getParameter("BOUNDARY") == "b 1"
    assert list(mt.parameters()) == [("boundary", "b 1"), ("charset", "utf-8")]
    assert mt.toString() == 'multipart/mixed; boundary="b 1"; charset=utf-8'


def test_build_from_type_and_subtype() -> None:
    mt = MediaType("image", "png")
    mt.setParameter("name", "pic.png")
    assert str(mt) == "image/png; name=pic.png"
    mt.setType("text")
    mt.setSubType("plain")
    mt.removeParameter("name")
    assert not mt.hasParameter("name")
    assert mt.toString() == "text/plain"


def test_missing_parameter_raises_not_found() -> None:
    with pytest.raises(KeyError) as info:
        MediaType("text/plain").getParameter("charset")
    assert isinstance(info.value, pocosmtp.NotFoundException)


def test_parameters_returns_a_copy() -> None:
    mt = MediaType("text/plain; a=1")
    params = mt.parameters()
    params["a"] = "2"
    assert mt.getParameter("a") == "1"


def test_matches_every_overload() -> None:
    mt = MediaType("Text/HTML")
    assert mt.matches(MediaType("text/html"))
    assert mt.matches("text", "html")
    assert mt.matches("TEXT")
    assert not mt.matches("text", "plain")
    assert not mt.matches(MediaType("image/png"))


def test_matches_range_every_overload() -> None:
    assert MediaType("image/*").matchesRange(MediaType("image/png"))
    assert MediaType("*/*").matchesRange("audio", "ogg")
    assert MediaType("*/*").matchesRange("audio")
    assert MediaType("image/png").matchesRange("image", "*")
    assert not MediaType("image/*").matchesRange("text", "plain")


def test_equality_and_repr() -> None:
    assert MediaType("text/plain; charset=utf-8") == MediaType("text/plain;charset=utf-8")
    assert MediaType("text/plain") != MediaType("text/html")
    assert repr(MediaType("text/plain")) == "MediaType('text/plain')"
    copy = MediaType(MediaType("a/b; x=1"))
    assert copy.toString() == "a/b; x=1"


def test_setting_a_message_content_type_from_a_media_type() -> None:
    msg = pocosmtp.MailMessage()
    msg.setContentType(MediaType("text", "html"))
    assert msg.getContentType() == "text/html"
    msg.setContentType("multipart/alternative")
    assert msg.isMultipart()
