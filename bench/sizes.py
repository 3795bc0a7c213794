"""What exact LIST sizes cost the folder store: listing a folder of N small messages (half of
them with bare LF line ends) with the transfer-size cache cold (every file read once), warm
from the state-dir file after a restart (no file read), and the stat-only scan that listed
stored sizes before (the baseline). Wall-clock medians of several runs, in this process.
Also the CPU cost per MiB of counting a streamed S3 RETR (``WireSize``) next to the body
encoder every RETR runs anyway.

    .venv/bin/python -m bench.sizes [--messages 10000] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from unittest.mock import patch

from bench.compare_mail import big_message, small_message
from pop3srv.protocol.octets import WireSize
from pop3srv.protocol.writer import BodyEncoder
from pop3srv.storage.base import FolderLocation
from pop3srv.storage.folder import FolderStore
from pop3srv.storage.sizes import SizeCache, state_cache


def write_folder(directory: Path, count: int) -> None:
    directory.mkdir(parents=True)
    for index in range(count):
        raw = small_message(index)
        if index % 2:
            raw = raw.replace(b"\r\n", b"\n")
        (directory / f"m{index:06d}").write_bytes(raw)


def stored_sizes(location: FolderLocation) -> None:
    """The pre-issue listing: the same scan with stored sizes from stat, nothing read."""
    with patch("pop3srv.storage.folder.folder_size", lambda cache, path, st: st.st_size):
        FolderStore(location)._list_sync()


def median_ms(runs: int, work: Callable[[], object], setup: Callable[[], None]) -> float:
    times = []
    for _ in range(runs):
        setup()
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def cpu_ms_per_mib(runs: int, work: Callable[[bytes], object]) -> float:
    raw = big_message(40)
    chunks = [raw[i : i + 256 * 1024] for i in range(0, len(raw), 256 * 1024)]
    times = []
    for _ in range(runs):
        start = time.process_time()
        for chunk in chunks:
            work(chunk)
        times.append((time.process_time() - start) * 1000 / (len(raw) / 2**20))
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root, state = Path(tmp) / "mail", Path(tmp) / "state"
        write_folder(root, args.messages)
        location = FolderLocation(root)

        def cold() -> None:
            FolderStore(location, sizes=state_cache(state))._list_sync()

        def forget() -> None:
            (state / "transfer-sizes.json").unlink(missing_ok=True)

        def warm() -> None:  # a restarted process: the cache is loaded from state-dir
            FolderStore(location, sizes=state_cache(state))._list_sync()

        baseline = median_ms(args.runs, lambda: stored_sizes(location), lambda: None)
        cold_ms = median_ms(args.runs, cold, forget)
        cold()
        warm_ms = median_ms(args.runs, warm, lambda: None)
        load_ms = median_ms(args.runs, lambda: state_cache(state), lambda: None)
        in_memory = SizeCache()
        FolderStore(location, sizes=in_memory)._list_sync()
        hot_ms = median_ms(
            args.runs, lambda: FolderStore(location, sizes=in_memory)._list_sync(), lambda: None
        )
        size_kib = (state / "transfer-sizes.json").stat().st_size / 1024
    print(f"{args.messages} messages, median of {args.runs} runs")
    print(f"same scan, stored sizes (before)           {baseline:8.1f} ms")
    print(f"cold: every file read once and saved       {cold_ms:8.1f} ms")
    print(f"warm: cache loaded from state-dir + scan   {warm_ms:8.1f} ms")
    print(f"  of which loading the cache file          {load_ms:8.1f} ms ({size_kib:.0f} KiB)")
    print(f"hot: cache in memory (later logins)        {hot_ms:8.1f} ms")
    counting = cpu_ms_per_mib(args.runs, WireSize().feed)
    encoding = cpu_ms_per_mib(args.runs, BodyEncoder().encode)
    print(f"S3 RETR: counting octets (WireSize)        {counting:8.2f} ms CPU per MiB")
    print(f"         the body encoder, for comparison  {encoding:8.2f} ms CPU per MiB")


if __name__ == "__main__":
    main()
