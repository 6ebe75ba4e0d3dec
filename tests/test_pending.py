"""The crawl's bounded pending queue (crawler.pending) and compact hash set (crawler.seen)."""

from __future__ import annotations

import asyncio
import random
import tracemalloc

import pytest

from crawler.pending import PendingQueue
from crawler.seen import HashSet
from db.frontier import Entry


def _entries(n: int, start: int = 0) -> list[Entry]:
    kinds = ("html", "sitemap")
    return [Entry(f"http://h/p/{i}/é?q={i}", i % 70_000, kinds[i % 2]) for i in range(start, start + n)]


async def _drain(queue: PendingQueue, count: int) -> list[Entry]:
    taken = []
    for _ in range(count):
        taken.append(await queue.get())
        queue.task_done()
    return taken


async def test_order_depth_and_kind_survive_the_spill_file() -> None:
    queue = PendingQueue(window=8)
    entries = _entries(500)
    queue.extend(entries)
    assert queue.qsize() == 500
    assert queue.spilled_total > 0  # most of them went to disk
    assert await _drain(queue, 500) == [Entry(e.url, e.depth % 65536, e.kind) for e in entries]
    assert queue.empty()
    queue.close()


async def test_puts_interleaved_with_gets_stay_first_in_first_out() -> None:
    queue = PendingQueue(window=4)
    rng = random.Random(8)
    expected, taken, produced = [], [], 0
    while produced < 300 or queue.qsize():
        if produced < 300 and rng.random() < 0.55:
            batch = _entries(rng.randint(1, 9), produced)
            produced += len(batch)
            expected += batch
            queue.extend(batch)
        elif queue.qsize():
            taken += await _drain(queue, 1)
    assert taken == expected
    queue.close()


async def test_join_waits_for_entries_still_on_disk() -> None:
    queue = PendingQueue(window=2)
    queue.extend(_entries(50))
    done: list[str] = []

    async def worker() -> None:
        while True:
            entry = await queue.get()
            await asyncio.sleep(0)
            done.append(entry.url)
            queue.task_done()

    tasks = [asyncio.create_task(worker()) for _ in range(3)]
    await asyncio.wait_for(queue.join(), 5)
    for task in tasks:
        task.cancel()
    assert sorted(done) == sorted(e.url for e in _entries(50))
    queue.close()


async def test_a_url_longer_than_one_read_comes_back_whole() -> None:
    queue = PendingQueue(window=2)
    long_url = "http://h/" + "x" * 300_000
    queue.extend(
        [Entry("http://h/a"), Entry("http://h/b"), Entry(long_url, 3, "sitemap"), Entry("http://h/c")]
    )
    taken = await _drain(queue, 4)
    assert [e.url for e in taken] == ["http://h/a", "http://h/b", long_url, "http://h/c"]
    assert taken[2] == Entry(long_url, 3, "sitemap")


def test_a_window_too_small_is_refused() -> None:
    with pytest.raises(ValueError):
        PendingQueue(window=1)


def test_hash_set_agrees_with_a_set() -> None:
    rng = random.Random(5)
    values = [rng.randrange(-(2**63) + 1, 2**63) for _ in range(20_000)]
    compact, reference = HashSet(), set()
    for value in values[:15_000]:
        compact.add(value)
        reference.add(value)
    compact.update(values[:100])  # again: no duplicates
    assert len(compact) == len(reference) == 15_000
    assert all(v in compact for v in values[:15_000])
    assert not any(v in compact for v in values[15_000:])
    assert HashSet([1, 2, 2, 3]).__len__() == 3


@pytest.mark.parametrize("spread", ["uniform", "one bucket", "edges"])
def test_hash_set_agrees_with_a_set_through_many_merges(monkeypatch: pytest.MonkeyPatch, spread: str) -> None:
    # small thresholds: hundreds of merges; values spread over every bucket, packed in one
    # (small ints: correct, only unbalanced), or at the ends of the 64-bit range and the buckets'
    monkeypatch.setattr("crawler.seen.MIN_RECENT", 8)
    monkeypatch.setattr("crawler.seen.MAX_RECENT", 64)
    rng = random.Random(spread)
    if spread == "uniform":
        values = [rng.randrange(-(2**63), 2**63) for _ in range(6_000)]
    elif spread == "one bucket":
        values = [rng.randrange(-5_000, 5_000) for _ in range(6_000)]
    else:
        bounds = [(i << 56) + d for i in range(-128, 128) for d in (-1, 0, 1)]
        edges = [v for v in [-(2**63), 2**63 - 1, -1, 0, 1, *bounds] if -(2**63) <= v < 2**63]
        values = edges + [rng.randrange(-(2**63), 2**63) for _ in range(500)]
    compact, reference = HashSet(), set()
    for at, value in enumerate(values):
        compact.add(value)
        reference.add(value)
        if at % 997 == 0:
            assert len(compact) == len(reference)
    assert len(compact) == len(reference)
    assert all(v in compact for v in reference)
    absent = [rng.randrange(-(2**63), 2**63) for _ in range(2_000)]
    absent += [v + 1 for v in reference if v < 2**63 - 1]
    assert not any(v in compact for v in absent if v not in reference)


def test_hash_set_merges_without_a_second_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    # With one sorted array, each merge built a new one beside the old: a million URLs peaked at
    # 21 MB (issue 14). Bucket by bucket, the peak stays near the 8 bytes an entry it keeps
    # (recent additions kept small here so that only the bulk counts).
    monkeypatch.setattr("crawler.seen.MIN_RECENT", 256)
    monkeypatch.setattr("crawler.seen.MAX_RECENT", 1024)
    rng = random.Random(9)
    values = [rng.randrange(-(2**63), 2**63) for _ in range(200_000)]
    tracemalloc.start()
    try:
        compact = HashSet()
        for value in values:
            compact.add(value)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(compact) == len(set(values))
    assert peak < 1.25 * 8 * len(values), peak
