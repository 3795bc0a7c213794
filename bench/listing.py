"""What answering STAT, LIST and UIDL from the maildrop snapshot costs (``transaction.answer``),
with 200 and 10,000 messages, one in ten marked deleted; the best of five runs.

    .venv/bin/python -m bench.listing
"""

from __future__ import annotations

import functools
import timeit

from pop3srv.maildrop import Maildrop
from pop3srv.protocol import events as ev
from pop3srv.storage.base import MessageInfo
from pop3srv.transaction import answer

COMMANDS: dict[str, ev.Command] = {"STAT": ev.Stat(), "LIST": ev.List(), "UIDL": ev.Uidl()}


def main() -> None:
    for count in (200, 10_000):
        infos = [MessageInfo(float(i), f"m{i:06d}", 1000 + i) for i in range(count)]
        drop = Maildrop(infos)
        for number in range(1, count + 1, 10):
            drop.mark_deleted(number)
        calls = max(1, 200_000 // count)
        for name, command in COMMANDS.items():
            best = min(
                timeit.repeat(functools.partial(answer, drop, command), number=calls, repeat=5)
            )
            print(f"{count:>6} messages, {name}: {best / calls * 1e6:,.1f} µs")


if __name__ == "__main__":
    main()
