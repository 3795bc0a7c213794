"""What naming a login's mailbox for the admin app costs (``Runtime.mailbox_name``, once per
login), with 1, 10 and 100 ``mailboxes`` entries; the best of five runs of 2,000 calls.

    .venv/bin/python -m bench.mailbox_names
"""

from __future__ import annotations

import functools
import json
import tempfile
import timeit
from pathlib import Path

from pop3srv.auth.factory import mailbox_resolver
from pop3srv.config import load_settings
from pop3srv.runtime import build_runtime

CALLS = 2000


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    for count in (1, 10, 100):
        table = {f"m{i}": {"bucket": "b", "prefix": f"p{i}/", "region": "r"} for i in range(count)}
        env = {
            "POP3_STATE_DIR": str(tmp / "state"),
            "POP3_MAIL_DIR": str(tmp / "mail"),
            "POP3_MAILBOXES": json.dumps(table),
        }
        settings = load_settings(env, cwd=tmp, home=tmp)
        runtime = build_runtime(settings)
        last = mailbox_resolver(settings).from_entry(settings.auth.mailboxes[f"m{count - 1}"])
        call = functools.partial(runtime.mailbox_name, last)
        best = min(timeit.repeat(call, number=CALLS, repeat=5))
        print(f"{count:>3} mailboxes: {best / CALLS * 1e6:.2f} µs per login")
        runtime.pool.close()


if __name__ == "__main__":
    main()
