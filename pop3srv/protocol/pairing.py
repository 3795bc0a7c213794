"""Which replies may answer which command: ``+OK``/``-ERR`` (RFC 1939), a multi-line list
(CAPA, LIST, UIDL, AUTH's mechanisms), a streamed body (RETR, TOP) and a SASL continuation
(RFC 5034). ``Connection.send`` checks every reply against this before it changes any state.
"""

from __future__ import annotations

from pop3srv.protocol.events import (
    Auth,
    AuthCancel,
    AuthResponse,
    BadCommand,
    BeginData,
    Capa,
    Command,
    Continue,
    Dele,
    Err,
    List,
    MultiLine,
    Noop,
    Ok,
    Pass,
    Quit,
    Reply,
    Retr,
    Rset,
    Stat,
    Stls,
    Top,
    Uidl,
    User,
    Utf8,
)


def valid_replies(command: Command) -> tuple[type[Reply], ...]:
    """The reply types that may answer ``command`` (``-ERR`` always may)."""
    match command:
        case BadCommand() | AuthCancel():
            return (Err,)
        case Retr() | Top():
            return (BeginData, Err)
        case Capa() | List(msg=None) | Uidl(msg=None) | Auth(mechanism=None):
            return (MultiLine, Err)
        case Auth() | AuthResponse():
            return (Ok, Err, Continue)
        case _:
            return (Ok, Err)


#: ``valid_replies`` of the commands whose valid replies depend on their type alone, looked up
#: in one step (the match above tries its cases one by one, per reply)
VALID_BY_TYPE: dict[type[Command], tuple[type[Reply], ...]] = {
    type(example): valid_replies(example)
    for example in (
        *(Retr(1), Top(1, 0), Dele(1), Stat(), Noop(), Rset(), Quit(), Capa()),
        *(User("u"), Pass("p"), Utf8(), Stls(), BadCommand(Err("-")), AuthCancel()),
    )
}
