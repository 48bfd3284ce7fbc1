"""SerialWriter: one thread, arrival order, every result or exception back to its awaiting request."""

from __future__ import annotations

import asyncio
import threading

import pytest

from sip2_server.writer import SerialWriter


@pytest.fixture
def writer():
    w = SerialWriter(name="test-writer")
    yield w
    w.close()


def test_writes_run_in_arrival_order_in_one_thread(writer: SerialWriter) -> None:
    ran: list[tuple[int, str]] = []

    def write(n: int) -> int:
        ran.append((n, threading.current_thread().name))
        return n * n

    async def main() -> list[int]:
        return await asyncio.gather(*(writer.run(lambda n=n: write(n)) for n in range(200)))

    assert asyncio.run(main()) == [n * n for n in range(200)]
    assert [n for n, _ in ran] == list(range(200))
    assert {name for _, name in ran} == {"test-writer-0"}  # one writer thread (SQLite)


def test_an_exception_reaches_only_its_own_request(writer: SerialWriter) -> None:
    def fail() -> None:
        raise ValueError("boom")

    async def main() -> list[object]:
        return await asyncio.gather(writer.run(lambda: 1), writer.run(fail), writer.run(lambda: 3),
                                    return_exceptions=True)

    first, failed, third = asyncio.run(main())
    assert (first, third) == (1, 3)
    assert isinstance(failed, ValueError) and str(failed) == "boom"


def test_a_write_cancelled_before_it_started_is_not_run(writer: SerialWriter) -> None:
    gate, ran = threading.Event(), []

    async def main() -> None:
        blocker = asyncio.ensure_future(writer.run(gate.wait))
        queued = asyncio.ensure_future(writer.run(lambda: ran.append("queued")))
        await asyncio.sleep(0.05)  # both are in the writer's queue; the first one holds the thread
        queued.cancel()
        await asyncio.sleep(0)
        gate.set()
        await blocker
        assert await writer.run(lambda: "after") == "after"
        assert queued.cancelled()

    asyncio.run(main())
    assert ran == []


def test_close_runs_what_is_queued() -> None:
    writer, ran = SerialWriter(), []

    async def main() -> None:
        futures = [asyncio.ensure_future(writer.run(lambda n=n: ran.append(n))) for n in range(5)]
        await asyncio.sleep(0)  # queued
        await asyncio.to_thread(writer.close)
        await asyncio.gather(*futures)

    asyncio.run(main())
    assert ran == list(range(5))


def test_writes_queued_together_wake_the_loop_once() -> None:
    writer = SerialWriter(hand_back_after=60.0)  # hand back only when the queue runs empty
    gate, wake_ups = threading.Event(), []

    async def main() -> list[int]:
        loop = asyncio.get_running_loop()
        original = loop.call_soon_threadsafe

        def counted(*args, **kwargs):
            wake_ups.append(threading.current_thread().name)
            return original(*args, **kwargs)

        loop.call_soon_threadsafe = counted  # type: ignore[method-assign]
        first = asyncio.ensure_future(writer.run(gate.wait))  # holds the thread while the rest queue up
        rest = [asyncio.ensure_future(writer.run(lambda n=n: n)) for n in range(50)]
        await asyncio.sleep(0.05)
        gate.set()
        await first
        return await asyncio.gather(*rest)

    try:
        assert asyncio.run(main()) == list(range(50))
    finally:
        writer.close()
    assert wake_ups == ["sip2-writer-0"]


class _RecordingGroup:
    """A stand-in for Database.group: notes when each group opens and ends, and can fail its commit."""

    def __init__(self, fail_commit: bool = False) -> None:
        self.events: list[str] = []
        self.fail_commit = fail_commit

    def __call__(self):
        group = self

        class _Group:
            def __enter__(self) -> None:
                group.events.append("begin")

            def __exit__(self, *exc: object) -> None:
                group.events.append("commit")
                if group.fail_commit:
                    raise OSError("disk full at commit")

        return _Group()


def test_grouped_writes_are_answered_only_after_their_group_commits() -> None:
    group = _RecordingGroup()
    writer = SerialWriter(name="grouped-writer", group=group)

    def write(n: int) -> int:
        group.events.append(f"write {n}")
        return n

    async def main() -> list[int]:
        async def answered(n: int) -> int:
            result = await writer.run(lambda: write(n))
            group.events.append(f"answer {n}")
            return result
        return await asyncio.gather(*(answered(n) for n in range(50)))

    try:
        assert asyncio.run(main()) == list(range(50))
    finally:
        writer.close()
    for n in range(50):
        written, answered = group.events.index(f"write {n}"), group.events.index(f"answer {n}")
        assert "commit" in group.events[written:answered]
    assert group.events.count("begin") == group.events.count("commit") <= 50


def test_a_failed_group_commit_fails_every_write_in_it() -> None:
    writer = SerialWriter(name="failing-writer", group=_RecordingGroup(fail_commit=True))

    async def main() -> list[object]:
        return await asyncio.gather(*(writer.run(lambda n=n: n) for n in range(5)), return_exceptions=True)

    try:
        results = asyncio.run(main())
    finally:
        writer.close()
    assert all(isinstance(result, OSError) for result in results)
