"""SIP2 codec throughput: parse and format rates, as ratios to a bare split/decode baseline.

The baseline does the least any SIP2 reader must do with the same frames:
decode the bytes and split on ``|``.  Both are measured in this run, so the
ratio says what the codec's checks (checksum, fixed-field layout, dates,
field ids) cost on this machine.

    PYTHONPATH=. python bench/sip2_codec.py [--frames 20000] [--rounds 5] [--seed 1]

(or plain ``python bench/sip2_codec.py`` once the project is installed).
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable, Sequence

from sip2_server import Codec, Message
from sip2_server.testing import random_frame


def best_rate(work: Callable[[], int], rounds: int) -> float:
    """Items per second of the fastest of ``rounds`` runs (the least disturbed one)."""
    best = float("inf")
    count = 0
    for _ in range(rounds):
        start = time.perf_counter()
        count = work()
        best = min(best, time.perf_counter() - start)
    return count / best


def baseline(frames: Sequence[bytes]) -> int:
    for frame in frames:
        frame.decode("utf-8").split("|")
    return len(frames)


def parse(codec: Codec, frames: Sequence[bytes]) -> int:
    for frame in frames:
        codec.decode(frame)
    return len(frames)


def format_all(codec: Codec, messages: Sequence[Message]) -> int:
    for message in messages:
        codec.encode(message, sequence=message.sequence, checksum=message.checksummed)
    return len(messages)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    codec = Codec()
    rng = random.Random(args.seed)
    pairs = [random_frame(rng, codec) for _ in range(args.frames)]
    messages = [m for m, _ in pairs]
    frames = [f for _, f in pairs]
    size = sum(map(len, frames)) / len(frames)

    base = best_rate(lambda: baseline(frames), args.rounds)
    parsed = best_rate(lambda: parse(codec, frames), args.rounds)
    formatted = best_rate(lambda: format_all(codec, messages), args.rounds)

    print(f"{len(frames)} frames of all {len({m.id for m in messages})} layouts, mean {size:.0f} bytes, "
          f"half with AY/AZ; best of {args.rounds} rounds")
    print(f"{'baseline decode+split':<24}{base:>12,.0f} frames/s   1.00x")
    for name, rate in (("codec parse", parsed), ("codec format", formatted)):
        print(f"{name:<24}{rate:>12,.0f} frames/s   {rate / base:.3f}x of baseline "
              f"({base / rate:.1f}x slower)")


if __name__ == "__main__":
    main()
