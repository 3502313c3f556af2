"""Commands the desk settles that the books complete, and what two commands of one batch may not
share (:mod:`api.desk`'s group commit).

An NHSA 2304 that leaves its admission, diagnosis or bill parts to the visit it settles is an
:class:`Incomplete` command: its visit is read in the batch's own transaction, with the batch's
other incomplete commands' reads in one round trip, and the command is made of the rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from api.books.driver import Driver, Read

if TYPE_CHECKING:
    from api.desk import SettleCommand

__all__ = ["Incomplete", "Slots", "completed", "slots_of"]

Slots = tuple[tuple[str, ...], ...]


def slots_of(institution: str, person_id: str, claim_id: str, key: str | None) -> Slots:
    """What two commands of one batch may not share: the person, the institution's claim, the key."""
    person, claim = ("person", person_id), ("claim", institution, claim_id)
    return (person, claim, ("key", institution, key)) if key else (person, claim)


@dataclass(frozen=True)
class Incomplete:
    """A settlement the books complete (an NHSA 2304 that leaves its admission, diagnosis or bill
    parts to the visit it settles): ``reads`` run in the batch's own transaction, before its
    reading, in one round trip with the batch's other incomplete commands'; ``complete`` makes the
    command of their rows (one list per read), or raises what refuses it — that command's own
    refusal. ``slots``: the command's, known from the message (see :attr:`SettleCommand.slots`)."""

    slots: Slots
    reads: tuple[Read, ...]
    complete: Callable[[list[list[tuple[Any, ...]]]], SettleCommand]


def completed(db: Driver, commands: Sequence[SettleCommand | Incomplete]) -> list[SettleCommand | Exception]:
    """Each command whole: an :class:`Incomplete` one completed from its reads (all read at once),
    or the exception that refused it."""
    pending = [c for c in commands if isinstance(c, Incomplete)]
    rows = iter(db.read_all([read for c in pending for read in c.reads]) if pending else [])
    out: list[SettleCommand | Exception] = []
    for command in commands:
        if not isinstance(command, Incomplete):
            out.append(command)
            continue
        got = [next(rows) for _ in command.reads]
        try:
            out.append(command.complete(got))
        except Exception as refused:  # one command's refusal is its own, as in a batch
            out.append(refused)
    return out
