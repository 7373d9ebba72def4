"""SDK prompt cache: the time of a cached `PromptCache.get` (the SDK part of the prompts benchmark).

    .venv/bin/python benchmarks/prompts_cache.py [--keys 1000] [--calls 200000] [--threads 4]

Fills a PromptCache (fetch in-process, TTL long enough that every measured get is a fresh hit) with `--keys`
prompts across 10 systems, then times gets over those keys in random order: single-call latency (p50/p95/p99, each
call timed with perf_counter_ns, so ~0.1 µs of timer overhead included) and the mean over batches, on one thread and
with `--threads` threads reading at once. Peers in the same run: a `functools.lru_cache` hit on the same key (what a
hand-rolled memo would cost) and a bare dict look-up (the floor). Also prints `Prompt.render` for scale.
Target: cached get p95 < 50 µs.
"""

from __future__ import annotations

import argparse
import functools
import random
import statistics
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from charter.prompts.cache import CacheKey, Fetched, NotModified, Prompt, PromptCache
from charter.prompts.templates import PromptContent

TARGET_US = 50.0


def _fetch(key: CacheKey, etag: str | None) -> Fetched | NotModified:
    content = PromptContent.text(f"You are the {key.name} assistant of {key.system}. Answer {{{{ question }}}}.")
    return Fetched(Prompt(key.name, 3, content.hash, content), content.hash)


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _time_calls(call: Callable[[Any], object], keys: list[Any], calls: int) -> dict[str, float]:
    single: list[float] = []
    clock = time.perf_counter_ns
    for i in range(calls):
        key = keys[i % len(keys)]
        start = clock()
        call(key)
        single.append((clock() - start) / 1000)
    batch_means = []
    batch = 1000
    for b in range(calls // batch):
        chunk = [keys[(b * batch + j) % len(keys)] for j in range(batch)]
        start = clock()
        for key in chunk:
            call(key)
        batch_means.append((clock() - start) / 1000 / batch)
    return {
        "p50": _percentile(single, 0.50),
        "p95": _percentile(single, 0.95),
        "p99": _percentile(single, 0.99),
        "mean": statistics.fmean(batch_means),
    }


def _threaded(call: Callable[[Any], object], keys: list[Any], calls: int, threads: int) -> dict[str, float]:
    results: list[dict[str, float]] = []
    lock = threading.Lock()

    def worker() -> None:
        stats = _time_calls(call, random.sample(keys, len(keys)), calls // threads)
        with lock:
            results.append(stats)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return {k: max(r[k] for r in results) for k in ("p50", "p95", "p99", "mean")}


def _line(label: str, stats: dict[str, float]) -> str:
    return (
        f"  {label:<34} p50 {stats['p50']:7.2f} µs  p95 {stats['p95']:7.2f} µs  p99 {stats['p99']:7.2f} µs"
        f"  mean {stats['mean']:6.2f} µs"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    random.seed(7)

    cache = PromptCache(_fetch, ttl=3600)
    keys = [(f"system-{i % 10}", f"prompt-{i}") for i in range(args.keys)]
    for system, name in keys:
        cache.get(system, name)
    random.shuffle(keys)

    def cached_get(key: tuple[str, str]) -> Prompt:
        return cache.get(key[0], key[1], label="production")

    table = {CacheKey(s, n, "production", None): cache.get(s, n) for s, n in keys}
    memo = functools.lru_cache(maxsize=None)(lambda key: table[CacheKey(key[0], key[1], "production", None)])
    for key in keys:
        memo(key)
    floor_keys = list(table)

    get = _time_calls(cached_get, keys, args.calls)
    lru = _time_calls(memo, keys, args.calls)
    floor = _time_calls(table.get, floor_keys, args.calls)
    threaded = _threaded(cached_get, keys, args.calls, args.threads)
    prompt = cache.get(*keys[0])
    render = _time_calls(lambda _: prompt.render(question="How do labels move?"), [0], 20_000)
    stats = cache.stats
    cache.close()

    print(f"prompt cache: {args.keys} prompts cached, {args.calls} gets per run (fresh hits)")
    print(_line("PromptCache.get (1 thread)", get))
    print(_line(f"PromptCache.get ({args.threads} threads, worst)", threaded))
    print(_line("peer: functools.lru_cache hit", lru))
    print(_line("peer: dict.get (floor)", floor))
    print(_line("Prompt.render (for scale)", render))
    print(f"ratio get/lru_cache: p50 x{get['p50'] / lru['p50']:.2f}, mean x{get['mean'] / lru['mean']:.2f}")
    print(f"fetches during the run: {stats.fetches} (the {args.keys} warm-up misses), hits: {stats.hits}")
    ok = get["p95"] < TARGET_US and threaded["p95"] < TARGET_US and stats.fetches == args.keys
    print(f"target cached get p95 < {TARGET_US:g} µs: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
