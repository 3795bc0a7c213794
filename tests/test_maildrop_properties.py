"""The maildrop against a model (hypothesis state machine): numbers never change within a
session, DELE only marks, RSET restores, and QUIT commits exactly the marked messages."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from pop3srv.maildrop import Maildrop, NoSuchMessage
from pop3srv.storage.base import MessageInfo

messages = st.lists(
    st.builds(
        MessageInfo,
        arrived=st.integers(0, 5).map(float),
        key=st.text("abcdef0123456789", min_size=1, max_size=8),
        size=st.integers(0, 10_000),
    ),
    max_size=25,
    unique_by=lambda m: m.key,
)


class MaildropMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.drop = Maildrop([])
        self.order: list[MessageInfo] = []
        self.deleted: set[int] = set()

    @initialize(snapshot=messages)
    def login(self, snapshot: list[MessageInfo]) -> None:
        self.drop = Maildrop(snapshot)
        self.order = sorted(snapshot, key=lambda m: (m.arrived, m.key))
        self.deleted = set()

    @rule(number=st.integers(-2, 30))
    def dele(self, number: int) -> None:
        valid = 1 <= number <= len(self.order) and number not in self.deleted
        try:
            self.drop.mark_deleted(number)
        except NoSuchMessage:
            assert not valid
        else:
            assert valid
            self.deleted.add(number)

    @rule()
    def rset(self) -> None:
        self.drop.reset()
        self.deleted.clear()

    @rule(number=st.integers(-2, 30))
    def retr(self, number: int) -> None:
        try:
            entry = self.drop.get(number)
        except NoSuchMessage:
            assert not (1 <= number <= len(self.order)) or number in self.deleted
        else:
            assert entry.info == self.order[number - 1]

    @invariant()
    def stat_and_commit_list_match_the_model(self) -> None:
        live = [m for n, m in enumerate(self.order, 1) if n not in self.deleted]
        assert self.drop.stat() == (len(live), sum(m.size for m in live))
        assert self.drop.marked_keys() == [self.order[n - 1].key for n in sorted(self.deleted)]
        assert [e.number for e in self.drop.live()] == [
            n for n in range(1, len(self.order) + 1) if n not in self.deleted
        ]


MaildropMachine.TestCase.settings = settings(max_examples=200, deadline=None)
TestMaildrop = MaildropMachine.TestCase
