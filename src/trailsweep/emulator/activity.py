"""Who does what in an hour of a pair: each event's principal (cast.py), call (catalog.py)
and session.

A principal's share of an hour follows its working hours (`Actor.active`). A principal
with sessions (`Actor.session`) opens one in each hour it is active: its oldest event of
the hour becomes the call that opens it (AssumeRole, AssumeRoleWithSAML,
AssumeRoleWithWebIdentity, GetSessionToken), and its other events of the hour carry the
ASIA key that call issued and its creation time. An hour is generated whole (history.py),
so every session key seen traces to the call in the same pair that issued it; sessions
last the hour (DurationSeconds 3600), as a fresh session an hour does.
"""

from __future__ import annotations

import random
from typing import Any

from trailsweep.emulator.cast import Actor, cast_of, ident
from trailsweep.emulator.catalog import CONSOLE_LOGIN, SESSION_TEMPLATES, TEMPLATES
from trailsweep.emulator.shapes import aws_date, hexid
from trailsweep.emulator.template import Template

Menu = tuple[list[Template], list[int]]
GITHUB_OIDC = "token.actions.githubusercontent.com"


def _cumulative(weights: list[float] | list[int]) -> list[Any]:
    total, out = 0.0, []
    for w in weights:
        total += w
        out.append(total)
    return out


class Activity:
    """Chooses, for one organization, who does what in each hour of each pair."""

    def __init__(self, seed: int, management: str, diurnal: bool) -> None:
        self.seed, self.management, self.diurnal = seed, management, diurnal
        self._menus: dict[tuple[str, bool, bool], Menu] = {}
        self._rhythm: dict[tuple[str, int], float] = {}

    def rhythm(self, account: str, hour: int) -> float:
        """How busy an hour of the week is in an account: its cast's active weight then,
        over the mean of the week's hours (1 on average; people's hours busier)."""
        week = (hour + 72) % 168  # hours since a Monday's midnight (1970-01-01: a Thursday)
        found = self._rhythm.get((account, week))
        if found is None:
            actors = cast_of(self.seed, account, self.management)
            monday = 96  # 1970-01-05 00:00, the first Monday, in epoch hours

            def busy(h: int) -> float:
                return sum(a.active(monday + h, True) for a in actors)

            mean = sum(busy(h) for h in range(168)) / 168
            for h in range(168):
                self._rhythm[(account, h)] = busy(h) / mean
            found = self._rhythm[(account, week)]
        return found

    def menu(self, actor: Actor, us_east_1: bool) -> Menu:
        """The calls an actor makes in a region, with their cumulative weights."""
        key = (actor.audience, actor.console, us_east_1)
        found = self._menus.get(key)
        if found is None:
            audience = set(actor.audience.split())
            calls = [
                t for t in TEMPLATES
                if t.who & audience and t.weight > 0 and (us_east_1 or not t.global_service)
            ]  # fmt: skip
            if actor.console and us_east_1:
                calls.append(CONSOLE_LOGIN)
            found = self._menus[key] = (calls, _cumulative([t.weight for t in calls]))
        return found

    def choose(
        self, rng: random.Random, account: str, region: str, hour: int, n: int
    ) -> list[tuple[Actor, Template, int]]:
        """`n` calls in generation order: (who, what, the event's detail seed)."""
        actors = cast_of(self.seed, account, self.management)
        us_east_1 = region == "us-east-1"
        weights = [
            a.active(hour, self.diurnal) if self.menu(a, us_east_1)[0] else 0.0 for a in actors
        ]
        cum = _cumulative(weights)
        out = []
        for _ in range(n):
            actor = rng.choices(actors, cum_weights=cum)[0]
            calls, call_weights = self.menu(actor, us_east_1)
            template = rng.choices(calls, cum_weights=call_weights)[0]
            out.append((actor, template, rng.getrandbits(62)))
        return out


def openers(chosen: list[tuple[Actor, Template, int]], seconds: list[int]) -> dict[str, int]:
    """For each actor with sessions: the index of its oldest call of the hour (the latest
    in generation order among calls of the same second), which opens its session."""
    first: dict[str, int] = {}
    for i, (actor, template, _) in enumerate(chosen):
        if actor.session is None or template is CONSOLE_LOGIN:
            continue
        j = first.get(actor.key)
        if j is None or seconds[i] <= seconds[j]:
            first[actor.key] = i
    return first


def session_key(seed: int, account: str, region: str, actor: Actor, hour: int) -> str:
    return ident("ASIA", seed, account, region, actor.key, hour)


def session_values(
    account: str, region: str, actor: Actor, key: str, issued: int
) -> dict[str, Any]:
    """The shape values of a session: the opening call's and its later calls' identity."""
    role = actor.role or ""
    values: dict[str, Any] = {
        "session_key": key,
        "session_name": actor.name,
        "session_token": "IQoJb3JpZ2luX2VjE" + hexid(account, key, issued, 32) * 3,
        "expires": aws_date(issued + 3600),
        "role_arn": f"arn:aws:iam::{account}:role{actor.role_path}{role}",
        "role_id": actor.principal_id,
        "session_arn": f"arn:aws:sts::{account}:assumed-role/{role}/{actor.name}",
    }
    if actor.session == "AssumeRoleWithSAML":
        saml = hexid("sso", "saml", 0, 16)
        values["saml_id"] = f"{saml}="
        values["saml_provider"] = (
            f"arn:aws:iam::{account}:saml-provider/AWSSSO_{saml}_DO_NOT_DELETE"
        )
    elif actor.session == "AssumeRoleWithWebIdentity":
        values["subject"] = actor.caller
        values["oidc_provider"] = f"arn:aws:iam::{account}:oidc-provider/{GITHUB_OIDC}"
    return values


def opening_template(actor: Actor) -> Template:
    return SESSION_TEMPLATES[actor.session or "AssumeRole"]


def lookup_identity(
    actor: Actor, t: Template, key: str | None, opening: bool
) -> tuple[str | None, str | None]:
    """LookupEvents' Username and AccessKeyId of a call."""
    if t is CONSOLE_LOGIN:
        return actor.name, None
    if actor.kind == "root":
        return "root", None
    if opening:
        if actor.session == "GetSessionToken":
            return actor.name, actor.access_key
        if actor.session == "AssumeRoleWithSAML":
            return actor.name, None
        if actor.session == "AssumeRoleWithWebIdentity":
            return actor.caller, None
        return None, None  # an AWS service, or a user of another account
    if key is not None:
        return actor.name, key
    return actor.name, actor.access_key
