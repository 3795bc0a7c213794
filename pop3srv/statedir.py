"""The state directory (``state-dir``) and the secrets kept in it (admin token, TLS key).

The directory is created with mode 0700 whatever the umask. An existing one, and every secret
file in it, must belong to the server's own user (or root) and must not be writable by
other users: otherwise another local user could plant a token or key, or read the ones
written there. Files
are opened without following symlinks, and written to an exclusive temporary file that is then
renamed into place, never by rewriting an existing file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from pathlib import Path


class StateDirError(Exception):
    """The state directory or a file in it cannot be trusted; the message is one line."""


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (mode 0700, parents as needed) or check the existing one."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.mkdir(path, 0o700)
        os.chmod(path, 0o700)  # the umask may have taken bits away; never adds any
    except FileExistsError:
        pass
    except OSError as exc:
        raise cannot("create", path, exc) from exc
    check_trusted(path)
    return path


def check_trusted(path: Path) -> None:
    """Refuse the directory ``path`` unless it is one, belongs to this process's user (or
    root) and no other user may write it (a missing path is fine: it will be created)."""
    try:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            st = os.stat(path)  # a symlinked state-dir is allowed if its target is trusted
    except FileNotFoundError:
        return
    except OSError as exc:  # a file where a folder of the path belongs, no permission, ...
        raise cannot("use", path, exc) from exc
    if not stat.S_ISDIR(st.st_mode):
        raise StateDirError(f"state-dir: {path} is not a directory; choose another state-dir")
    _check(path, st)


def cannot(verb: str, path: Path, exc: OSError) -> StateDirError:
    """The one line for a state-dir the system refuses: what, why, and what to do (for a
    permission problem, as which user: a container's volume is often root's)."""
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        advice = (f"this server runs as uid {os.geteuid()}: make it (or its parent) writable "
                  "by that user, or choose another state-dir")  # fmt: skip
    else:
        advice = "choose another state-dir"
    return StateDirError(f"state-dir: cannot {verb} {path}: {exc.strerror}; {advice}")


def read_private(path: Path) -> str | None:
    """The text of a secret file (None if missing); its owner and mode are checked, and a file
    readable by others is restricted to 0600."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateDirError(f"{path}: cannot be read safely: {exc.strerror}") from exc
    with os.fdopen(fd, "r", encoding="utf-8") as handle:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise StateDirError(f"{path}: is not a regular file")
        _check(path, st)
        if stat.S_IMODE(st.st_mode) & 0o077:
            os.fchmod(fd, 0o600)
        return handle.read()


def check_private_file(path: Path) -> None:
    """Refuse an existing secret file that another user owns or may write."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(st.st_mode):
        raise StateDirError(f"{path}: is not a regular file (a symlink?)")
    _check(path, st)


def write_private(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to a new file beside ``path`` (exclusive, ``mode`` set explicitly) and
    rename it over ``path``."""
    temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(temp, flags, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise


def _check(path: Path, st: os.stat_result) -> None:
    """Trusted: owned by this user or by root (who can read everything anyway: a mounted
    secret); not writable by others; writable by its group only if that is one of ours (a
    Kubernetes ``fsGroup`` volume)."""
    uid = os.geteuid()
    if st.st_uid not in (uid, 0):
        raise StateDirError(
            f"{path}: owned by uid {st.st_uid}, not by this server's user (uid {uid}); "
            "refusing to use it (remove it or choose another state-dir)"
        )
    mode = stat.S_IMODE(st.st_mode)
    ours = {os.getegid(), *os.getgroups()}
    if mode & 0o002 or (mode & 0o020 and st.st_gid not in ours):
        raise StateDirError(
            f"{path}: writable by other users (mode {mode:o}); refusing to use it "
            "(chmod go-w, or choose another state-dir)"
        )
