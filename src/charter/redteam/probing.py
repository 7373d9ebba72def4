"""The attempt plan and the attempt loop: send every attack of a suite to a target, score every output.

Nothing here touches a database or the network itself. The integrator passes

- ``send(messages) -> output``: an async callable that delivers OpenAI-style chat messages
  (``[{"role": "system"|"user", "content": str}, ...]``) to the target and returns its text (a tool call is
  returned as its JSON text);
- ``on_record(record)``: called once per finished attempt, one at a time, to persist it (claim → call → record:
  each record is complete when it is handed over, so a crash never leaves half an attempt);
- ``done``: the ids of attempts already recorded, to resume a run.

Attempt ids are content hashes of what is sent (suite, probe, messages, converters, repetition) and of the run's
seed; canaries and converter randomness derive from the seed too, so planning the same run again gives the same
ids (resume) and two runs never share one.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import inspect
import json
import random
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

from charter.redteam import converters as conv
from charter.redteam.detectors import DetectionContext, Detector, Judge, PiiScanner, make_detector
from charter.redteam.rules import (
    HIT_THRESHOLD,
    ProbeDetectorResult,
    ProbeObservation,
    Tally,
    results_from_tallies,
    tally_scores,
)
from charter.redteam.suites import SuiteSpec

ChatMessage = dict[str, str]
Send = Callable[[list[ChatMessage]], Awaitable[str]]
OnRecord = Callable[["AttemptRecord"], Awaitable[None] | None]
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

MAX_ERROR_CHARS: Final = 500
CANARY_PREFIX: Final = "CNRY"
_B32: Final = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no I, O, 0, 1: nothing a model "corrects"


class RunConfigError(ValueError):
    """A run that cannot start as asked (bad limits, a probe name that does not exist)."""


# ----------------------------------------------------------------------------- planning


@dataclass(frozen=True, slots=True)
class PlannedAttempt:
    attempt_id: str
    suite_key: str
    suite_version: int
    probe_id: str
    prompt_index: int
    document_index: int | None
    converters: str
    repetition: int
    canary: str
    messages: tuple[tuple[str, str], ...]
    goal: str
    document: str | None = None

    @property
    def probe(self) -> str:
        return f"{self.suite_key}.{self.probe_id}"

    @property
    def prompt(self) -> str:
        return next((content for role, content in reversed(self.messages) if role == "user"), "")

    @property
    def system_prompt(self) -> str | None:
        return next((content for role, content in self.messages if role == "system"), None)

    def chat(self) -> list[ChatMessage]:
        return [{"role": role, "content": content} for role, content in self.messages]


def _digest(*parts: object) -> bytes:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()


def make_canary(material: bytes) -> str:
    """A secret-looking token, e.g. ``CNRY-7QK2M9XD``: unique per attempt, unlikely in any honest output."""
    value = int.from_bytes(material[:8], "big")
    chars = []
    for _ in range(8):
        value, rem = divmod(value, len(_B32))
        chars.append(_B32[rem])
    return f"{CANARY_PREFIX}-{''.join(chars)}"


def attempt_id_for(
    seed: str,
    suite_key: str,
    suite_version: int,
    probe_id: str,
    messages: Sequence[tuple[str, str]],
    converters: str,
    rep: int,
) -> str:
    """SHA-256 of what the attempt sends and of the run seed it was planned from (hex)."""
    canonical = json.dumps(
        [seed, suite_key, suite_version, probe_id, [list(m) for m in messages], converters, rep],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def plan(
    suites: Sequence[SuiteSpec],
    *,
    seed: str,
    repeats: int = 1,
    probes: Collection[str] | None = None,
) -> list[PlannedAttempt]:
    """Every attempt of a run, in a stable order: probe x prompt x document x converter variant x repetition.

    `repeats` is N, the number of times each variant of each probe is sent. `probes` limits the run to
    full probe names (``<suite key>.<probe id>``). Pure: the same arguments give the same attempts and ids.
    """
    if not 1 <= repeats <= 1_000:
        raise RunConfigError(f"repeats must be from 1 to 1000, got {repeats}")
    known = {s.qualified(p) for s in suites for p in s.probes}
    if probes is not None:
        unknown = sorted(set(probes) - known)
        if unknown:
            raise RunConfigError(f"unknown probe {unknown[0]!r}; probes are named '<suite key>.<probe id>'")
    out: list[PlannedAttempt] = []
    for suite in suites:
        for probe in suite.probes:
            if probes is not None and suite.qualified(probe) not in probes:
                continue
            chains = probe.converter_chains()
            docs: list[tuple[int | None, str | None]] = list(enumerate(probe.documents)) or [(None, None)]
            for pi, prompt in enumerate(probe.prompts):
                for di, document in docs:
                    for chain in chains:
                        label = conv.chain_label(chain)
                        for rep in range(repeats):
                            material = _digest(seed, suite.key, suite.version, probe.id, pi, di, label, rep)
                            canary = make_canary(material)
                            rng = random.Random(int.from_bytes(material[8:16], "big"))
                            user = prompt.replace("{document}", document or "").replace("{canary}", canary)
                            user = conv.apply_chain(chain, user, rng, protect=(canary,))
                            messages: list[tuple[str, str]] = []
                            if probe.system_prompt:
                                messages.append(("system", probe.system_prompt.replace("{canary}", canary)))
                            messages.append(("user", user))
                            out.append(
                                PlannedAttempt(
                                    attempt_id=attempt_id_for(
                                        seed, suite.key, suite.version, probe.id, messages, label, rep
                                    ),
                                    suite_key=suite.key,
                                    suite_version=suite.version,
                                    probe_id=probe.id,
                                    prompt_index=pi,
                                    document_index=di,
                                    converters=label,
                                    repetition=rep,
                                    canary=canary,
                                    messages=tuple(messages),
                                    goal=probe.goal,
                                    document=document.replace("{canary}", canary) if document else None,
                                )
                            )
    return out


def build_detectors(
    suites: Sequence[SuiteSpec], *, pii_scanner: PiiScanner | None = None, judge: Judge | None = None
) -> dict[str, tuple[Detector, ...]]:
    """Full probe name → its detectors. Optional judge detectors are left out when no judge is given."""
    book: dict[str, tuple[Detector, ...]] = {}
    for suite in suites:
        for probe in suite.probes:
            dets = [
                make_detector(d.label, d.type, d.params(), pii_scanner=pii_scanner, judge=judge)
                for d in probe.detectors
                if not (d.type == "judge" and judge is None and d.optional)
            ]
            book[suite.qualified(probe)] = tuple(dets)
    return book


def classification_of(suites: Iterable[SuiteSpec]) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for suite in suites:
        out.update(suite.classification())
    return out


# ----------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    attempt: PlannedAttempt
    output: str | None
    error: str | None
    scores: Mapping[str, float | None]
    detector_errors: Mapping[str, str] = field(default_factory=dict)
    duration_s: float = 0.0

    @property
    def attempt_id(self) -> str:
        return self.attempt.attempt_id

    @property
    def probe(self) -> str:
        return self.attempt.probe

    @property
    def status(self) -> Literal["ok", "error"]:
        return "error" if self.error is not None else "ok"

    @property
    def hit(self) -> bool:
        return any(s is not None and s >= HIT_THRESHOLD for s in self.scores.values())

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for the integrator to store (prompt, converters, output, detector scores, ...)."""
        a = self.attempt
        return {
            "attempt_id": a.attempt_id,
            "probe": a.probe,
            "suite_key": a.suite_key,
            "suite_version": a.suite_version,
            "probe_id": a.probe_id,
            "prompt_index": a.prompt_index,
            "document_index": a.document_index,
            "converters": a.converters,
            "repetition": a.repetition,
            "canary": a.canary,
            "messages": a.chat(),
            "prompt": a.prompt,
            "output": self.output,
            "status": self.status,
            "error": self.error,
            "scores": dict(self.scores),
            "detector_errors": dict(self.detector_errors),
            "hit": self.hit,
            "duration_ms": round(self.duration_s * 1000, 3),
        }


def summarize(
    records: Iterable[AttemptRecord | Mapping[str, Any]], classification: Mapping[str, tuple[str, ...]]
) -> list[ProbeDetectorResult]:
    """Per probe and detector: passes, hits, nones (errored attempts, failed detectors), ASR, Wilson 95 %.

    Takes records or their stored ``as_dict()`` form, so a resumed run is summarised over everything stored.
    """
    scores: dict[tuple[str, str], list[float | None]] = collections.defaultdict(list)
    for r in records:
        probe, by_detector = (r.probe, r.scores) if isinstance(r, AttemptRecord) else (r["probe"], r["scores"])
        for name, value in by_detector.items():
            scores[probe, name].append(value)
    tallies: dict[tuple[str, str], Tally] = {key: tally_scores(values) for key, values in scores.items()}
    return results_from_tallies(tallies, classification)


def observations(
    records: Iterable[AttemptRecord | Mapping[str, Any]],
    *,
    run_id: str,
    finished_at: datetime,
    release: str | None = None,
) -> list[ProbeObservation]:
    """Per probe, what a finished run saw: attempts with at least one score (errored ones are left out) and
    attempts any detector hit. The probe-level attack success rate (hits / evaluated) feeds `severity_for`,
    and the observation feeds `status_after_observation` / `confirm_fix` for the probe's finding."""
    counts: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    for r in records:
        probe, scores = (r.probe, r.scores) if isinstance(r, AttemptRecord) else (r["probe"], r["scores"])
        present = [v for v in scores.values() if v is not None]
        if present:
            counts[probe][0] += 1
            counts[probe][1] += any(v >= HIT_THRESHOLD for v in present)
    return [
        ProbeObservation(run_id, finished_at, probe, evaluated, hits, release)
        for probe, (evaluated, hits) in sorted(counts.items())
    ]


# ----------------------------------------------------------------------------- the loop


class RateLimiter:
    """At most `rate` starts per second, evenly spaced; clock and sleep injected (deterministic in tests)."""

    def __init__(self, rate: float, clock: Clock, sleep: Sleep) -> None:
        if not rate > 0:
            raise RunConfigError(f"rate_per_second must be above 0, got {rate}")
        self._interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._next: float | None = None

    async def acquire(self) -> None:
        now = self._clock()
        slot = now if self._next is None else max(now, self._next)
        self._next = slot + self._interval  # reserved before awaiting: no two callers get the same slot
        if slot > now:
            await self._sleep(slot - now)


@dataclass(frozen=True, slots=True)
class RunStats:
    planned: int
    skipped: int
    sent: int
    errored: int
    hit: int


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text[:MAX_ERROR_CHARS]


async def _score_all(
    detectors: Sequence[Detector], ctx: DetectionContext, timeout_s: float
) -> tuple[dict[str, float | None], dict[str, str]]:
    scores: dict[str, float | None] = {}
    errors: dict[str, str] = {}
    for det in detectors:
        try:
            if det.type == "judge":
                async with asyncio.timeout(timeout_s):
                    value = await det.score(ctx)
            else:
                value = det.score_sync(ctx)
            scores[det.name] = value
        except TimeoutError:
            scores[det.name] = None
            errors[det.name] = f"timeout: the judge gave no score within {timeout_s:g} s"
        except Exception as exc:  # a detector failure is a missing score, never a lost attempt
            scores[det.name] = None
            errors[det.name] = _short(exc)
    return scores, errors


async def run_attempt(
    attempt: PlannedAttempt, send: Send, detectors: Sequence[Detector], *, timeout_s: float, clock: Clock
) -> AttemptRecord:
    """Send one attempt and score its output; a timeout or a failure of the target is an errored record."""
    started = clock()
    output: str | None = None
    error: str | None = None
    try:
        async with asyncio.timeout(timeout_s):
            result = await send(attempt.chat())
        if isinstance(result, str):
            output = result
        else:
            error = f"the target returned {type(result).__name__}, expected text"
    except TimeoutError:
        error = f"timeout: no answer within {timeout_s:g} s"
    except Exception as exc:  # the target's failure is data, recorded as an errored attempt
        error = _short(exc)
    if output is None:
        return AttemptRecord(attempt, None, error, {d.name: None for d in detectors}, {}, clock() - started)
    ctx = DetectionContext(
        output=output,
        prompt=attempt.prompt,
        canary=attempt.canary,
        goal=attempt.goal,
        probe=attempt.probe,
        system_prompt=attempt.system_prompt,
        document=attempt.document,
    )
    scores, errors = await _score_all(detectors, ctx, timeout_s)
    return AttemptRecord(attempt, output, None, scores, errors, clock() - started)


async def run_attempts(
    planned: Sequence[PlannedAttempt],
    send: Send,
    detectors: Mapping[str, Sequence[Detector]],
    *,
    on_record: OnRecord,
    done: Collection[str] = frozenset(),
    concurrency: int = 8,
    rate_per_second: float | None = None,
    timeout_s: float = 60.0,
    clock: Clock = time.monotonic,
    sleep: Sleep = asyncio.sleep,
) -> RunStats:
    """Run the planned attempts not in `done`, at most `concurrency` at a time and `rate_per_second` starts.

    Each finished attempt goes to `on_record` (calls are serialised). If `on_record` raises, the run stops:
    attempts in flight are cancelled and the error propagates; everything recorded before stays recorded and
    a later call with those ids in `done` resumes.
    """
    if not 1 <= concurrency <= 1_024:
        raise RunConfigError(f"concurrency must be from 1 to 1024, got {concurrency}")
    if not timeout_s > 0:
        raise RunConfigError(f"timeout_s must be above 0, got {timeout_s}")
    missing = sorted({a.probe for a in planned} - set(detectors))
    if missing:
        raise RunConfigError(f"no detectors for probe {missing[0]!r}; build them with build_detectors()")
    done_set = frozenset(done)
    queue = collections.deque(a for a in planned if a.attempt_id not in done_set)
    skipped = len(planned) - len(queue)
    limiter = RateLimiter(rate_per_second, clock, sleep) if rate_per_second is not None else None
    record_lock = asyncio.Lock()
    counts = {"sent": 0, "errored": 0, "hit": 0}

    async def worker() -> None:
        while queue:
            attempt = queue.popleft()
            if limiter is not None:
                await limiter.acquire()
            record = await run_attempt(attempt, send, detectors[attempt.probe], timeout_s=timeout_s, clock=clock)
            async with record_lock:
                result = on_record(record)
                if inspect.isawaitable(result):
                    await result
            counts["sent"] += 1
            counts["errored"] += record.status == "error"
            counts["hit"] += record.hit

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(min(concurrency, len(queue))):
                group.create_task(worker())
    except ExceptionGroup as failed:  # the first failure, as itself (the others are the cancelled workers)
        raise failed.exceptions[0] from None
    return RunStats(len(planned), skipped, counts["sent"], counts["errored"], counts["hit"])
