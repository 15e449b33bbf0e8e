"""A make-up booked from the rebooking offer, as one step on the desk's undo stack: undo takes
it back (``makeup.undo_make_up``: the make-up cancelled, the sessions it moved put back, the
missed session undecided again), redo books the same proposal again; the database re-checks
both, and a refusal is reported like any other undo (``ui/timeline/undo.py``)."""

from __future__ import annotations

import dataclasses

from ketadesk.services.rebooking.makeup import MadeUp, RebookingOffer, book_make_up, undo_make_up
from ketadesk.ui.timeline.undo import ScheduleEditor, _EditCommand


class MakeUpCommand(_EditCommand):
    """The make-up of one missed series session (and the later sessions it moved)."""

    def __init__(
        self, editor: ScheduleEditor, offer: RebookingOffer, made: MadeUp, text: str
    ) -> None:
        super().__init__(editor, text)
        # The versions guarded the first booking; a redo is judged on the places alone.
        self.offer = dataclasses.replace(offer, versions={})
        self.made_up_id = made.appointment_id
        # A redo books a new make-up: the overrides given the first time go with it again.
        self.overrides = dict(made.overrides)

    def apply(self, forward: bool) -> None:
        desk = self.editor.desk
        if forward:
            made = book_make_up(
                desk.db, desk.actor, self.offer, overrides=self.overrides, now=desk.now()
            )
            self.made_up_id = made.appointment_id
        else:
            undo_make_up(desk.db, desk.actor, self.offer, self.made_up_id, now=desk.now())
