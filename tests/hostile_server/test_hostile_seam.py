"""The tamper seam itself: a test can answer a request, and stop answering it."""

from __future__ import annotations

from typing import Any

from trailsweep.emulator import EmulatorThread
from trailsweep.emulator.tamper import Call

from hostile import json_answer, on, rewrite_pages
from support import NO_RETRY, client, settings


def test_a_tamper_answers_and_honesty_returns() -> None:
    """A tampered LookupEvents answer reaches a real boto3 client; None restores the truth."""
    with EmulatorThread(settings(faults={"rate": 100.0, "burst": 100.0})) as emu:
        ct = client(emu, "cloudtrail", config=NO_RETRY)
        emu.set_tamper(on("LookupEvents", lambda call: json_answer({"Events": []})))
        assert ct.lookup_events(MaxResults=5)["Events"] == []

        def drop_one(page: dict[str, Any], call: Call) -> dict[str, Any]:
            return {**page, "Events": page["Events"][1:]}

        emu.set_tamper(rewrite_pages(drop_one))
        assert len(ct.lookup_events(MaxResults=5)["Events"]) == 4
        emu.set_tamper(None)
        assert len(ct.lookup_events(MaxResults=5)["Events"]) == 5
