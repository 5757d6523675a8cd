"""The server's rules for LookupAttributes, as the emulator states them.

These are LookupEvents' rules, part of the contract the emulator serves (cloudtrail.py
applies them): at most one attribute per call; eight keys,
case-sensitive; with EventCategory insight only EventId, EventName and EventSource; a
value of 1 to 2,000 characters where `_`, space, comma and newline count 2; ReadOnly takes
`true` or `false`. Breaking one is InvalidLookupAttributesException, with the message
`attribute_problem` words.

The client checks the same rules before it calls (`trailsweep.settings.attributes`), with
the same words, so a bad attribute reads alike whether the client or the server caught it.
The emulator keeps its own statement rather than importing the client's: it is the
server, it imports nothing of trailsweep outside itself, and a client that drifted from
the contract must not drag the server along. test_emulator_errors.py
(test_the_emulator_states_the_attribute_rules_in_the_clients_words) holds the two to the
same answers.
"""

from __future__ import annotations

ATTRIBUTE_KEYS: tuple[str, ...] = (
    "EventId", "EventName", "ReadOnly", "Username",
    "ResourceType", "ResourceName", "EventSource", "AccessKeyId",
)  # fmt: skip
INSIGHT_KEYS: tuple[str, ...] = ("EventId", "EventName", "EventSource")
MAX_LENGTH = 2000
_DOUBLE = "_ ,\n"  # characters LookupEvents counts twice toward MAX_LENGTH
_SHOWN = 60  # characters of the caller's text quoted back in a message


def _show(text: str) -> str:
    """The caller's text, quoted on one line and cut short if long."""
    return repr(text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "...")


def attribute_length(value: str) -> int:
    """Length as LookupEvents counts it: `_`, space, comma and newline count 2."""
    return len(value) + sum(value.count(c) for c in _DOUBLE)


def attribute_problem(key: str, value: str, *, insight: bool = False) -> str | None:
    """What is wrong with one attribute under the LookupEvents rules, or None."""
    if key not in ATTRIBUTE_KEYS:
        near = [k for k in ATTRIBUTE_KEYS if k.lower() == key.strip().lower()]
        if near:
            return f"unknown attribute key {_show(key)}; did you mean {near[0]!r}?"
        return f"unknown attribute key {_show(key)}; valid keys: {', '.join(ATTRIBUTE_KEYS)}"
    if insight and key not in INSIGHT_KEYS:
        return (
            f"{key} cannot filter Insights events; with event category insight "
            f"use {', '.join(INSIGHT_KEYS)}"
        )
    if not value:
        return f"the value of {key} is empty; give 1 to {MAX_LENGTH} characters"
    length = attribute_length(value)
    if length > MAX_LENGTH:
        return (
            f"the value of {key} counts {length} characters, over the {MAX_LENGTH} allowed "
            "(each _, space, comma and newline counts double); shorten it"
        )
    if key == "ReadOnly" and value not in ("true", "false"):
        return f"ReadOnly takes true or false (lower case), not {_show(value)}"
    return None
