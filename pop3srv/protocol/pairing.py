"""Which replies may answer which command: ``+OK``/``-ERR`` (RFC 1939), a multi-line list
(CAPA, LIST, UIDL, AUTH's mechanisms), a streamed body (RETR, TOP) and a SASL continuation
(RFC 5034). ``Connection.send`` checks every reply against this before it changes any state.
"""

from __future__ import annotations

from pop3srv.protocol import events as ev


def valid_replies(command: ev.Command) -> tuple[type[ev.Reply], ...]:
    """The reply types that may answer ``command`` (``-ERR`` always may)."""
    match command:
        case ev.BadCommand() | ev.AuthCancel():
            return (ev.Err,)
        case ev.Retr() | ev.Top():
            return (ev.BeginData, ev.Err)
        case ev.Capa() | ev.List(msg=None) | ev.Uidl(msg=None) | ev.Auth(mechanism=None):
            return (ev.MultiLine, ev.Err)
        case ev.Auth() | ev.AuthResponse():
            return (ev.Ok, ev.Err, ev.Continue)
        case _:
            return (ev.Ok, ev.Err)


#: ``valid_replies`` of the commands whose valid replies depend on their type alone, looked up
#: in one step (the match above tries its cases one by one, per reply)
VALID_BY_TYPE: dict[type[ev.Command], tuple[type[ev.Reply], ...]] = {
    type(example): valid_replies(example)
    for example in (
        *(ev.Retr(1), ev.Top(1, 0), ev.Dele(1), ev.Stat(), ev.Noop(), ev.Rset(), ev.Quit()),
        *(ev.Capa(), ev.User("u"), ev.Pass("p"), ev.Utf8(), ev.Stls(), ev.AuthCancel()),
        ev.BadCommand(ev.Err("-")),
    )
}
