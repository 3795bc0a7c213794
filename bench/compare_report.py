"""The Markdown table of ``bench.compare_dovecot``: one row per figure (label and how to format
it from a target's results), one column per target.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.compare_measure import Target


def _rows(targets: list[Target]) -> list[tuple[str, Callable[[dict[str, Any]], str]]]:
    def med(key: str, sub: str, fmt: str = "{:.0f}") -> Callable[[dict[str, Any]], str]:
        def cell(r: dict[str, Any]) -> str:
            s = r[key][sub]
            return f"{fmt.format(s['median'])} ({fmt.format(s['min'])}-{fmt.format(s['max'])})"

        return cell

    def val(key: str, sub: str, fmt: str = "{:.1f}") -> Callable[[dict[str, Any]], str]:
        return lambda r: fmt.format(r[key][sub])

    big = targets[0].results["retr_big"]
    many = targets[0].results["mailbox_2000"]["messages"]
    conc = targets[0].results["concurrent"]
    n = conc["clients"] * conc["messages_each"]
    mib = f"{big['MiB']:.0f} MiB"
    return [
        (f"RETR {mib}: MiB/s, median (min-max) of {big['reps']}", med("retr_big", "MiB/s")),
        (f"RETR {mib}: server CPU ms per MiB", val("retr_big", "server_cpu_ms_per_MiB")),
        (f"RETR {mib}: peak server RSS, MiB (sum of processes)", val("retr_big", "peak_rss_MiB")),
        (
            f"{many:,} msgs, one session (UIDL + RETR all): messages/s",
            med("mailbox_2000", "messages/s"),
        ),
        (f"{many:,} msgs: server CPU µs per message", med("mailbox_2000", "server_cpu_us_per_msg")),
        (f"{many:,} msgs: peak server RSS, MiB", val("mailbox_2000", "peak_rss_MiB")),
        (
            "logins/s (USER, PASS, STAT, QUIT; 10-msg mailbox)",
            val("logins_small", "logins/s", "{:.0f}"),
        ),
        ("  server CPU ms per login", val("logins_small", "server_cpu_ms_per_login", "{:.2f}")),
        (f"logins/s on the {many:,}-msg mailbox", val("logins_many", "logins/s", "{:.0f}")),
        ("  server CPU ms per login", val("logins_many", "server_cpu_ms_per_login", "{:.2f}")),
        (
            f"first (cold) login + STAT, {many:,}-msg mailbox, ms",
            lambda r: f"{r['first_login_stat_s']['many'] * 1000:.0f}",
        ),
        (
            f"{conc['clients']} parallel clients x {conc['messages_each']} msgs ({n}): messages/s",
            med("concurrent", "messages/s"),
        ),
        ("  server CPU µs per message", med("concurrent", "server_cpu_us_per_msg")),
        (
            "  server CPU / wall time (cores busy)",
            val("concurrent", "server_cpu_per_wall", "{:.2f}"),
        ),
        ("  client CPU / wall time", val("concurrent", "client_cpu_per_wall", "{:.2f}")),
        (
            "  peak server RSS sum / PSS sum, MiB",
            lambda r: (
                f"{r['concurrent']['peak_rss_MiB']:.0f} / {r['concurrent']['peak_pss_MiB']:.0f}"
            ),
        ),
        ("  peak server processes", val("concurrent", "peak_processes", "{:d}")),
        (
            "idle server RSS sum / PSS sum, MiB",
            lambda r: f"{r['idle']['rss_MiB']:.0f} / {r['idle']['pss_MiB']:.0f}",
        ),
    ]


def markdown(targets: list[Target]) -> str:
    lines = [
        "| what | " + " | ".join(t.name for t in targets) + " |",
        "| --- | " + " | ".join("---" for _ in targets) + " |",
    ]
    for label, cell in _rows(targets):
        lines.append(f"| {label} | " + " | ".join(cell(t.results) for t in targets) + " |")
    return "\n".join(lines)
