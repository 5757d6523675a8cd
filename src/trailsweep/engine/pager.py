"""One pair's NextToken chain: every call through the pair's limiter, each response body
parsed once with orjson, failures retried or turned into a failed pair (never an exception
that stops the sweep). The client it calls is set up in `aws.client`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from trailsweep.aws.client import PAGE_KEY, RAW_KEY
from trailsweep.aws.page_check import CODE, ChainCheck, InvalidResponse, check_page
from trailsweep.aws.retry import Backoff, Kind, classify
from trailsweep.aws.stalls import StallWatch
from trailsweep.aws.timeouts import timed_out_reason, timeout_phase
from trailsweep.base.clock import Clock
from trailsweep.base.errors import PairFailed
from trailsweep.engine.pair import ChainSpec, PageRef, PairContext, PairState, SweepEvent
from trailsweep.engine.spool import Batch
from trailsweep.settings.regions import NOT_ENABLED_CODE, not_enabled_reason
from trailsweep.settings.timeouts import MAX_TIMEOUTS

CALL_LOG = logging.getLogger("trailsweep.calls")


class TokenRejected(Exception):
    """The NextToken was refused (InvalidNextTokenException): fall back, do not fail."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(slots=True)
class _Walk:
    """Where a chain's walk is: what its next call asks (EndTime, NextToken, events of the
    page to drop as already written) and what is already out."""

    base: dict[str, Any]  # the call's parameters before EndTime and NextToken
    end: int | None
    token: str | None
    drop: int
    oldest: int | None  # the oldest second yielded so far
    at_oldest: list[str]  # the EventIds yielded at it
    # The oldest second of the pages already looked at (filtered-out events included):
    # a rejected token re-asks from there.
    floor: int | None
    boundary: tuple[int, set[str]] | None  # (second, EventIds at it) already yielded
    remaining: int | None  # events --max-items still allows (None: no limit)
    seq: int  # the API-order part of the next event's merge key
    check: ChainCheck
    next: str | None = None  # the NextToken of the page taken last

    def fall_back(self) -> None:
        """Ask again from the oldest second looked at, by time, without a token."""
        floor = self.floor
        assert floor is not None
        self.end = floor
        self.boundary = (floor, set(self.at_oldest) if self.oldest == floor else set())
        self.token, self.drop = None, 0


@dataclass(slots=True)
class _Tries:
    """A page's attempts so far: the last failure, and the timeouts in a row
    (timeouts.MAX_TIMEOUTS of them fail the pair)."""

    code: str = "Unknown"
    message: str = ""
    timeouts: int = 0


class Pager:
    """Pages of one NextToken chain of a pair, newest first, as lists of SweepEvent; the
    chain's limiter, pace and retry budget are the pair's (`ctx`), `spec` says where it
    walks.

        async for batch in Pager(ctx).pages(): ...
    """

    def __init__(
        self,
        ctx: PairContext,
        spec: ChainSpec | None = None,
        *,
        backoff: Backoff | None = None,
        max_attempts: int = 8,
    ) -> None:
        spec = spec or ChainSpec()
        self.ctx = ctx
        self.pair = ctx.pair
        self.query = ctx.query
        self.clock = ctx.clock
        self.pace = ctx.pace
        self.budget = ctx.budget
        self.backoff = backoff or Backoff()
        self.max_attempts = max_attempts
        plan = ctx.query.plan
        self.attribute = plan.chains[spec.index]
        self.accept = _without_seen(plan.predicate(), ctx.pair)
        self.seq_base = spec.index << 40 if spec.seq_base is None else spec.seq_base
        self.track = spec.track
        self.by_time = spec.by_time
        self.start = spec.start  # where to begin instead of the pair's cursor
        self.window = spec.window  # (StartTime, EndTime) of a time slice
        self.keep_raw = spec.keep_raw  # hand each page's body on (Batch.raw), else drop it
        # Events older than `cut` end the chain (a slice whose older part went to another
        # chain after it started); `SlicedPager` may set it while the chain runs.
        self.cut: int | None = None
        self.served = 0  # events LookupEvents returned to this chain
        self.floor: int | None = None  # the oldest second looked at so far
        self.recent = 0.0  # events per second of window in the last page
        self.raw: bytes | None = None  # the body of the page `call` returned last

    async def pages(self) -> AsyncIterator[Batch]:
        """Pages from where the pair's cursor says its written events end (the start, for a
        new pair). A rejected NextToken (expired, say) falls back to asking again with
        EndTime = the oldest second already looked at, skipping the EventIds yielded at it
        (a token we were given, with nothing looked at yet, fails the pair instead).
        Events the client-side filter rejects are dropped here; served indexes stay those
        of the page as LookupEvents returned it (a checkpoint counts in those)."""
        walk = self._begin()
        while walk.remaining != 0:
            page = await self._ask(walk)
            if page is None:
                return
            batch = self._take(walk, page)
            # Hold nothing of the page while suspended here: the reader may spool it and
            # drop its events (slices.SlicedPager), and this frame would keep them.
            del page
            if batch is None:
                return
            if batch:
                self._yielded(walk, batch)
                held = [batch]
                del batch
                yield held.pop()
            walk.token = walk.next
            if not walk.token:
                break
        if self.track:
            self.pair.end_run()

    def _begin(self) -> _Walk:
        """The walk from the start cursor (the pair's, unless `start` is set)."""
        pair = self.pair
        cur = self.start if self.start is not None else pair.cursor
        base = self.query.api_params(self.attribute)
        if self.window is not None:
            base = dict(base, StartTime=self.window[0], EndTime=self.window[1])
        limit = self.query.max_items
        walk = _Walk(
            base=base, end=cur.end, token=cur.token, drop=cur.skip, oldest=cur.oldest,
            at_oldest=list(cur.ids), floor=cur.oldest, boundary=None,
            remaining=None if limit is None else max(0, limit - cur.written),
            seq=self.seq_base, check=ChainCheck(),
        )  # fmt: skip
        if self.by_time:
            walk.token, walk.drop, walk.end = None, 0, walk.oldest
            if walk.oldest is not None:
                walk.boundary = (walk.oldest, set(walk.at_oldest))
            # Order across pages, repeated tokens, endless empty pages, EventIds served
            # twice (check_page in `call` has checked each page on its own). It goes on
            # from the cursor only when the first page is asked to end at its oldest
            # second: a page asked again by token (or by the EndTime of a fallback) serves
            # written events newer than that first, and `drop` skips them.
            walk.check = ChainCheck(walk.oldest, walk.at_oldest)
        if self.track:
            pair.begin_run(self.pace.rate)
        return walk

    async def _ask(self, walk: _Walk) -> dict[str, Any] | None:
        """The walk's next page; None when the pair failed (the pair says why). A rejected
        token falls back to asking by time (`_Walk.fall_back`) unless nothing was looked
        at yet: a token given to us (--starting-token) has no fallback."""
        while True:
            params = walk.base if walk.end is None else dict(walk.base, EndTime=walk.end)
            try:
                return await self.call(params, walk.token)
            except TokenRejected as rejected:
                if walk.floor is None:
                    self.pair.fail(rejected.code, rejected.message)
                    return None
                walk.fall_back()
            except PairFailed as failed:
                reason = failed.reason
                if failed.code == NOT_ENABLED_CODE:  # what it means, not what it says
                    reason = not_enabled_reason(self.pair.account, self.pair.region, reason)
                self.pair.fail(failed.code, reason)
                return None

    def _take(self, walk: _Walk, page: dict[str, Any]) -> Batch | None:
        """The events of `page` to yield, with the walk moved past the page (its NextToken
        in `walk.next`); None when the page breaks the chain's order (the pair failed)."""
        events = page["Events"]
        next_token = page.get("NextToken")
        try:
            repeats = walk.check.repeats(events, walk.token, next_token)
        except InvalidResponse as bad:
            self.pair.fail(CODE, str(bad))
            return None
        ref = PageRef(walk.token, walk.end, len(events), next_token)
        self.served += len(events)
        cut = self.cut
        if cut is not None and events and int(events[-1]["EventTime"]) < cut:
            events = [e for e in events if int(e["EventTime"]) >= cut]
            next_token = None  # the rest belongs to an older slice
        walk.next = next_token
        batch = Batch(raw=self.raw if self.keep_raw else None)
        self.raw = None
        if not walk.drop and not walk.boundary and self.accept is None and not repeats:
            acct, region, pair, seq = self.pair.account, self.pair.region, self.pair, walk.seq
            batch.extend(  # the usual page
                SweepEvent((-int(e["EventTime"]), acct, region, seq + i), pair, e, ref, i)
                for i, e in enumerate(events)
            )
        else:
            batch.extend(self._kept(events, walk.drop, walk.boundary, ref, walk.seq, repeats))
        walk.seq += len(batch)
        walk.drop = 0
        if events:
            self._looked_at(walk, events)
        if walk.remaining is not None:
            if len(batch) > walk.remaining:
                del batch[walk.remaining :]
            walk.remaining -= len(batch)
        return batch

    def _looked_at(self, walk: _Walk, events: list[dict[str, Any]]) -> None:
        """The chain has looked at `events` (a page, newest first): its floor and density."""
        top = self.floor if self.floor is not None else int(events[0]["EventTime"])
        floor = walk.floor = self.floor = int(events[-1]["EventTime"])
        self.recent = len(events) / (top - floor + 1)
        if walk.boundary and floor < walk.boundary[0]:
            walk.boundary = None  # past the second it guards: back to the usual page

    def _yielded(self, walk: _Walk, batch: Batch) -> None:
        """Record the EventIds yielded at the oldest second so far: times only go down, so
        those of `batch` are its tail at its last second."""
        last = -batch[-1].key[0]
        k = len(batch) - 1
        while k > 0 and -batch[k - 1].key[0] == last:
            k -= 1
        tail = [str(ev.event.get("EventId", "")) for ev in batch[k:]]
        if k == 0 and last == walk.oldest:
            walk.at_oldest.extend(tail)
        else:
            walk.oldest, walk.at_oldest = last, tail
        if self.track:
            self.pair.events += len(batch)

    def _kept(
        self, events: list[dict[str, Any]], drop: int, boundary: tuple[int, set[str]] | None,
        ref: PageRef, seq: int, repeats: set[int] | None = None,
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
        pair, limiter = self.pair, self.ctx.limiter
        kwargs = dict(params, NextToken=token) if token else params
        tries = _Tries()
        for attempt in range(self.max_attempts):
            await limiter.acquire()
            epoch = limiter.epoch  # the pace this call is sent at (AdaptiveRate)
            pair.calls += 1
            started = self.clock.monotonic()
            watch = self.ctx.watch
            stalled = watch.stalled() if watch is not None else 0.0
            try:
                response = await self.ctx.client.lookup_events(**kwargs)
            except InvalidResponse as bad:  # not retried: see page_check.py
                _log(pair, started, self.clock, CODE)
                raise PairFailed(pair.account, pair.region, CODE, str(bad)) from None
            except Exception as exc:
                kind, tries.code, tries.message = classify(exc, self.ctx.secrets)
                _log(pair, started, self.clock, tries.code)
                self._end_on(kind, exc, token, tries)
                await self._wait_to_retry(kind, attempt, epoch, tries)
                continue
            return self._answered(response, kwargs, started, watch, stalled)
        raise PairFailed(
            pair.account, pair.region, tries.code,
            f"gave up after {self.max_attempts} attempts in a row: {tries.message}",
        )  # fmt: skip

    def _end_on(self, kind: Kind, exc: Exception, token: str | None, tries: _Tries) -> None:
        """Raise what a failed attempt of `kind` ends in, when it ends the chain: a rejected
        token (TokenRejected), a fatal error, or timeouts.MAX_TIMEOUTS timeouts in a row
        (PairFailed). Returns when the call is to be tried again."""
        pair = self.pair
        if kind == "token" and token:
            raise TokenRejected(tries.code, tries.message) from None
        if kind in ("fatal", "token"):
            raise PairFailed(pair.account, pair.region, tries.code, tries.message) from None
        phase = timeout_phase(exc)
        tries.timeouts = tries.timeouts + 1 if phase else 0
        if phase and tries.timeouts >= MAX_TIMEOUTS:
            reason = timed_out_reason(self.ctx.client, phase, tries.timeouts)
            raise PairFailed(pair.account, pair.region, "TimedOut", reason) from None

    async def _wait_to_retry(self, kind: Kind, attempt: int, epoch: int, tries: _Tries) -> None:
        """Before the next attempt: renew an expired session, or spend the retry budget
        (PairFailed once it is spent) and slow the pair down on a throttle or back off."""
        pair = self.pair
        if kind == "expired" and self.ctx.refresh is not None:
            # A session the server let expire is renewed, not a fault: it does not draw
            # on the budget, which sessions expiring every few pages (each chain of the
            # pair retrying) would spend (5 a retry, 1 back a page). One that stays
            # expired ends at max_attempts.
            pair.retries += 1
            await self.ctx.refresh()
            return
        if not self.budget.spend():
            raise PairFailed(
                pair.account, pair.region, tries.code,
                f"retry budget spent ({pair.retries} retries); last error: {tries.message}",
            ) from None  # fmt: skip
        pair.retries += 1
        if kind == "throttle":
            pair.throttled += 1
            # The limiter places the retry a whole interval of the lowered pace after the
            # throttle (`RateLimiter.slow_down`): sooner, the server's bucket would still
            # be empty.
            self.pace.on_throttle(epoch, self.clock.monotonic())
            pair.rate = self.pace.rate
            return
        await self.clock.sleep(self.backoff.delay(attempt))

    def _answered(
        self, response: dict[str, Any], kwargs: dict[str, Any], started: float,
        watch: StallWatch | None, stalled: float,
    ) -> dict[str, Any]:  # fmt: skip
        """A call that answered: the pair's latency and pace, then the page, checked."""
        pair, limiter = self.pair, self.ctx.limiter
        done = self.clock.monotonic()
        latency = done - started
        if limiter.acquired == 1:
            # The pair's first call: the next one goes an interval after its answer, not
            # after its sending. Connection setup can hold a first call back long enough
            # that a second one sent an interval after it reaches the server right behind
            # it, and takes a share of the quota's burst for nothing.
            limiter.space_after(done)
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


def _log(pair: PairState, started: float, clock: Clock, outcome: str) -> None:
    if CALL_LOG.isEnabledFor(logging.DEBUG):
        ms = (clock.monotonic() - started) * 1000
        fields = {"account": pair.account, "region": pair.region, "ms": round(ms),
                  "outcome": outcome, "rate": round(pair.rate, 3)}  # fmt: skip
        CALL_LOG.debug(
            "%s %.0fms %s (rate %.2f/s)", pair.name, ms, outcome, pair.rate,
            extra={"fields": fields},  # cli_logs.JsonFormatter puts them beside msg
        )  # fmt: skip


def _without_seen(
    accept: Callable[[dict[str, Any]], bool] | None, pair: PairState
) -> Callable[[dict[str, Any]], bool] | None:
    """`accept` that also drops what an earlier incremental run wrote (`PairState.seen`,
    `PairState.spans`)."""
    seen, spans = pair.seen, pair.spans
    if not seen and not spans:
        return accept

    def fresh(e: dict[str, Any]) -> bool:
        if e.get("EventId") in seen:
            return False
        if spans:
            when = int(e["EventTime"])
            if any(lo < when < hi for lo, hi in spans):
                return False
        return accept is None or accept(e)

    return fresh
