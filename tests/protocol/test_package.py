"""The package surface: re-exports and the exception hierarchy."""

from __future__ import annotations

import pop3srv.protocol as protocol
from pop3srv.protocol import Err, LocalProtocolError, ProtocolError, RemoteProtocolError


def test_every_exported_name_exists() -> None:
    for name in protocol.__all__:
        assert hasattr(protocol, name), name


def test_exception_hierarchy() -> None:
    assert issubclass(LocalProtocolError, ProtocolError)
    assert issubclass(RemoteProtocolError, ProtocolError)
    error = RemoteProtocolError(Err("too many errors", "SYS/PERM"))
    assert error.reply == Err("too many errors", "SYS/PERM")
    assert str(error) == "too many errors"


def test_sentinel_names() -> None:
    assert [protocol.NEED_DATA.name, protocol.PAUSED.name, protocol.TOO_LONG.name] == [
        "NEED_DATA",
        "PAUSED",
        "TOO_LONG",
    ]
