"""What scanning a mail folder costs when the listing cache misses (a delivery changed the
folder): ``FolderStore._scan`` over 1,000 and 10,000 small files whose transfer sizes are
already known; the best of five runs. Run it from another source tree for a before/after:

    .venv/bin/python -m bench.folder_listing
    PYTHONPATH=/tmp/base .venv/bin/python -m bench.folder_listing   # git archive BASE there
"""

from __future__ import annotations

import functools
import tempfile
import timeit
from pathlib import Path

from pop3srv.storage.base import FolderLocation
from pop3srv.storage.folder import FolderStore

MESSAGE = b"Subject: hi\r\n\r\n" + b"x" * 1400 + b"\r\n"


def main() -> None:
    import pop3srv  # noqa: PLC0415 - to say which tree is measured

    print(f"tree: {Path(pop3srv.__file__).parent.parent}")
    for count in (1_000, 10_000):
        with tempfile.TemporaryDirectory() as root:
            for n in range(count):
                (Path(root) / f"m{n:06d}").write_bytes(MESSAGE)
            store = FolderStore(FolderLocation(Path(root)))
            fd = store._directory_fd()
            assert fd is not None
            store._scan(fd)  # transfer sizes measured once, as after the first login
            scan = functools.partial(store._scan, fd)
            best = min(timeit.repeat(scan, number=3, repeat=5)) / 3
            print(f"{count:>6} files: {best * 1e3:,.2f} ms per scan")


if __name__ == "__main__":
    main()
