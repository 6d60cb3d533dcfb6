"""Poco's NameValueCollectionTest (Net/testsuite/src/NameValueCollectionTest.cpp).

NameValueCollection is bound directly. Poco walks the collection with
find() and iterators; pocosmtp has no iterator objects, so the same order is
checked on the (name, value) pairs that iteration yields.
"""

from __future__ import annotations

import pytest

import pocosmtp
from pocosmtp import NameValueCollection


def test_name_value_collection() -> None:
    nvc = NameValueCollection()
    assert nvc.empty()
    assert nvc.size() == 0

    nvc.set("name", "value")
    assert not nvc.empty()
    assert nvc["name"] == "value"
    assert nvc["Name"] == "value"

    nvc.set("name2", "value2")
    assert nvc.get("name2") == "value2"
    assert nvc.get("NAME2") == "value2"
    assert nvc.size() == 2

    with pytest.raises(pocosmtp.NotFoundException):
        nvc.get("name3")

    assert nvc.get("name", "default") == "value"
    assert nvc.get("name3", "default") == "default"
    assert nvc.has("name")
    assert nvc.has("name2")
    assert not nvc.has("name3")

    nvc.add("name3", "value3")
    assert nvc.get("name3") == "value3"

    # A second pair with the same name sits right after the first; the
    # pair's name is kept as it was added, whatever case it is looked up by.
    nvc.add("name3", "value31")
    pairs = list(nvc)
    first = [name.lower() for name, _ in pairs].index("name3")
    (name_a, value_a), (name_b, value_b) = pairs[first : first + 2]
    assert (name_a, name_b) == ("name3", "name3")
    assert {value_a, value_b} == {"value3", "value31"}

    nvc.erase("name3")
    assert not nvc.has("name3")
    assert [name for name, _ in nvc] == ["name", "name2"]

    nvc.clear()
    assert nvc.empty()
    assert nvc.size() == 0


def test_name_value_collection_subscript_of_a_missing_name() -> None:
    nvc = NameValueCollection()
    nvc.set("name", "value")
    with pytest.raises(pocosmtp.NotFoundException):
        nvc["name3"]
