"""One account and region, printed as the AWS CLI prints it (what `trailsweep
lookup-events` runs).

The document is `{"Events": [...], "NextToken": ...}`, indented as the AWS CLI v1 writes it
(json.dumps, indent 4, UTF-8), events with their keys in the API model's order and
EventTime as the wire carries it (epoch seconds: the CLI v1 default). Paginated by
default: `--max-items` stops it and prints the CLI's own resume token, base64 of
`{"NextToken": ..., "boto_truncate_amount": N}` (botocore's PageIterator rules), which
`--starting-token` takes back, ours and the CLI's alike. `--no-paginate`, `--next-token`
or `--max-results` make one call and print its raw NextToken, as the CLI does.

A question with several values of the key sent to the API (OR) runs one chain per value,
which one API token cannot continue; its resume token is
`{"TrailsweepCursor": {"time": T, "ids": [...]}}` (the oldest second printed and the
EventIds printed at it). The AWS CLI refuses it ("Unknown parameter") instead of
silently starting over.

Events go to a spooled temporary file first and reach stdout only when the run ended
well: a failure prints an error and no half document (the CLI, which builds the whole
result in memory, prints nothing either), with bounded memory.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import IO, Any

import anyio

from trailsweep.aws.lookup_clients import lookup_clients
from trailsweep.aws.page_check import CODE as INVALID_RESPONSE
from trailsweep.aws.sessions import SessionPool
from trailsweep.base.clock import SYSTEM_CLOCK, Clock
from trailsweep.base.errors import InputError, PairFailed, TrailsweepError
from trailsweep.engine.pager import Pager, TokenRejected
from trailsweep.engine.pair import Cursor, PageRef, PairContext, PairState, SweepEvent
from trailsweep.engine.pair_stream import pair_source
from trailsweep.settings.query import Query

MODEL_ORDER = (
    "EventId", "EventName", "ReadOnly", "AccessKeyId", "EventTime",
    "EventSource", "Username", "Resources", "CloudTrailEvent",
)  # fmt: skip
CURSOR_KEY = "TrailsweepCursor"
_SPOOL_BYTES = 16 << 20  # events held in memory before the spool moves to disk
_INDENT = "\n        "


@dataclass(frozen=True, slots=True)
class Lookup:
    """A validated lookup-events invocation."""

    query: Query
    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    starting_token: str | None = None
    single_call: bool = False  # --no-paginate / --next-token / --max-results
    next_token: str | None = None  # the raw API token of a single call
    access_key_id: str | None = None
    secret_access_key: str | None = None


@dataclass(slots=True)
class PrintedPage:
    """One page as the AWS CLI's paginator yields it, for the formats that show pages
    (text, yaml-stream): how many of the printed events it holds and the raw API NextToken
    it came back with. A question with several chains has no API pages: its merged events
    are cut into pages of MaxResults (what one chain would have served), without a token."""

    count: int
    next_token: str | None = None


class LookupFailed(TrailsweepError):
    """LookupEvents answered with an error: printed the way the AWS CLI prints it. Errors
    that name bad input (Invalid*, validation) exit 2, the rest 1."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(
            f"An error occurred ({code}) when calling the LookupEvents operation: {message}"
        )
        self.code = code
        bad_input = code.startswith("Invalid") or "Validation" in code
        # InvalidResponse is the server's fault (page_check.py), not the user's input.
        self.exit_code = 2 if bad_input and code != INVALID_RESPONSE else 1


# tokens ---------------------------------------------------------------------------------
def encode_token(token: dict[str, Any]) -> str:
    """botocore's TokenEncoder: base64 of json.dumps (with its default separators)."""
    return base64.b64encode(json.dumps(token).encode()).decode()


def decode_starting_token(text: str) -> tuple[Cursor, bool]:
    """Where a --starting-token points: a cursor for the pair, and whether it is a time
    cursor (several chains). Accepts the CLI's base64 JSON, botocore's old `token___N`
    form, and a bare API NextToken, as botocore does."""
    try:
        doc = json.loads(base64.b64decode(text.encode()).decode())
    except (ValueError, TypeError, binascii.Error):
        doc = None
    if isinstance(doc, dict):
        if CURSOR_KEY in doc:
            cur = doc[CURSOR_KEY]
            try:
                return Cursor(oldest=int(cur["time"]), ids=[str(i) for i in cur["ids"]]), True
            except (KeyError, TypeError, ValueError):
                raise InputError(
                    f"--starting-token: a damaged {CURSOR_KEY}; pass the NextToken exactly "
                    "as printed"
                ) from None
        if "NextToken" in doc:
            skip = doc.get("boto_truncate_amount", 0)
            if not isinstance(skip, int) or skip < 0:
                raise InputError("--starting-token: boto_truncate_amount must be a whole number")
            token = doc["NextToken"]
            return Cursor(token=None if token is None else str(token), skip=skip), False
    parts = text.split("___")
    if len(parts) == 2:
        try:
            skip = int(parts[1])
        except ValueError:
            pass
        else:
            return Cursor(token=None if parts[0] == "None" else parts[0], skip=skip), False
    return Cursor(token=text), False


def resume_token(last: SweepEvent, *, chains: int) -> str | None:
    """The token that continues right after `last` (the --max-items-th event printed)."""
    page, following = last.page, last.index + 1
    # Several chains, or one asked again with EndTime after a token fallback: no single
    # API token continues it; the time cursor does.
    if chains > 1 or page.end is not None:
        cur = last.pair.cursor
        return encode_token({CURSOR_KEY: {"time": cur.oldest, "ids": cur.ids}})
    if following < page.size:
        return encode_token({"NextToken": page.token, "boto_truncate_amount": following})
    if page.next is None:
        return None
    return encode_token({"NextToken": page.next})


# output ---------------------------------------------------------------------------------
def event_json(event: dict[str, Any]) -> str:
    """One event as the AWS CLI prints it inside the document (keys in model order)."""
    ordered = {k: event[k] for k in MODEL_ORDER if k in event}
    ordered.update((k, v) for k, v in event.items() if k not in ordered)
    return json.dumps(ordered, indent=4, ensure_ascii=False).replace("\n", _INDENT)


def write_document(out: IO[bytes], events: IO[bytes], count: int, token: str | None) -> None:
    """`{"Events": [...], "NextToken": ...}` byte for byte as json.dumps(indent=4) writes
    it; `events` holds the events already joined by `event_json` and commas."""
    out.write(b'{\n    "Events": [')
    if count:
        out.write(_INDENT.encode())
        events.seek(0)
        while chunk := events.read(1 << 20):
            out.write(chunk)
        out.write(b"\n    ]")
    else:
        out.write(b"]")
    if token is not None:
        out.write(b',\n    "NextToken": ' + json.dumps(token).encode())
    out.write(b"\n}\n")


# the run --------------------------------------------------------------------------------
async def run_lookup(
    lookup: Lookup, out: IO[bytes], *, clock: Clock = SYSTEM_CLOCK,
    pages: list[PrintedPage] | None = None,
) -> PairState:  # fmt: skip
    """Run `lookup` and write its document to `out`; raises LookupFailed on an API error.
    `pages`, when given, receives the printed events' pages in order (at least one)."""
    async with SessionPool(
        profile=lookup.profile, region=lookup.region, endpoint_url=lookup.endpoint_url,
        access_key_id=lookup.access_key_id, secret_access_key=lookup.secret_access_key,
    ) as pool:  # fmt: skip
        region = pool.region
        if not region:
            raise InputError(
                "no region; pass --region or set AWS_REGION (or AWS_DEFAULT_REGION), as the "
                "AWS CLI needs"
            )
        pair = PairState("", region)
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as spool:
            async with lookup_clients(pool, pairs=1) as clients:
                # The caller's own credentials (account ""), wired as the sweep wires a pair;
                # nothing to renew them with.
                ctx = await PairContext.open(
                    clients, pair, lookup.query, rate=2.0, clock=clock, secrets=pool.secrets
                )
                log: list[PrintedPage] = [] if pages is None else pages
                run = _single_call if lookup.single_call else _paginate
                count, token = await run(lookup, ctx, spool, log)
                if not log:
                    log.append(PrintedPage(0))
            if pair.failed:
                code, _, message = (pair.error or "Unknown: failed").partition(": ")
                raise LookupFailed(code, message)
            write_document(out, spool, count, token)
    return pair


async def _single_call(
    lookup: Lookup, ctx: PairContext, spool: IO[bytes], pages: list[PrintedPage]
) -> tuple[int, str | None]:
    plan, pair = lookup.query.plan, ctx.pair
    if len(plan.pushed) > 1:
        raise InputError(
            "--no-paginate (and --next-token, --max-results) make one call, which takes one "
            f"value of {plan.pushed[0].key}; drop the extra values or let trailsweep paginate"
        )
    pager = Pager(ctx)
    try:
        page = await pager.call(lookup.query.api_params(plan.chains[0]), lookup.next_token)
    except PairFailed as failed:
        pair.fail(failed.code, failed.reason)
        return 0, None
    except TokenRejected as rejected:
        pair.fail(rejected.code, rejected.message)
        return 0, None
    accept = plan.predicate()
    count = 0
    for event in page.get("Events") or ():
        if accept is None or accept(event):
            spool.write((",\n        " if count else "").encode() + event_json(event).encode())
            count += 1
    pair.state = "done"
    pages.append(PrintedPage(count, page.get("NextToken")))
    return count, page.get("NextToken")


async def _paginate(
    lookup: Lookup, ctx: PairContext, spool: IO[bytes], pages: list[PrintedPage]
) -> tuple[int, str | None]:
    query, pair = lookup.query, ctx.pair
    chains = len(query.plan.chains)
    if lookup.starting_token:
        pair.cursor, is_cursor = decode_starting_token(lookup.starting_token)
        if is_cursor != (chains > 1):
            raise InputError(
                "--starting-token: this token belongs to a question with "
                f"{'several values' if is_cursor else 'one value'} of the key sent to the API; "
                "continue it with the same --lookup-attributes it was printed for"
            )
    limit = query.max_items
    if limit is not None and chains > 1:
        # Each chain may bring one more than asked: seeing a (limit+1)-th event after the
        # merge is how we know that more follow and a NextToken is due.
        query = dataclasses.replace(query, max_items=limit + 1)
        ctx = dataclasses.replace(ctx, query=query)
    printed = _Printed(spool, pages, chains, query.page_size)
    async with anyio.create_task_group() as tg:
        source = pair_source(ctx, depth=2, task_group=tg)
        async with aclosing(_events(source)) as events:  # type: ignore[type-var]
            async for event in events:
                if limit is not None and printed.count == limit:
                    # One more event exists: the printed ones end before it.
                    tg.cancel_scope.cancel()
                    break
                printed.add(event)
                if limit is not None and printed.count == limit and chains == 1:
                    break  # a single chain knows from its page whether more follow
        tg.cancel_scope.cancel()
    count, last = printed.count, printed.last
    token = None
    if last is not None and limit is not None and count == limit:
        if chains > 1:
            token = None if pair.state == "done" else resume_token(last, chains=chains)
        else:
            token = resume_token(last, chains=1)
    return count, token


@dataclass(slots=True)
class _Printed:
    """The events printed so far, into the spool, and the pages they are shown in."""

    spool: IO[bytes]
    pages: list[PrintedPage]
    chains: int
    page_size: int
    count: int = 0
    last: SweepEvent | None = None
    served_by: PageRef | None = None

    def add(self, event: SweepEvent) -> None:
        self.spool.write((",\n        " if self.count else "").encode())
        self.spool.write(event_json(event.event).encode())
        if self.chains > 1:
            if self.count % self.page_size == 0:
                self.pages.append(PrintedPage(0))
        elif event.page is not self.served_by:
            self.served_by = event.page
            self.pages.append(PrintedPage(0, self.served_by.next))
        self.pages[-1].count += 1
        event.pair.cursor.advance(event)
        self.count += 1
        self.last = event


async def _events(source: AsyncIterator[Sequence[SweepEvent]]) -> AsyncIterator[SweepEvent]:
    async with aclosing(source) as pages:  # type: ignore[type-var]
        async for page in pages:
            for event in page:
                yield event
