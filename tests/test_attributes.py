"""Lookup attributes: AWS CLI shorthand and JSON, and the LookupEvents rules."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trailsweep.base.errors import InputError
from trailsweep.settings.attributes import (
    ATTRIBUTE_KEYS,
    INSIGHT_KEYS,
    LookupAttribute,
    attribute_length,
    attribute_problem,
    parse_lookup_attributes,
    validate_attributes,
)

PREFIX = "--lookup-attributes: "
OK = LookupAttribute("Username", "alice")
# Values the shorthand carries unquoted: no commas or quotes, no space at either end.
plain_values = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters=",'\"\\"), min_size=1, max_size=40
).filter(lambda v: v == v.strip())


def test_the_keys_are_the_contracts() -> None:
    """Eight case-sensitive keys; Insights events take three of them."""
    assert set(ATTRIBUTE_KEYS) == {
        "EventId", "EventName", "ReadOnly", "Username",
        "ResourceType", "ResourceName", "EventSource", "AccessKeyId",
    }  # fmt: skip
    assert INSIGHT_KEYS == ("EventId", "EventName", "EventSource")


@pytest.mark.parametrize(
    ("item", "want"),
    [
        ("AttributeKey=Username,AttributeValue=root", ("Username", "root")),
        ("AttributeValue=root,AttributeKey=Username", ("Username", "root")),
        ("  AttributeKey = Username , AttributeValue = root  ", ("Username", "root")),
        ('AttributeKey=ResourceName,AttributeValue="a,b"', ("ResourceName", "a,b")),
        ("AttributeKey=ResourceName,AttributeValue='x y'", ("ResourceName", "x y")),
        ("AttributeKey=ResourceName,AttributeValue='say \"hi\"'", ("ResourceName", 'say "hi"')),
        ("AttributeKey=ResourceName,AttributeValue=a\\,b", ("ResourceName", "a,b")),
        ("AttributeKey=ResourceName,AttributeValue=my bucket", ("ResourceName", "my bucket")),
        ("AttributeKey=EventName,AttributeValue=a=b", ("EventName", "a=b")),
        ("AttributeKey=Username,AttributeValue=", ("Username", "")),
        ('[{"AttributeKey":"EventName","AttributeValue":"ConsoleLogin"}]',
         ("EventName", "ConsoleLogin")),
        ('{"AttributeKey":"ReadOnly","AttributeValue":"true"}', ("ReadOnly", "true")),
    ],
)  # fmt: skip
def test_shorthand_and_json_forms(item: str, want: tuple[str, str]) -> None:
    """Both forms the AWS CLI takes give the same attribute."""
    assert parse_lookup_attributes([item]) == [LookupAttribute(*want)]


def test_items_are_parsed_in_order_and_not_validated() -> None:
    """Several items (and JSON lists) give every attribute, in order, rules unchecked."""
    items = [
        "AttributeKey=Username,AttributeValue=root",
        '[{"AttributeKey":"nope","AttributeValue":""},'
        ' {"AttributeKey":"ReadOnly","AttributeValue":"maybe"}]',
    ]
    assert parse_lookup_attributes(items) == [
        LookupAttribute("Username", "root"),
        LookupAttribute("nope", ""),
        LookupAttribute("ReadOnly", "maybe"),
    ]
    assert parse_lookup_attributes(["[]"]) == []


@pytest.mark.parametrize(
    ("item", "fragment"),
    [
        ("Key=Username,Value=root", "the fields are AttributeKey and AttributeValue"),
        ("AttributeKey=Username", "AttributeValue is missing"),
        ("Username", "write AttributeKey=Username,AttributeValue=root"),
        ("", "cannot read ''"),
        ("AttributeKey=Username,AttributeValue=a,b", 'quote a value that holds commas'),
        ("AttributeKey=A,AttributeKey=B,AttributeValue=x", "AttributeKey given twice"),
        ("AttributeKey=Username,AttributeValue=root AttributeKey=EventName,AttributeValue=x",
         "give each attribute as its own item"),
        ('AttributeKey=Username,AttributeValue="root', "unclosed \" quote"),
        ('AttributeKey=Username,AttributeValue="ro"ot', "text after a closing quote"),
        ('[{"AttributeKey": "Username"', "is not valid JSON; write [{"),
        ('{"AttributeKey": "Username"}', "AttributeValue is missing"),
        ('[{"AttributeKey": "Username", "AttributeValue": 3}]', "must be a string, not int"),
        ('[{"AttributeKey": "Username", "AttributeValue": "a", "Extra": 1}]',
         "unknown field 'Extra'"),
        ("[1]", "expected an object"),
        ('[["AttributeKey", "Username"]]', "expected an object"),
    ],
)  # fmt: skip
def test_malformed_items_are_input_errors(item: str, fragment: str) -> None:
    """Unknown or repeated fields, missing halves, bad quotes, bad JSON: one clear line."""
    with pytest.raises(InputError) as info:
        parse_lookup_attributes([item])
    message = str(info.value)
    assert message.startswith(PREFIX) and fragment in message and "\n" not in message


def _outcome(item: str) -> list[LookupAttribute] | str:
    """The attributes an item parses to, or the message of the InputError it raises."""
    try:
        return parse_lookup_attributes([item])
    except InputError as error:
        return str(error)


@given(st.text(max_size=80))
def test_any_text_parses_or_is_a_one_line_input_error(item: str) -> None:
    """No item gives a traceback, and every error is one prefixed line."""
    got = _outcome(item)
    if isinstance(got, str):
        assert got.startswith(PREFIX) and "\n" not in got
    else:
        assert all(isinstance(a.key, str) and isinstance(a.value, str) for a in got)


@given(st.sampled_from(ATTRIBUTE_KEYS), plain_values)
def test_shorthand_round_trip(key: str, value: str) -> None:
    """A plain value survives shorthand parsing unchanged, in either field order."""
    want = [LookupAttribute(key, value)]
    assert parse_lookup_attributes([f"AttributeKey={key},AttributeValue={value}"]) == want
    assert parse_lookup_attributes([f"AttributeValue={value},AttributeKey={key}"]) == want


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_characters='"'), max_size=40))
def test_double_quoted_shorthand_keeps_commas_and_spaces(value: str) -> None:
    """Inside double quotes a value keeps its commas, quotes and edge spaces exactly."""
    got = parse_lookup_attributes([f'AttributeKey=ResourceName,AttributeValue="{value}"'])
    assert got == [LookupAttribute("ResourceName", value)]


@given(st.text(max_size=10), st.text(max_size=40))
def test_json_round_trip(key: str, value: str) -> None:
    """to_api written as JSON, alone or in a list, parses back to the same attribute."""
    attr = LookupAttribute(key, value)
    assert LookupAttribute.from_api(attr.to_api()) == attr
    one = orjson.dumps(attr.to_api()).decode()
    assert parse_lookup_attributes([one, f"[{one}]"]) == [attr, attr]


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=60))
def test_length_counts_the_four_characters_double(value: str) -> None:
    """`_`, space, comma and newline count 2; everything else 1."""
    assert attribute_length(value) == sum(2 if c in "_ ,\n" else 1 for c in value)


@pytest.mark.parametrize("key", ATTRIBUTE_KEYS)
def test_every_key_with_a_fitting_value_is_fine(key: str) -> None:
    """Each of the eight keys passes with a valid value, Insights keys also under insight."""
    assert attribute_problem(LookupAttribute(key, "true")) is None
    if key in INSIGHT_KEYS:
        assert attribute_problem(LookupAttribute(key, "true"), insight=True) is None


@pytest.mark.parametrize(
    "value", ["a" * 2000, "_" * 1000, " ,\n_" * 250, "true"]
)  # fmt: skip
def test_values_up_to_2000_counted_characters_pass(value: str) -> None:
    """The limit is 2000 as LookupEvents counts, doubled characters included."""
    assert attribute_problem(LookupAttribute("ResourceName", value)) is None


@pytest.mark.parametrize(
    ("attr", "insight", "fragments"),
    [
        (LookupAttribute("username", "x"), False, ["did you mean 'Username'?"]),
        (LookupAttribute("EVENTNAME", "x"), False, ["did you mean 'EventName'?"]),
        (LookupAttribute("Nope", "x"), False, ["unknown attribute key 'Nope'", "valid keys: "]),
        (LookupAttribute("Username", ""), False, ["empty", "1 to 2000"]),
        (LookupAttribute("Username", "a" * 2001), False, ["2001", "counts double"]),
        (LookupAttribute("Username", "_" * 1000 + "a"), False, ["2001", "counts double"]),
        (LookupAttribute("ReadOnly", "True"), False, ["true or false", "'True'"]),
        (LookupAttribute("ReadOnly", "yes"), False, ["true or false"]),
        (LookupAttribute("Username", "alice"), True, ["Insights", "EventId, EventName"]),
        (LookupAttribute("ReadOnly", "true"), True, ["Insights"]),
    ],
)
def test_each_rule_says_what_is_wrong(
    attr: LookupAttribute, insight: bool, fragments: list[str]
) -> None:
    """Each broken LookupEvents rule gets its own one-line explanation."""
    problem = attribute_problem(attr, insight=insight)
    assert problem is not None and "\n" not in problem
    assert all(f in problem for f in fragments), problem
    with pytest.raises(InputError) as info:
        validate_attributes([attr], insight=insight)
    assert str(info.value) == PREFIX + problem


def test_long_bad_keys_are_cut_short_in_messages() -> None:
    """A huge unknown key does not flood the terminal."""
    problem = attribute_problem(LookupAttribute("K" * 5000, "x")) or ""
    assert "did you mean" not in problem and len(problem) < 300


def test_one_attribute_per_call() -> None:
    """Two attributes break the one-per-call rule unless max_items lifts it."""
    two = [OK, LookupAttribute("EventName", "x")]
    with pytest.raises(InputError) as info:
        validate_attributes(two)
    assert str(info.value).startswith(PREFIX + "LookupEvents accepts one lookup attribute per call")
    assert "got 2" in str(info.value)
    validate_attributes(two, max_items=None)
    validate_attributes(two, max_items=2)
    validate_attributes([])
    validate_attributes([OK])


def test_validation_checks_every_attribute() -> None:
    """With the count lifted, a bad second attribute is still caught."""
    with pytest.raises(InputError, match="did you mean 'EventName'"):
        validate_attributes([OK, LookupAttribute("eventname", "x")], max_items=None)
