"""pop3srv with three candidate optimisations patched in at start-up, to measure what they would
gain before anyone changes the real code (``bench.compare_dovecot --targets
pop3srv,pop3srv-experiment,...``). Nothing here is used by pop3srv itself.

- ``encoder``: ``BodyEncoder.encode`` checks with two ``bytes.count`` whether a chunk is already
  CRLF throughout (every LF preceded by CR, no trailing CR); then only dot-stuffing is left: one
  ``replace`` if a line starts with ".", else the chunk goes out as it is (no copy). Other
  chunks take the three ``replace`` passes as before.
- ``inline-open``: ``FolderStore.stream`` opens the file and reads the first chunk on the trio
  thread (a page-cache read of a small local file), instead of one worker-thread round trip
  per message; later chunks still go through worker threads.
- ``coalesce``: the outbox holds the ``+OK`` status line and body chunks until the body ends
  or 256 KiB are pending, so a small message costs one ``send`` instead of three.

- ``list-cache``: ``FolderStore.list_messages`` reuses the previous listing of the folder while
  the folder's mtime (ns) and inode are unchanged and the mtime is more than 2 s old (a
  delivery renames a file into the folder, which changes its mtime; a file changed in place
  would not be seen, which SES deliveries never do). Saves the ``scandir`` + one ``stat``
  per message at every login.

Choose with ``POP3SRV_EXPERIMENT=encoder,inline-open,coalesce,list-cache`` (the default: all).

    python -m bench.pop3srv_experiment serve ...   # the same arguments as python -m pop3srv
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.retr import PASSWORD, USER

# "encoder", "inline-open" and "coalesce" were measured here and are now part of pop3srv
# itself (protocol/writer.py, storage/folder.py, transport.py); the listing cache is not.
PATCHES = ("list-cache",)
#: a directory whose mtime is this recent may still change within the same timestamp tick
#: (as Dovecot's Maildir sync does, the cached listing is trusted only when it is older)
LIST_CACHE_SETTLED_S = 2.0
PENDING_LIMIT = 256 * 1024


def apply(names: set[str]) -> None:
    from pop3srv.storage.base import MessageInfo  # noqa: PLC0415
    from pop3srv.storage.folder import FolderStore  # noqa: PLC0415

    if "list-cache" in names:
        original_list = FolderStore._list_sync
        cache: dict[str, tuple[int, int, list[MessageInfo]]] = {}

        def list_sync(self: FolderStore) -> list[MessageInfo]:
            try:
                st = os.stat(self._dir)
            except OSError:
                return original_list(self)
            key = str(self._dir)
            hit = cache.get(key)
            if hit is not None and hit[:2] == (st.st_mtime_ns, st.st_ino):
                return list(hit[2])
            listing = original_list(self)
            if time.time() - st.st_mtime > LIST_CACHE_SETTLED_S:
                cache[key] = (st.st_mtime_ns, st.st_ino, list(listing))
            return listing

        FolderStore._list_sync = list_sync  # type: ignore[method-assign]


@contextmanager
def server(mail_dir: Path, state: Path) -> Iterator[tuple[int, int]]:
    """``bench.retr.server``, running this module instead of ``pop3srv``."""
    ports_file = state / "ports.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("POP3_")}
    env.update(
        POP3_HOST="127.0.0.1",
        POP3_MAIL_DIR=str(mail_dir),
        POP3_STATE_DIR=str(state),
        POP3_USER=USER,
        POP3_PASSWORD=PASSWORD,
        POP3_ADMIN_PORT="0",
        HOME=str(state),
    )
    command = [sys.executable, "-m", "bench.pop3srv_experiment", "serve", "--any-free-port"]
    process = subprocess.Popen(
        [*command, "--ports-file", str(ports_file)],
        cwd=state,
        env={
            **env,
            "PYTHONPATH": os.pathsep.join(filter(None, [env.get("PYTHONPATH"), _bench_root()])),
        },
        stderr=subprocess.DEVNULL,
    )
    try:
        while not ports_file.exists() or not ports_file.read_text():
            if process.poll() is not None:
                raise RuntimeError("server exited")
            time.sleep(0.05)
        yield process.pid, json.loads(ports_file.read_text())["plain"][0][1]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def _bench_root() -> str:
    return str(Path(__file__).resolve().parent.parent)


def main() -> None:
    chosen = os.environ.get("POP3SRV_EXPERIMENT", ",".join(PATCHES))
    names = {name for name in chosen.split(",") if name}
    unknown = names - set(PATCHES)
    if unknown:
        raise SystemExit(f"unknown patches {sorted(unknown)}; known: {PATCHES}")
    apply(names)
    from pop3srv.cli import main as pop3srv_main  # noqa: PLC0415

    sys.argv[0] = "pop3srv"
    sys.exit(pop3srv_main())


if __name__ == "__main__":
    main()
