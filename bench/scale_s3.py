"""Benchmark: big S3 mailboxes (SES users whose mail piled up before a client first connects).

SeaweedFS on 127.0.0.1 holds mailboxes of ``--sizes`` small SES-style mails (~0.9 KB each);
one ``pop3srv serve`` subprocess reaches it either directly or through a
``bench.delay_proxy`` adding ``--delay-ms`` to every S3 request (a remote endpoint). Measured:

* ``login``: per mailbox size, connect -> greeting, PASS -> ``+OK`` (the whole listing),
  STAT, LIST, UIDL (each until its last byte), the server's RSS before and after, its peak
  (``VmHWM``) and the S3 requests the proxy forwarded; median of ``--repeat``;
* ``quit``: DELE of every message of a ``--delete`` mailbox (pipelined), then the QUIT that
  deletes them, with ``lock: s3``: seconds, S3 requests (lease proofs + DeleteObjects), what
  is left in the bucket;
* ``parallel``: ``--clients`` clients at once, each on its own mailbox of the largest size
  below 50k: login and UIDL seconds per client and all together;
* ``dovecot`` (``--dovecot``): the same login/STAT/LIST/UIDL and QUIT on a Maildir of each size
  served by Dovecot (``bench.dovecot_instance``, default profile).

    .venv/bin/python -m bench.scale_s3 [--sizes 1000,10000,50000] [--delay-ms 20] [--dovecot]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from bench.delay_proxy import DelayProxy
from bench.dovecot_instance import Dovecot, write_maildir
from bench.retr import server
from bench.s3_small import PASSWORD, FastClient, ses_mail, write_s3_config
from tests.s3.servers import S3Server, SeaweedFS


def rss(pid: int) -> dict[str, float]:
    """Resident and peak resident MiB of a process (``/proc/<pid>/status``)."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = round(int(rest.split()[0]) / 1024, 1)
    return values


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def login_once(port: int, user: str) -> dict[str, float]:
    """One session: connect, USER, PASS, STAT, LIST, UIDL, QUIT (nothing deleted)."""
    start = time.perf_counter()
    client = FastClient(port)
    result = {"greeting_s": time.perf_counter() - start}
    try:
        client.command(f"USER {user}")
        start = time.perf_counter()
        reply = client.command(f"PASS {PASSWORD}")
        result["pass_s"] = time.perf_counter() - start
        if not reply.startswith(b"+OK"):
            raise RuntimeError(f"login failed: {reply!r}")
        result["stat_s"] = timed(lambda: client.command("STAT"))
        result["list_s"] = timed(lambda: client.command("LIST", multiline=True))
        result["uidl_s"] = timed(lambda: client.command("UIDL", multiline=True))
        client.command("QUIT")
    finally:
        client.close()
    return result


def bench_login(
    pid: int | None, port: int, user: str, repeat: int, proxy: DelayProxy | None
) -> dict[str, object]:
    before = rss(pid) if pid else {}
    runs = []
    requests = []
    for _ in range(repeat):
        count = proxy.requests if proxy else 0
        runs.append(login_once(port, user))
        requests.append((proxy.requests if proxy else 0) - count)
    result: dict[str, object] = {
        key: round(statistics.median(run[key] for run in runs), 4) for key in runs[0]
    }
    result["s3_requests"] = requests
    if pid:
        result["rss_before_mib"] = before
        result["rss_after_mib"] = rss(pid)
    return result


def delete_all(port: int, user: str, proxy: DelayProxy | None) -> dict[str, object]:
    """DELE every message (pipelined), then a timed QUIT."""
    client = FastClient(port)
    client.command(f"USER {user}")
    if not client.command(f"PASS {PASSWORD}").startswith(b"+OK"):
        raise RuntimeError("login failed")
    count = int(client.command("STAT").split()[1])
    client.sock.sendall(b"".join(f"DELE {n}\r\n".encode() for n in range(1, count + 1)))
    for _ in range(count):
        if not client.line().startswith(b"+OK"):
            raise RuntimeError("DELE refused")
    requests = proxy.requests if proxy else 0
    start = time.perf_counter()
    reply = client.command("QUIT")
    elapsed = time.perf_counter() - start
    client.close()
    return {
        "marked": count,
        "quit_s": round(elapsed, 3),
        "reply": reply.decode().strip(),
        "s3_requests": (proxy.requests if proxy else 0) - requests,
    }


def parallel(port: int, users: list[str]) -> dict[str, object]:
    results: dict[str, dict[str, float]] = {}

    def one(user: str) -> None:
        results[user] = login_once(port, user)

    threads = [threading.Thread(target=one, args=(user,)) for user in users]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "clients": len(users),
        "wall_s": round(time.perf_counter() - start, 3),
        "pass_s": sorted(round(r["pass_s"], 3) for r in results.values()),
        "uidl_s": sorted(round(r["uidl_s"], 3) for r in results.values()),
    }


def write_config(root: Path, s3: S3Server, bucket: str, endpoints: dict[str, str]) -> Path:
    """One user per mailbox prefix; ``endpoints``: user -> endpoint URL."""
    entries = {name: (name.split("@")[0], endpoint) for name, endpoint in endpoints.items()}
    return write_s3_config(root, s3, bucket, entries)


def ses_key(prefix: str, index: int) -> str:
    """An object name as SES writes it: 40 characters of base32hex, lower case, random."""
    digest = hashlib.sha256(f"{prefix}/{index}".encode()).digest()[:25]
    return base64.b32hexencode(digest).decode().lower()


def fill(s3: S3Server, bucket: str, prefix: str, count: int) -> float:
    start = time.perf_counter()
    s3.bulk_put(bucket, ((f"{prefix}/{ses_key(prefix, n)}", ses_mail(n)) for n in range(count)))
    return time.perf_counter() - start


def dovecot_phase(sizes: list[int], delete: int, repeat: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        users = {f"d{size}": PASSWORD for size in sizes} | {"ddel": PASSWORD}
        instance = Dovecot(root, users)
        for size in sizes:
            write_maildir(
                instance.maildir(f"d{size}"), [ses_mail(n) for n in range(size)], 1_000_000_000
            )
        write_maildir(instance.maildir("ddel"), [ses_mail(n) for n in range(delete)], 1_000_000_000)
        results: dict[str, object] = {}
        with instance.run() as (_pid, port):
            for size in sizes:
                login_once(port, f"d{size}")  # warm: Dovecot builds its index here
                results[f"login_{size}"] = bench_login(None, port, f"d{size}", repeat, None)
            results[f"quit_{delete}"] = delete_all(port, "ddel", None)
        return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--delete", type=int, default=10000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--lock", default="s3", choices=("s3", "local"))
    parser.add_argument("--delete-mode", default="delete", choices=("delete", "trash"))
    parser.add_argument("--dovecot", action="store_true")
    parser.add_argument("--src", type=Path, help="serve pop3srv from this tree")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    results: dict[str, object] = {}
    if args.dovecot:
        results["dovecot"] = dovecot_phase(sizes, args.delete, args.repeat)
        print(json.dumps(results, indent=2), flush=True)
    s3 = SeaweedFS.start()
    try:
        bucket = s3.create_bucket("scale")
        wide = max([size for size in sizes if size < 50000] or [min(sizes)])
        filled = {f"s{size}": fill(s3, bucket, f"s{size}", size) for size in sizes}
        filled |= {f"p{i}": fill(s3, bucket, f"p{i}", wide) for i in range(1, args.clients)}
        results["fill_s"] = {key: round(value, 1) for key, value in filled.items()}
        with (
            DelayProxy(s3.host_port, args.delay_ms / 1000) as proxy,
            tempfile.TemporaryDirectory() as tmp,
        ):
            root = Path(tmp)
            (root / "mail").mkdir()
            endpoints = {f"s{size}": proxy.endpoint_url for size in sizes}
            endpoints |= {f"s{size}@direct": s3.endpoint_url for size in sizes}
            endpoints |= {f"p{i}": proxy.endpoint_url for i in range(1, args.clients)}
            endpoints |= {"del": proxy.endpoint_url}
            config = write_config(root, s3, bucket, endpoints)
            env = {
                "POP3_CONFIG": str(config),
                "POP3_LOCK": args.lock,
                "POP3_DELETE_MODE": args.delete_mode,
                "PYTHONPATH": str(args.src or Path(__file__).parents[1]),
            }
            with server(root / "mail", root / "state", **env) as (pid, port):
                results["rss_idle_mib"] = rss(pid)
                for size in sizes:
                    for user, label in ((f"s{size}@direct", "direct"), (f"s{size}", "delayed")):
                        key = f"login_{size}_{label}"
                        results[key] = bench_login(pid, port, user, args.repeat, proxy)
                        print(key, json.dumps(results[key]), flush=True)
                users = [f"s{wide}"] + [f"p{i}" for i in range(1, args.clients)]
                results["parallel"] = parallel(port, users)
                print("parallel", json.dumps(results["parallel"]), flush=True)
                fill(s3, bucket, "del", args.delete)
                results[f"quit_{args.delete}"] = delete_all(port, "del", proxy)
                results["quit_left_in_bucket"] = len(s3.keys(bucket, "del/"))
                results["rss_end_mib"] = rss(pid)
    finally:
        s3.stop()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
