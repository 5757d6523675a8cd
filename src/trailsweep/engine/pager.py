"""One pair's NextToken chain: every call through the pair's limiter, each response body
parsed once with orjson, failures retried or turned into a failed pair (never an exception
that stops the sweep). The client it calls is set up in `aws.client`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from trailsweep.aws.adaptive import AdaptiveRate
from trailsweep.aws.client import PAGE_KEY, RAW_KEY
from trailsweep.aws.limiter import RateLimiter
from trailsweep.aws.page_check import CODE, ChainCheck, InvalidResponse, check_page
from trailsweep.aws.retry import Backoff, RetryBudget, classify
from trailsweep.aws.stalls import StallWatch
from trailsweep.aws.timeouts import timed_out_reason, timeout_phase
from trailsweep.base.clock import SYSTEM_CLOCK, Clock
from trailsweep.base.errors import PairFailed
from trailsweep.base.sanitize import Secrets
from trailsweep.engine.pair import Cursor, PageRef, PairState, SweepEvent
from trailsweep.engine.spool import Batch
from trailsweep.settings.query import Query
from trailsweep.settings.regions import NOT_ENABLED_CODE, not_enabled_reason
from trailsweep.settings.timeouts import MAX_TIMEOUTS

CALL_LOG = logging.getLogger("trailsweep.calls")


class TokenRejected(Exception):
    """The NextToken was refused (InvalidNextTokenException): fall back, do not fail."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Pager:
    """Pages of one NextToken chain of a pair, newest first, as lists of SweepEvent.

    A pair usually has one chain. With several values of the attribute sent to the API
    (`--lookup-attributes` OR), `pair_stream.pair_pages` runs one Pager per value with
    `chain` set; those share the pair's limiter, pace and retry budget, leave the pair's
    bookkeeping (state, event count) to the caller (`track=False`), and start from the
    pair cursor's oldest written second (`by_time=True`) rather than its NextToken.
    `watch` and `secrets` are the sweep's own: its stall watch (stalls.start) and the
    credentials its sessions hold, redacted from the server's error text."""

    def __init__(
        self,
        pair: PairState,
        client: Any,
        limiter: RateLimiter,
        query: Query,
        *,
        clock: Clock = SYSTEM_CLOCK,
        backoff: Backoff | None = None,
        max_attempts: int = 8,
        budget: RetryBudget | None = None,
        refresh: Callable[[], Awaitable[None]] | None = None,
        chain: int = 0,
        pace: AdaptiveRate | None = None,
        track: bool = True,
        by_time: bool = False,
        start: Cursor | None = None,
        window: tuple[int, int] | None = None,
        watch: StallWatch | None = None,
        secrets: Secrets | None = None,
    ) -> None:
        self.pair = pair
        self.client = client
        self.limiter = limiter
        self.query = query
        self.clock = clock
        self.backoff = backoff or Backoff()
        self.max_attempts = max_attempts
        self.budget = budget or RetryBudget()
        self.refresh = refresh
        self.pace = pace or AdaptiveRate(limiter)
        plan = query.plan
        self.attribute = plan.chains[chain]
        self.accept = plan.predicate()
        self.seq_base = chain << 40  # ties across chains: by chain, then API order
        self.track = track
        self.by_time = by_time
        self.start = start  # where to begin instead of the pair's cursor
        self.window = window  # (StartTime, EndTime) of a time slice instead of the query's
        self.watch = watch
        self.secrets = secrets
        # Events older than `cut` end the chain (a slice whose older part went to another
        # chain after it started); may be set while the chain runs.
        self.cut: int | None = None
        self.served = 0  # events LookupEvents returned to this chain
        self.floor: int | None = None  # the oldest second looked at so far
        self.recent = 0.0  # events per second of window in the last page
        self.raw: bytes | None = None  # the body of the page `call` returned last
        # Hand each page's body on with its events (Batch.raw), for a reader that may spool
        # it (slices.SlicedPager); otherwise it is let go at once.
        self.keep_raw = False

    async def pages(self) -> AsyncIterator[Batch]:
        """Pages from where the pair's cursor says its written events end (the start, for a
        new pair). A rejected NextToken (expired, say) falls back to asking again with
        EndTime = the oldest second already looked at, skipping the EventIds yielded at it
        (a token we were given, with nothing looked at yet, fails the pair instead).
        Events the client-side filter rejects are dropped here; served indexes stay those
        of the page as LookupEvents returned it (a checkpoint counts in those)."""
        pair = self.pair
        cur = self.start if self.start is not None else pair.cursor
        acct, region = pair.account, pair.region
        base = self.query.api_params(self.attribute)
        if self.window is not None:
            base = dict(base, StartTime=self.window[0], EndTime=self.window[1])
        accept = self.accept
        end, token, drop = cur.end, cur.token, cur.skip
        oldest, at_oldest = cur.oldest, list(cur.ids)  # what is already out, newest last
        # The oldest second of the pages already looked at (filtered-out events included):
        # a rejected token re-asks from there.
        floor = oldest
        boundary: tuple[int, set[str]] | None = None
        if self.by_time:
            token, drop = None, 0
            end = oldest
            if oldest is not None:
                boundary = (oldest, set(at_oldest))
        limit = self.query.max_items
        remaining = None if limit is None else max(0, limit - cur.written)
        if self.track:
            pair.begin_run(self.pace.rate)
        seq = self.seq_base
        # Order across pages, repeated tokens, endless empty pages, EventIds served twice
        # (check_page in `call` has checked each page on its own). It goes on from the
        # cursor only when the first page is asked to end at its oldest second: a page asked
        # again by token (or by the EndTime of a fallback) serves written events newer than
        # that first, and `drop` skips them.
        chain_check = ChainCheck(oldest, at_oldest) if self.by_time else ChainCheck()
        while remaining != 0:
            params = base if end is None else dict(base, EndTime=end)
            try:
                page = await self.call(params, token)
            except TokenRejected as rejected:
                if floor is None:  # a token given to us (--starting-token): no fallback
                    pair.fail(rejected.code, rejected.message)
                    return
                end, boundary = floor, (floor, set(at_oldest) if oldest == floor else set())
                token, drop = None, 0
                continue
            except PairFailed as failed:
                reason = failed.reason
                if failed.code == NOT_ENABLED_CODE:  # what it means, not what it says
                    reason = not_enabled_reason(acct, region, reason)
                pair.fail(failed.code, reason)
                return
            events = page["Events"]
            next_token = page.get("NextToken")
            try:
                repeats = chain_check.repeats(events, token, next_token)
            except InvalidResponse as bad:
                pair.fail(CODE, str(bad))
                return
            ref = PageRef(token, end, len(events), next_token)
            self.served += len(events)
            cut = self.cut
            if cut is not None and events and int(events[-1]["EventTime"]) < cut:
                events = [e for e in events if int(e["EventTime"]) >= cut]
                next_token = None  # the rest belongs to an older slice
            batch = Batch(raw=self.raw if self.keep_raw else None)
            self.raw = None
            if not drop and not boundary and accept is None and not repeats:  # the usual page
                batch.extend(
                    SweepEvent((-int(e["EventTime"]), acct, region, seq + i), pair, e, ref, i)
                    for i, e in enumerate(events)
                )
            else:
                batch.extend(self._kept(events, drop, boundary, ref, seq, repeats))
            seq += len(batch)
            drop = 0
            if events:
                top = self.floor if self.floor is not None else int(events[0]["EventTime"])
                floor = self.floor = int(events[-1]["EventTime"])
                self.recent = len(events) / (top - floor + 1)
                if boundary and floor < boundary[0]:
                    boundary = None  # past the second it guards: back to the usual page
            if remaining is not None:
                if len(batch) > remaining:
                    del batch[remaining:]
                remaining -= len(batch)
            if batch:
                # The EventIds yielded at the oldest second so far: times only go down, so
                # those of this batch are its tail at its last second.
                last = -batch[-1].key[0]
                k = len(batch) - 1
                while k > 0 and -batch[k - 1].key[0] == last:
                    k -= 1
                tail = [str(ev.event.get("EventId", "")) for ev in batch[k:]]
                if k == 0 and last == oldest:
                    at_oldest.extend(tail)
                else:
                    oldest, at_oldest = last, tail
                if self.track:
                    pair.events += len(batch)
                # Hold nothing of the page while suspended here: the reader may spool it
                # and drop its events (slices.SlicedPager), and this frame would keep them.
                held = [batch]
                del page, events, batch
                yield held.pop()
            token = next_token
            if not token:
                break
        if self.track:
            pair.end_run()

    def _kept(
        self, events: Any, drop: int, boundary: tuple[int, set[str]] | None, ref: PageRef,
        seq: int, repeats: set[int] | None = None,
    ) -> list[SweepEvent]:  # fmt: skip
        """The events of a page that are not skipped (already written, served twice, or
        filtered out)."""
        pair, accept = self.pair, self.accept
        kept: list[SweepEvent] = []
        for i, e in enumerate(events):
            if i < drop or (repeats and i in repeats):
                continue
            when = int(e["EventTime"])
            if boundary and when == boundary[0] and e.get("EventId") in boundary[1]:
                continue
            if accept is not None and not accept(e):
                continue
            kept.append(SweepEvent((-when, pair.account, pair.region, seq), pair, e, ref, i))
            seq += 1
        return kept

    async def call(self, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        """One page, retried as needed. Every attempt passes the limiter; throttles slow the
        pair down (AdaptiveRate) and wait for its next slot; 5xx, resets and timeouts back
        off with full jitter; an expired session is refreshed first. All retries draw on
        the pair's budget."""
        pair = self.pair
        kwargs = dict(params, NextToken=token) if token else params
        code, message = "Unknown", ""
        timeouts = 0  # timeouts of this page in a row (timeouts.MAX_TIMEOUTS fail the pair)
        for attempt in range(self.max_attempts):
            await self.limiter.acquire()
            epoch = self.limiter.epoch  # the pace this call is sent at (AdaptiveRate)
            pair.calls += 1
            started = self.clock.monotonic()
            watch = self.watch
            stalled = watch.stalled() if watch is not None else 0.0
            try:
                response = await self.client.lookup_events(**kwargs)
            except InvalidResponse as bad:  # not retried: see page_check.py
                _log(pair, started, self.clock, CODE)
                raise PairFailed(pair.account, pair.region, CODE, str(bad)) from None
            except Exception as exc:
                kind, code, message = classify(exc, self.secrets)
                _log(pair, started, self.clock, code)
                if kind == "token" and token:
                    raise TokenRejected(code, message) from None
                if kind in ("fatal", "token"):
                    raise PairFailed(pair.account, pair.region, code, message) from None
                phase = timeout_phase(exc)
                timeouts = timeouts + 1 if phase else 0
                if phase and timeouts >= MAX_TIMEOUTS:
                    reason = timed_out_reason(self.client, phase, timeouts)
                    raise PairFailed(pair.account, pair.region, "TimedOut", reason) from None
                if kind == "expired" and self.refresh is not None:
                    # A session the server let expire is renewed, not a fault: it does not
                    # draw on the budget, which sessions expiring every few pages (each
                    # chain of the pair retrying) would spend (5 a retry, 1 back a page).
                    # One that stays expired ends at max_attempts.
                    pair.retries += 1
                    await self.refresh()
                    continue
                if not self.budget.spend():
                    raise PairFailed(
                        pair.account, pair.region, code,
                        f"retry budget spent ({pair.retries} retries); last error: {message}",
                    ) from None  # fmt: skip
                pair.retries += 1
                if kind == "throttle":
                    pair.throttled += 1
                    # The limiter places the retry a whole interval of the lowered pace
                    # after the throttle (`RateLimiter.slow_down`): sooner, the server's
                    # bucket would still be empty.
                    self.pace.on_throttle(epoch, self.clock.monotonic())
                    pair.rate = self.pace.rate
                    continue
                await self.clock.sleep(self.backoff.delay(attempt))
                continue
            done = self.clock.monotonic()
            latency = done - started
            if self.limiter.acquired == 1:
                # The pair's first call: the next one goes an interval after its answer,
                # not after its sending. Connection setup can hold a first call back long
                # enough that a second one sent an interval after it reaches the server
                # right behind it, and takes a share of the quota's burst for nothing.
                self.limiter.space_after(done)
            if watch is not None:  # the process stood still: not the server's time
                latency = max(0.0, latency - (watch.stalled() - stalled))
            pair.latency = latency if not pair.latency else 0.8 * pair.latency + 0.2 * latency
            _log(pair, started, self.clock, "ok")
            self.pace.on_success(done)
            pair.rate = self.pace.rate
            self.budget.refund()
            page: dict[str, Any] = response[PAGE_KEY]
            try:
                check_page(page, kwargs)
            except InvalidResponse as bad:
                raise PairFailed(pair.account, pair.region, CODE, str(bad)) from None
            self.raw = response.get(RAW_KEY)
            return page
        raise PairFailed(
            pair.account, pair.region, code,
            f"gave up after {self.max_attempts} attempts in a row: {message}",
        )  # fmt: skip


def _log(pair: PairState, started: float, clock: Clock, outcome: str) -> None:
    if CALL_LOG.isEnabledFor(logging.DEBUG):
        ms = (clock.monotonic() - started) * 1000
        fields = {"account": pair.account, "region": pair.region, "ms": round(ms),
                  "outcome": outcome, "rate": round(pair.rate, 3)}  # fmt: skip
        CALL_LOG.debug(
            "%s %.0fms %s (rate %.2f/s)", pair.name, ms, outcome, pair.rate,
            extra={"fields": fields},  # cli_logs.JsonFormatter puts them beside msg
        )  # fmt: skip
