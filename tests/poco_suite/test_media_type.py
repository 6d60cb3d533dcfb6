"""Poco's MediaTypeTest (Net/testsuite/src/MediaTypeTest.cpp), through pocosmtp.

MediaType is bound directly; each Poco test case is one test here.
"""

from __future__ import annotations

from pocosmtp import MediaType


def test_parse() -> None:
    mt1 = MediaType("text/plain")
    assert (mt1.getType(), mt1.getSubType()) == ("text", "plain")
    assert mt1.parameters().empty()

    mt2 = MediaType("text/xml;charset=us-ascii")
    assert (mt2.getType(), mt2.getSubType()) == ("text", "xml")
    assert mt2.parameters().size() == 1
    assert mt2.getParameter("charset") == "us-ascii"

    mt3 = MediaType('application/test; param1=value1; param2="value 2"')
    assert (mt3.getType(), mt3.getSubType()) == ("application", "test")
    assert mt3.parameters().size() == 2
    assert mt3.getParameter("param1") == "value1"
    assert mt3.getParameter("PARAM2") == "value 2"

    mt4 = MediaType('multipart/mixed; boundary="MIME_boundary_01234567"')
    assert (mt4.getType(), mt4.getSubType()) == ("multipart", "mixed")
    assert mt4.parameters().size() == 1
    assert mt4.getParameter("boundary") == "MIME_boundary_01234567"


def test_to_string() -> None:
    mt1 = MediaType("text", "plain")
    assert mt1.toString() == "text/plain"
    mt1.setParameter("charset", "iso-8859-1")
    assert mt1.toString() == "text/plain; charset=iso-8859-1"

    # A value with a space is quoted.
    mt2 = MediaType("application", "test")
    mt2.setParameter("param1", "value1")
    mt2.setParameter("param2", "value 2")
    assert mt2.toString() == 'application/test; param1=value1; param2="value 2"'


def test_match() -> None:
    mt1 = MediaType("Text/Plain")
    mt2 = MediaType("text/plain")
    mt3 = MediaType("text/xml")
    assert mt1.matches(mt2)
    assert not mt1.matches(mt3)
    assert mt1.matches("text")
    assert mt2.matches("text")
    assert mt3.matches("text")


def test_match_range() -> None:
    mt1 = MediaType("Text/Plain")
    mt2 = MediaType("text/plain")
    mt3 = MediaType("text/xml")
    mt4 = MediaType("image/jpg")
    mt5 = MediaType("text/*")
    mt6 = MediaType("*/*")

    assert [mt.matchesRange(mt5) for mt in (mt1, mt2, mt3, mt4)] == [True, True, True, False]
    assert [mt.matchesRange(mt6) for mt in (mt1, mt2, mt3, mt4)] == [True, True, True, True]
    # The wildcard works from either side.
    assert [mt5.matchesRange(mt) for mt in (mt1, mt2, mt3, mt4)] == [True, True, True, False]
    assert [mt.matchesRange("text", "*") for mt in (mt1, mt2, mt3, mt4)] == [
        True,
        True,
        True,
        False,
    ]
    assert mt1.matchesRange("*")
    assert mt4.matchesRange("*")
