"""The servers of ``bench.compare_dovecot``: where the pop3srv servers import pop3srv from (a
snapshot of HEAD or the work tree), starting pop3srv over a mail folder and Dovecot over
Maildirs with the same mail (each a ``Target`` whose processes the caller's ``ExitStack``
stops), and the versions of everything involved, for the report.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

from bench import dovecot_instance
from bench.compare_mail import BASE_TIME, Mail, password_of, write_folder
from bench.compare_measure import Target
from bench.retr import server as pop3srv_server


def pop3srv_source(root: Path, tree: str) -> tuple[str, str]:
    """Makes the servers import pop3srv from a snapshot of HEAD (``tree == "head"``: the
    results belong to one commit even while the work tree changes) or from the work tree.
    The servers inherit PYTHONPATH from this process's environment. Returns (where pop3srv is
    imported from, the commit)."""
    repo = Path(__file__).resolve().parent.parent
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if tree == "head":
        snapshot = root / "pop3srv-src"
        snapshot.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "archive", commit, "pop3srv"], cwd=repo, capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(snapshot)], input=archive, check=True)
        os.environ["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(snapshot), os.environ.get("PYTHONPATH")])
        )
    where = subprocess.run(
        [sys.executable, "-c", "import pop3srv; print(pop3srv.__file__)"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return where, commit


def start_pop3srv(stack: ExitStack, root: Path, mail: Mail) -> Target:
    state, mail_dir = root / "state", root / "mail"
    state.mkdir(parents=True)
    for user, messages in mail.users().items():
        write_folder(mail_dir / user, messages)
    users = mail.users()
    config = {  # ./config.yaml in the server's working directory (JSON is YAML)
        "mailboxes": {user: {"folder": user} for user in users},
        "users": {user: {"password": password_of(user), "mailbox": user} for user in users},
    }
    (state / "config.yaml").write_text(json.dumps(config))
    pid, port = stack.enter_context(pop3srv_server(mail_dir, state))
    return Target("pop3srv", pid, port)


def start_dovecot(stack: ExitStack, root: Path, mail: Mail, profile: str) -> Target:
    users = mail.users()
    instance = dovecot_instance.Dovecot(root, {u: password_of(u) for u in users}, profile)
    for user, messages in users.items():
        dovecot_instance.write_maildir(instance.maildir(user), messages, BASE_TIME)
    pid, port = stack.enter_context(instance.run())
    name = "dovecot" if profile == "default" else f"dovecot-{profile}"
    return Target(name, pid, port, keeps_login_processes=profile == "performance")


def versions() -> dict[str, str]:
    def run(*cmd: str) -> str:
        try:
            return subprocess.run(
                cmd, capture_output=True, text=True, cwd=Path(__file__).parent, check=False
            ).stdout.strip()
        except OSError:
            return "?"

    return {
        "dovecot": dovecot_instance.version(),
        "python": platform.python_version(),
        "pop3srv_commit": run("git", "rev-parse", "--short", "HEAD"),
        "pop3srv_modified_files": run(
            "git", "status", "--porcelain", "--untracked-files=no", "--", "../pop3srv"
        ).replace("\n", ", "),
        "kernel": platform.release(),
        "cpus": str(os.cpu_count()),
        "loadavg_at_start": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
        "host": socket.gethostname(),
    }
