"""Lookup attributes: AWS CLI shorthand and JSON, and the LookupEvents rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trailsweep.attributes import (
    ATTRIBUTE_KEYS,
    LookupAttribute,
    attribute_length,
    attribute_problem,
    parse_lookup_attributes,
    validate_attributes,
)
from trailsweep.errors import InputError


@pytest.mark.parametrize(
    ("item", "want"),
    [
        ("AttributeKey=Username,AttributeValue=root", ("Username", "root")),
        ("AttributeValue=root,AttributeKey=Username", ("Username", "root")),
        ('AttributeKey=ResourceName,AttributeValue="a,b"', ("ResourceName", "a,b")),
        ("AttributeKey=ResourceName,AttributeValue='x y'", ("ResourceName", "x y")),
        ('[{"AttributeKey":"EventName","AttributeValue":"ConsoleLogin"}]',
         ("EventName", "ConsoleLogin")),
        ('{"AttributeKey":"ReadOnly","AttributeValue":"true"}', ("ReadOnly", "true")),
    ],
)  # fmt: skip
def test_shorthand_and_json_forms(item: str, want: tuple[str, str]) -> None:
    """Both forms the AWS CLI takes give the same attribute."""
    assert parse_lookup_attributes([item]) == [LookupAttribute(*want)]


@pytest.mark.parametrize(
    "item",
    [
        "Key=Username,Value=root",
        "AttributeKey=Username",
        '[{"AttributeKey": "Username"',
        '[{"AttributeKey": "Username", "AttributeValue": 3}]',
        '[{"AttributeKey": "Username", "AttributeValue": "a", "Extra": 1}]',
        "[1]",
    ],
)
def test_malformed_items_are_input_errors(item: str) -> None:
    """Unknown fields, missing halves, bad JSON: one clear InputError."""
    with pytest.raises(InputError) as info:
        parse_lookup_attributes([item])
    assert str(info.value).startswith("--lookup-attributes: ")


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=60))
def test_length_counts_the_four_characters_double(value: str) -> None:
    """`_`, space, comma and newline count 2; everything else 1."""
    assert attribute_length(value) == sum(2 if c in "_ ,\n" else 1 for c in value)


@given(st.text(alphabet="abcXYZ019-.:/@", min_size=1, max_size=40))
def test_shorthand_round_trip(value: str) -> None:
    """A plain value survives shorthand parsing unchanged."""
    got = parse_lookup_attributes([f"AttributeKey=Username,AttributeValue={value}"])
    assert got == [LookupAttribute("Username", value)]


def test_rules() -> None:
    """Each LookupEvents rule, with a message that says how to fix it."""
    ok = LookupAttribute("Username", "alice")
    assert all(attribute_problem(LookupAttribute(k, "true")) is None for k in ATTRIBUTE_KEYS)
    assert "did you mean 'Username'" in (attribute_problem(LookupAttribute("username", "x")) or "")
    assert "valid keys" in (attribute_problem(LookupAttribute("Nope", "x")) or "")
    assert "empty" in (attribute_problem(LookupAttribute("Username", "")) or "")
    assert attribute_problem(LookupAttribute("Username", "_" * 1000)) is None
    assert "2002" in (attribute_problem(LookupAttribute("Username", "_" * 1001)) or "")
    assert "true or false" in (attribute_problem(LookupAttribute("ReadOnly", "True")) or "")
    assert "Insights" in (attribute_problem(ok, insight=True) or "")
    assert attribute_problem(LookupAttribute("EventName", "x"), insight=True) is None
    with pytest.raises(InputError, match="one lookup attribute per call"):
        validate_attributes([ok, LookupAttribute("EventName", "x")])
    validate_attributes([ok, LookupAttribute("EventName", "x")], max_items=None)
