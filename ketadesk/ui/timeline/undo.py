"""Edits the desk makes by hand on the schedule, undoable: moves, status changes, series moves.

``ScheduleEditor`` is what views hand their requests to (a block dropped on a new place, "No-show"
from a context menu).  Each edit calls the services with the desk's actor, and on success goes on
a ``QUndoStack`` as a command that knows how to take it back, again through the services:

- a move is undone by moving the session back to its place as it was booked (same room, monitor
  and nurse) with ``appointment_changes.move``; a move a clinician made despite a "warn" rule
  keeps its overrides (rule -> reason) and is made again with them by a redo;
- a status change by ``appointment_changes.undo_status``, which takes back the latest change (a
  released room is taken again only if it is still free); redo makes the change again;
- a series move by ``move_series`` with the sessions' old places;
- a series ended by a prescriber by ``series_end.undo_end_series`` (its sessions booked again
  where they were, if still free); redo ends it again with the same reason and day;
- a change of protocol by ``protocol_change.undo_change`` (the new series cancelled while
  nothing has happened to it, the old one's sessions booked again); not redone: the change
  is made again with Change protocol… (its booking is the desk's).

The database decides: when the old place was taken meanwhile (at this or another workstation),
the undo is refused with the reason, the command stays where it was on the stack, and the user
is told (``refused``).  Nothing is half-done: each step is one service transaction.

The window never waits on the database: every edit, undo and redo runs on the single writer
worker (``run_service(writes=True)``), in the order asked for; the command goes on the stack,
and ``changed`` or ``refused`` is emitted, when the outcome is back.  An undo or redo asked for
while an edit is still being written waits for it (``is_busy``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TypeVar

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence, QUndoCommand, QUndoStack
from PySide6.QtWidgets import QMessageBox, QWidget

from ketadesk.scheduling.ride_home import RideHome
from ketadesk.scheduling.statuses import ACTION_OF_STATUS, CONFIRM_TENTATIVE, TRANSITIONS
from ketadesk.services.booking import appointment_changes, protocol_change, series_end, tentative
from ketadesk.services.booking.appointment_changes import ChairTaken
from ketadesk.services.booking.booking import GateRefused
from ketadesk.services.booking.changed_elsewhere import ChangedElsewhere
from ketadesk.services.booking.move_check import Placement, placement_of, plan_move
from ketadesk.services.booking.series_moves import SeriesMove, move_series, propose_series_move
from ketadesk.services.booking.start_check import StartRefused
from ketadesk.services.common.context import InvalidRequest, ServiceError
from ketadesk.services.monitoring.completion import RideNeeded
from ketadesk.ui.common import override_dialog, ride_dialog
from ketadesk.ui.common.background import run_service
from ketadesk.ui.common.override_dialog import RefusedRule

if TYPE_CHECKING:
    from typing_extensions import override

    from ketadesk.scheduling.model import PlannedSession
    from ketadesk.ui.common.desk import Desk
    from ketadesk.ui.timeline.day_view import DayView
else:  # typing.override is Python 3.12+; the decorator only informs the type checker.
    _F = TypeVar("_F")

    def override(method: _F) -> _F:
        return method


#: What a status change is called on the undo stack ("Undo No-show").
ACTION_LABELS = appointment_changes.ACTION_NAMES
#: The status actions that leave a place free for someone else (``freed``; a move frees too).
FREEING_ACTIONS = frozenset({"cancel", "no_show"})
#: What the override dialog says a refused start was ("The clinic's rules refuse to ...").
START_STEP = "start this session"


def ask_start_in_taken_chair(parent: QWidget | None, question: str) -> bool:
    """Ask whether to start in a room another patient is checked in to (``question`` names
    them); tests replace this function."""
    answer = QMessageBox.question(
        parent,
        "Room taken",
        question,
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No,
    )
    return answer == QMessageBox.StandardButton.Yes


CONFIRM_STEP = "confirm this pencilled-in hold"

T = TypeVar("T")

UNDO_SHORTCUTS = ("Ctrl+Z",)
REDO_SHORTCUTS = ("Ctrl+Shift+Z", "Ctrl+Y")


class _EditCommand(QUndoCommand):
    """An edit already made once; ``undo``/``redo`` make it again through the services.

    ``apply(forward)`` runs on the writer worker and raises ServiceError when the database
    refuses.  When the stack itself calls ``undo``/``redo`` (not through ``ScheduleEditor``),
    the change is written on the worker; a refusal is reported and the stack's index put back.
    """

    def __init__(self, editor: ScheduleEditor, text: str) -> None:
        super().__init__(text)
        self.editor = editor
        self._skip = True  # the first redo (QUndoStack.push) is the edit already made

    def apply(self, forward: bool) -> None:
        raise NotImplementedError

    def place_ahead(self, forward: bool) -> tuple[int, dt.datetime, int | None] | None:
        """The session and the place (start, room) that ``apply(forward)`` moves it to, for
        the views to show at once, before the write answers (None: nothing to show ahead)."""
        return None

    def skip_next(self) -> None:
        """The change is made already: the stack's own call that follows only moves its index."""
        self._skip = True

    @override
    def redo(self) -> None:
        self._step(forward=True)

    @override
    def undo(self) -> None:
        self._step(forward=False)

    def _step(self, *, forward: bool) -> None:
        if self._skip:
            self._skip = False
            return
        editor = self.editor
        ahead = self.place_ahead(forward)
        if ahead is not None:
            editor.moving.emit(*ahead)

        def refused(err: ServiceError) -> None:
            if ahead is not None:
                editor.move_refused.emit(ahead[0])
            editor._report(self, forward, err)
            # The stack already moved its index: move it back, without running this again.
            self._skip = True
            stack = editor.stack
            QTimer.singleShot(0, stack.redo if not forward else stack.undo)

        def made(_none: None) -> None:
            editor.changed.emit()
            editor.done.emit(f"{'Redone' if forward else 'Undone'}: {self.text()}")

        editor._write(lambda: self.apply(forward), made, refused, after_paint=ahead is not None)


class MoveCommand(_EditCommand):
    """One session moved to another time and/or room."""

    def __init__(
        self,
        editor: ScheduleEditor,
        before: Placement,
        after: PlannedSession,
        after_room: int | None,
        text: str,
        overrides: Mapping[str, str] | None = None,
        *,
        version: int,
        told: bool = False,
    ) -> None:
        """``version``: the appointment's version the move left; ``told``: the patient was
        told the new time as it moved (the undo and redo too: a move without them owes a
        schedule-change call, which the undo, back where they know it, takes back)."""
        super().__init__(editor, text)
        self.appointment_id = before.appointment_id
        self.told = told
        self.before = before.session
        self.after = after
        self.overrides = dict(overrides or {})
        self.places = {False: (before.start, before.room_id), True: (after.start, after_room)}
        self.version = version

    @override
    def place_ahead(self, forward: bool) -> tuple[int, dt.datetime, int | None] | None:
        start, room_id = self.places[forward]
        return self.appointment_id, start, room_id

    def apply(self, forward: bool) -> None:
        desk = self.editor.desk
        # Only a session as this edit (or its undo) left it is taken back (or moved again):
        # one changed since, here or at another workstation (moved, checked in), is not
        # pulled away from where it is now (``ChangedElsewhere``).
        # This desk's own changes of the session since are followed (a check-in after the
        # move, undone first); anyone else's refuse it.
        expected = self.editor.seen_version(self.appointment_id, self.version)
        done = appointment_changes.move(
            desk.db,
            desk.actor,
            self.appointment_id,
            self.after if forward else self.before,
            expected_version=expected,
            reason="redo" if forward else "undo",
            now=desk.now(),
            overrides=self.overrides if forward else None,
            patient_knows=self.told,
        )
        self.editor.wrote(self.appointment_id, expected, done.version)
        self.version = done.version


class StatusCommand(_EditCommand):
    """A status change: check in, start, complete, no-show, cancel."""

    def __init__(
        self,
        editor: ScheduleEditor,
        appointment_id: int,
        action: str,
        reason: str,
        text: str,
        *,
        version: int,
        ride: RideHome | None = None,
        chair_confirmed: bool = False,
    ) -> None:
        """``version``: the appointment's version the change left; ``ride``: a completion's
        ride home, given again on a redo; ``chair_confirmed``: a start the user confirmed in a
        room another patient is checked in to (redo too)."""
        super().__init__(editor, text)
        self.appointment_id = appointment_id
        self.action = action
        self.reason = reason
        self.version = version
        self.ride = ride
        self.chair_confirmed = chair_confirmed

    def apply(self, forward: bool) -> None:
        desk = self.editor.desk
        # Only the change as it was left is taken back (or made again): undo_status takes
        # back the latest change, which must still be this one (``ChangedElsewhere``).
        expected = self.editor.seen_version(self.appointment_id, self.version)
        if forward:
            done = appointment_changes.change_status(
                desk.db,
                desk.actor,
                self.appointment_id,
                self.action,
                reason=self.reason,
                expected_version=expected,
                now=desk.now(),
                ride=self.ride,
                chair_confirmed=self.chair_confirmed,
            )
        else:
            done = appointment_changes.undo_status(
                desk.db,
                desk.actor,
                self.appointment_id,
                expected_version=expected,
                now=desk.now(),
            )
        self.editor.wrote(self.appointment_id, expected, done.version)
        self.version = done.version


class SeriesMoveCommand(_EditCommand):
    """The rest of a series re-flowed from one session's new start."""

    def __init__(
        self,
        editor: ScheduleEditor,
        proposal: SeriesMove,
        before: tuple[Placement, ...],
        text: str,
        *,
        reason: str,
        spacing_reason: str,
        told: bool = False,
    ) -> None:
        super().__init__(editor, text)
        self.told = told
        # The versions guarded the first move (made before this command was pushed) against a
        # proposal gone stale; an undo gives the sessions new versions, and a redo puts them
        # back where this user chose, re-checked by the database as the undo was.
        self.proposal = dataclasses.replace(proposal, versions={})
        self.before = before
        self.reason = reason
        self.spacing_reason = spacing_reason

    def apply(self, forward: bool) -> None:
        desk = self.editor.desk
        if forward:
            proposal = self.proposal
        else:
            from ketadesk.scheduling.planner import SeriesPlan

            # The old places as a proposal of their own: they kept the protocol's spacing once
            # (or a clinician overrode it then, which is on record); the database re-checks them.
            proposal = SeriesMove(
                series_id=self.proposal.series_id,
                moves=tuple((p.appointment_id, p.session) for p in self.before),
                plan=SeriesPlan(self.proposal.plan.protocol, tuple(p.session for p in self.before)),
                calendar=self.proposal.calendar,
            )
        move_series(
            desk.db,
            desk.actor,
            proposal,
            reason=self.reason if forward else "undo",
            spacing_reason=self.spacing_reason if forward else "",
            now=desk.now(),
            patient_knows=self.told,
        )


class SeriesEndCommand(_EditCommand):
    """A series a prescriber ended: its sessions from a day on cancelled, the series ended."""

    def __init__(
        self, editor: ScheduleEditor, done: series_end.SeriesEnded, reason: str, note: str
    ) -> None:
        super().__init__(editor, f"End series of {done.patient_name or 'the patient'}")
        self.series_id = done.series_id
        self.reason = reason
        self.note = note
        self.effective = done.ended_on
        # Exactly the sessions this ending cancelled are booked again on undo (not whatever
        # the series' latest cancellation was: a single session cancelled since is not ours).
        self.cancelled = done.cancelled

    def apply(self, forward: bool) -> None:
        desk = self.editor.desk
        if forward:
            done = series_end.end_series(
                desk.db,
                desk.actor,
                self.series_id,
                reason=self.reason,
                note=self.note,
                effective=self.effective,
                now=desk.now(),
            )
            self.cancelled = done.cancelled
        else:
            series_end.undo_end_series(
                desk.db, desk.actor, self.series_id, cancelled=self.cancelled, now=desk.now()
            )


class ProtocolChangeCommand(_EditCommand):
    """A change of protocol: the old series ended from a day "changed to" the new protocol,
    and the new series booked after it once the desk books it (``series.previous_series_id``).
    Undone in one step (``protocol_change.undo_change``)."""

    def __init__(
        self, editor: ScheduleEditor, started: protocol_change.ChangeStarted, new_name: str
    ) -> None:
        who = started.ended.patient_name or "the patient"
        super().__init__(editor, f"Change protocol of {who} to {new_name}")
        self.series_id = started.ended.series_id
        # Exactly the sessions the end cancelled are booked again on undo.
        self.cancelled = started.ended.cancelled

    def apply(self, forward: bool) -> None:
        desk = self.editor.desk
        if forward:
            raise InvalidRequest(
                "a change of protocol taken back is not made again by Redo: use Change "
                "protocol… again (the new series is booked there)"
            )
        protocol_change.undo_change(
            desk.db, desk.actor, self.series_id, cancelled=self.cancelled, now=desk.now()
        )


class ScheduleEditor(QObject):
    """Makes the desk's hand edits through the services and keeps them undoable.

    Signals:
        changed(): the schedule was written (an edit, an undo or a redo): views reload.
        refused(str): an edit, undo or redo the database refused, and why, for the user.
        freed(int): an appointment's place came free (it was cancelled, marked a no-show or
            moved): the waitlist may take it.
        warned(str): a status change went ahead despite something the user must know (a
            dosing session started while an urgent review stands, under "warn").
        noted(str): what else a status change did that the user should know, said in the
            status bar (a no-show fee recorded as owed).
        done(str): an edit, undo or redo was written, in a few words for the status bar
            ("Done: Move Seacole, Mary · Edit ▸ Undo takes it back"); not sent when ``warned``
            or ``noted`` already said something about it.
        moving(int, object, object): a move (a drop, or the undo or redo of one) is being
            written: appointment id, start (aware datetime), room id.  Views show the session
            there at once; the day read again after ``changed`` confirms it.
        move_refused(int): the move of that appointment announced by ``moving`` was refused:
            views put the session back where it was read.

    Attributes:
        desk: the open clinic, the acting user and the clock.
        stack: the undo stack (its commands are this module's).
    """

    changed = Signal()
    refused = Signal(str)
    freed = Signal(int)
    warned = Signal(str)
    noted = Signal(str)
    done = Signal(str)
    moving = Signal(int, object, object)
    move_refused = Signal(int)

    def __init__(
        self,
        desk: Desk,
        undo_stack: QUndoStack | None = None,
        parent: QObject | None = None,
        *,
        host: QWidget | None = None,
    ) -> None:
        """``host``: the widget whose window shows the work in progress and the failures."""
        super().__init__(parent)
        self.desk = desk
        self.stack = undo_stack if undo_stack is not None else QUndoStack(self)
        self._writing = 0
        # Undo and redo asked for while an edit is being written: run once it is on the stack.
        self._waiting: list[Callable[[], None]] = []
        self._host = host if host is not None else parent if isinstance(parent, QWidget) else None
        # appointment id -> {version a screen may still show: the version this editor's own
        # write left}: a request made on a picture read before this workstation's own change
        # is judged on what that change left (the day is read again a moment later).  Used
        # only on the writer worker, where the writes are made one after another.
        self._own_writes: dict[int, dict[int, int]] = {}
        #: Starts a move's write once the views have painted it (``moving``), so the writer
        #: worker does not compete with that frame for the interpreter; None: at once.  It
        #: must call what it is given exactly once (pages.py: after the paint, or soon).
        self.write_after_paint: Callable[[Callable[[], None]], None] | None = None

    # -- edits ------------------------------------------------------------------------------

    def move(
        self,
        appointment_id: int,
        new_start: dt.datetime,
        new_room_id: int | None,
        overrides: Mapping[str, str] | None = None,
        version: int | None = None,
        *,
        then: Callable[[], None] | None = None,
        failed: Callable[[str], None] | None = None,
        told: bool = False,
    ) -> None:
        """Move a session to ``new_start`` in ``new_room_id`` (None: no room); ``told``: the
        patient was told the new time (else the move may owe a schedule-change call, as a
        drag does); ``refused`` is
        emitted when it cannot go there (and ``failed`` called with why, so a dialog that
        asked keeps what was chosen); ``then`` once it is moved.  ``overrides``: rule code ->
        the signed-in clinician's reason to go ahead despite that "warn" rule (recorded and
        audited by the service; a redo makes the move again with them).  ``version``: the
        appointment's version as the screen showed it (refused when it was changed since;
        None: not checked)."""
        desk = self.desk
        given = dict(overrides or {})

        def work() -> tuple[Placement, PlannedSession, int]:
            seen = self.seen_version(appointment_id, version)
            before = placement_of(desk.db, appointment_id)
            after = plan_move(
                desk.db, appointment_id, new_start, new_room_id, now=desk.now(), overrides=given
            )
            done = appointment_changes.move(
                desk.db,
                desk.actor,
                appointment_id,
                after,
                expected_version=seen,
                now=desk.now(),
                overrides=given,
                patient_knows=told,
            )
            self.wrote(appointment_id, seen, done.version)
            return before, after, done.version

        def moved(result: tuple[Placement, PlannedSession, int]) -> None:
            before, after, left = result
            text = f"Move {before.patient_name or 'session'}"
            if given:
                text += " (override)"
            self._push(
                MoveCommand(self, before, after, new_room_id, text, given, version=left, told=told)
            )
            self.freed.emit(appointment_id)
            if then is not None:
                then()

        refusal = self._refusal("The session was not moved")

        def refused(err: ServiceError) -> None:
            self.move_refused.emit(appointment_id)
            refusal(err)
            if failed is not None:
                failed(str(err))

        self.moving.emit(appointment_id, new_start, new_room_id)
        self._write(work, moved, refused, after_paint=True)

    def drop(
        self,
        appointment_id: int,
        new_start: dt.datetime,
        new_room_id: int | None,
        version: int | None,
    ) -> None:
        """A view's ``move_requested``: ``move`` without overrides, from the version shown."""
        self.move(appointment_id, new_start, new_room_id, version=version)

    def set_status(
        self,
        appointment_id: int,
        status: str,
        reason: str = "",
        *,
        then: Callable[[], None] | None = None,
        overrides: Mapping[str, str] | None = None,
        version: int | None = None,
        ride: RideHome | None = None,
        chair_confirmed: bool = False,
    ) -> None:
        """Check in, start, complete, mark a no-show or cancel (``status`` is the action,
        "no_show", or the status it leads to, "no_show"/"checked_in"...); a cancellation
        needs ``reason``.  ``refused`` is emitted when the service refuses; ``then`` is called
        once the change is made.

        A start the clinic's rules refuse (``StartRefused``) with only "warn" rules, for a
        signed-in role that may override them, asks the reason in the shared override dialog
        and starts again with it (``overrides``: rule code -> reason); otherwise the refusal,
        which names who may override, is ``refused``.  ``version``: the appointment's version
        as the screen showed it (refused when it was changed since; None: not checked).

        A completion that needs the ride home (``RideNeeded``) asks it in the ride dialog
        (the driver on record prefilled) and completes again with the answer (``ride``)."""
        action = status if status in TRANSITIONS else ACTION_OF_STATUS.get(status, status)
        desk = self.desk
        if action == CONFIRM_TENTATIVE:
            self._confirm_tentative(appointment_id, then)
            return

        def work() -> tuple[str, tuple[str, ...], tuple[str, ...], int]:
            seen = self.seen_version(appointment_id, version)
            done = appointment_changes.change_status(
                desk.db,
                desk.actor,
                appointment_id,
                action,
                reason=reason,
                expected_version=seen,
                now=desk.now(),
                overrides=overrides,
                ride=ride,
                chair_confirmed=chair_confirmed,
            )
            self.wrote(appointment_id, seen, done.version)
            # What Undo names, and what the change went ahead despite.
            name = placement_of(desk.db, appointment_id).patient_name
            return name, done.warnings, done.notes, done.version

        def changed(result: tuple[str, tuple[str, ...], tuple[str, ...], int]) -> None:
            patient_name, warnings, notes, left = result
            if warnings:
                self.warned.emit("; ".join(warnings))
            if notes:
                self.noted.emit("; ".join(notes))
            label = ACTION_LABELS.get(action, action.replace("_", " ").capitalize())
            text = f"{label} {patient_name}" if patient_name else label
            self._push(
                StatusCommand(
                    self,
                    appointment_id,
                    action,
                    reason,
                    text,
                    version=left,
                    ride=ride,
                    chair_confirmed=chair_confirmed,
                ),
                said=bool(warnings or notes),
            )
            if action in FREEING_ACTIONS:
                self.freed.emit(appointment_id)
            if then is not None:
                then()

        refusal = self._refusal("The status was not changed")

        def refused(err: ServiceError) -> None:
            if isinstance(err, ChairTaken) and not chair_confirmed:
                # Another patient is checked in to that room: ask, once the write settled.
                QTimer.singleShot(
                    0,
                    lambda: self._ask_chair_taken(
                        appointment_id, reason, then, err, version, overrides
                    ),
                )
                return
            if (
                overrides is None
                and isinstance(err, StartRefused)
                and err.may_override(desk.actor.role)
            ):
                # Asked once the write has settled, not inside the worker's callback.
                QTimer.singleShot(
                    0, lambda: self._ask_start_override(appointment_id, reason, then, err, version)
                )
                return
            if ride is None and isinstance(err, RideNeeded):
                QTimer.singleShot(
                    0, lambda: self._ask_ride(appointment_id, reason, then, err, version)
                )
                return
            refusal(err)

        self._write(work, changed, refused)

    def _ask_ride(
        self,
        appointment_id: int,
        reason: str,
        then: Callable[[], None] | None,
        err: RideNeeded,
        version: int | None,
    ) -> None:
        """The ride home for a completion that needs one, then the completion again with it;
        cancelled: not completed, and the status bar says why."""
        ride = ride_dialog.ask_ride_home(
            self._host,
            question=err.question,
            driver_name=err.driver_name,
            driver_phone=err.driver_phone,
        )
        if ride is None:
            self.refused.emit(f"The session was not completed: {err.question}")
            return
        self.set_status(appointment_id, "complete", reason, then=then, version=version, ride=ride)

    def _ask_chair_taken(
        self,
        appointment_id: int,
        reason: str,
        then: Callable[[], None] | None,
        err: ChairTaken,
        version: int | None,
        overrides: Mapping[str, str] | None,
    ) -> None:
        """Whether to start in a room another patient is checked in to (``err`` says who);
        yes: the start again, confirmed; no: nothing changes, and the refusal says why."""
        if not ask_start_in_taken_chair(self._host, str(err)):
            self.refused.emit(f"The session was not started: {err}")
            return
        self.set_status(
            appointment_id,
            "start",
            reason,
            then=then,
            overrides=overrides,
            version=version,
            chair_confirmed=True,
        )

    def _ask_start_override(
        self,
        appointment_id: int,
        reason: str,
        then: Callable[[], None] | None,
        err: StartRefused,
        version: int | None,
    ) -> None:
        """The clinician's reason for starting despite the "warn" rules ``err`` names, then the
        start again with it; cancelled: the refusal, as for anyone else."""
        given = override_dialog.ask_override_reason(
            self._host,
            step=START_STEP,
            rules=[RefusedRule(f.rule, f.title, f.message) for f in err.findings],
            actor_name=self.desk.actor.username,
        )
        if not given:
            self.refused.emit(f"The session was not started: {err}")
            return
        self.set_status(
            appointment_id,
            "start",
            reason,
            then=then,
            overrides={f.rule: given for f in err.findings},
            version=version,
        )

    def _confirm_tentative(
        self,
        appointment_id: int,
        then: Callable[[], None] | None,
        overrides: Mapping[str, str] | None = None,
    ) -> None:
        """Book a pencilled-in hold if the gates now pass and the patient is not away then
        (the service says which rule does not).  A refusal the signed-in user may go past
        (``GateRefused.overridable_by``: a day away, anyone who books; a warning gate, a
        clinician) asks the reason in the shared override dialog and confirms again with it.
        Not an undo step: undoing a booking is cancelling it, with a reason."""
        desk = self.desk

        def work() -> None:
            tentative.confirm(
                desk.db, desk.actor, appointment_id, overrides=overrides, now=desk.now()
            )

        def confirmed(_none: None) -> None:
            self.changed.emit()
            if then is not None:
                then()

        refusal = self._refusal("The tentative hold was not confirmed")

        def refused(err: ServiceError) -> None:
            if (
                overrides is None
                and isinstance(err, GateRefused)
                and err.overridable_by(desk.actor)
            ):
                # Asked once the write has settled, not inside the worker's callback.
                QTimer.singleShot(0, lambda: self._ask_confirm_override(appointment_id, then, err))
                return
            refusal(err)

        self._write(work, confirmed, refused)

    def _ask_confirm_override(
        self, appointment_id: int, then: Callable[[], None] | None, err: GateRefused
    ) -> None:
        """The reason for confirming a hold despite the warnings ``err`` names, then the
        confirmation again with it; cancelled: the refusal, as for anyone else."""
        rules = err.overridable_by(self.desk.actor)
        given = override_dialog.ask_override_reason(
            self._host,
            step=CONFIRM_STEP,
            rules=[RefusedRule(r.rule, r.title, r.message) for r in rules],
            actor_name=self.desk.actor.username,
        )
        if not given:
            self.refused.emit(f"The tentative hold was not confirmed: {err}")
            return
        self._confirm_tentative(appointment_id, then, {r.rule: given for r in rules})

    def move_series(
        self,
        appointment_id: int,
        new_start: dt.datetime,
        *,
        reason: str = "",
        spacing_reason: str = "",
    ) -> None:
        """Move a session to ``new_start`` and re-flow the rest of its series so the
        protocol's spacing holds; one undo step for all of it."""
        desk = self.desk

        def work() -> tuple[SeriesMove, tuple[Placement, ...]]:
            proposal = propose_series_move(desk.db, appointment_id, new_start, now=desk.now())
            return proposal, self._write_series_move(proposal, reason, spacing_reason)

        def moved(result: tuple[SeriesMove, tuple[Placement, ...]]) -> None:
            self._push_series_move(*result, reason=reason, spacing_reason=spacing_reason)

        self._write(work, moved, self._refusal("The series was not moved"))

    def apply_series_move(
        self,
        proposal: SeriesMove,
        *,
        reason: str = "",
        spacing_reason: str = "",
        then: Callable[[], None] | None = None,
        failed: Callable[[str], None] | None = None,
        told: bool = False,
    ) -> None:
        """Write a series move the user has seen (``propose_series_move``), undoably;
        ``then`` once written, ``failed`` with why when refused (the dialog stays open);
        ``told``: the patient was told the new times (else the move owes a call)."""

        def moved(before: tuple[Placement, ...]) -> None:
            self._push_series_move(
                proposal, before, reason=reason, spacing_reason=spacing_reason, told=told
            )
            if then is not None:
                then()

        refusal = self._refusal("The series was not moved")

        def refused(err: ServiceError) -> None:
            refusal(err)
            if failed is not None:
                failed(str(err))

        self._write(
            lambda: self._write_series_move(proposal, reason, spacing_reason, told),
            moved,
            refused,
        )

    def _write_series_move(
        self, proposal: SeriesMove, reason: str, spacing_reason: str, told: bool = False
    ) -> tuple[Placement, ...]:
        """On the worker: the series move written; the sessions' places before it."""
        desk = self.desk
        before = tuple(placement_of(desk.db, a) for a, _ in proposal.moves)
        move_series(
            desk.db,
            desk.actor,
            proposal,
            reason=reason,
            spacing_reason=spacing_reason,
            now=desk.now(),
            patient_knows=told,
        )
        return before

    def _push_series_move(
        self,
        proposal: SeriesMove,
        before: tuple[Placement, ...],
        *,
        reason: str,
        spacing_reason: str,
        told: bool = False,
    ) -> None:
        n = len(proposal.moves)
        text = f"Move {n} session{'s' if n != 1 else ''} of the series"
        command = SeriesMoveCommand(
            self,
            proposal,
            before,
            text,
            reason=reason,
            spacing_reason=spacing_reason,
            told=told,
        )
        self._push(command)

    def end_series(
        self,
        series_id: int,
        *,
        reason: str,
        note: str,
        effective: dt.date,
        then: Callable[[], None] | None = None,
        failed: Callable[[str], None] | None = None,
    ) -> None:
        """End a series from ``effective`` (``series_end.end_series``), undoably; the place
        of its first cancelled session is offered to the waitlist (``freed``).  ``then`` once
        written, ``failed`` with why when refused (the dialog stays open)."""
        desk = self.desk

        def work() -> series_end.SeriesEnded:
            return series_end.end_series(
                desk.db,
                desk.actor,
                series_id,
                reason=reason,
                note=note,
                effective=effective,
                now=desk.now(),
            )

        def ended(done: series_end.SeriesEnded) -> None:
            self._push(SeriesEndCommand(self, done, reason, note), said=True)
            n = len(done.cancelled)
            self.done.emit(
                f"{done.words}; {n} session{'s' if n != 1 else ''} cancelled · Edit ▸ Undo "
                "takes it back"
            )
            if done.cancelled:
                self.freed.emit(done.cancelled[0])
            if then is not None:
                then()

        refusal = self._refusal("The series was not ended")

        def refused(err: ServiceError) -> None:
            refusal(err)
            if failed is not None:
                failed(str(err))

        self._write(work, ended, refused)

    def change_protocol(
        self,
        series_id: int,
        *,
        protocol: str,
        protocol_name: str,
        why: str,
        effective: dt.date,
        then: Callable[[protocol_change.ChangeStarted, ProtocolChangeCommand], None],
        failed: Callable[[str], None] | None = None,
    ) -> None:
        """End a series "changed to" ``protocol`` from ``effective``
        (``protocol_change.start_change``), undoably; ``then`` with the booking to open and
        the command (which ``take_back`` undoes), ``failed`` with why when refused."""
        desk = self.desk

        def work() -> protocol_change.ChangeStarted:
            return protocol_change.start_change(
                desk.db,
                desk.actor,
                series_id,
                protocol=protocol,
                why=why,
                effective=effective,
                now=desk.now(),
            )

        def started(done: protocol_change.ChangeStarted) -> None:
            command = ProtocolChangeCommand(self, done, protocol_name)
            self._push(command, said=True)
            n = len(done.ended.cancelled)
            self.done.emit(
                f"{done.ended.words}; {n} session{'s' if n != 1 else ''} cancelled · now book "
                f"{protocol_name}"
            )
            if done.ended.cancelled:
                self.freed.emit(done.ended.cancelled[0])
            then(done, command)

        refusal = self._refusal("The protocol was not changed")

        def refused(err: ServiceError) -> None:
            refusal(err)
            if failed is not None:
                failed(str(err))

        self._write(work, started, refused)

    def take_back(self, command: QUndoCommand) -> bool:
        """Undo ``command`` if it is the latest edit on the stack (False, nothing done, when
        another edit came after it: Edit ▸ Undo takes them back in order)."""
        stack = self.stack
        if stack.index() == 0 or stack.command(stack.index() - 1) is not command:
            return False
        self.undo()
        return True

    # -- undo and redo ----------------------------------------------------------------------

    def undo(self) -> None:
        """Take back the latest edit (``refused`` when the database refuses)."""
        self._step(forward=False)

    def redo(self) -> None:
        """Make the latest undone edit again (``refused`` when refused)."""
        self._step(forward=True)

    def is_busy(self) -> bool:
        """Whether an edit, undo or redo is still being written."""
        return self._writing > 0

    def undo_action(self, parent: QObject) -> QAction:
        """An "Undo" action (Ctrl+Z) following the stack: its text names the edit."""
        return self._action(parent, forward=False)

    def redo_action(self, parent: QObject) -> QAction:
        """A "Redo" action (Ctrl+Shift+Z, Ctrl+Y) following the stack."""
        return self._action(parent, forward=True)

    def attach(self, view: DayView) -> None:
        """Let a day view's requests (drops, context menu) be made by this editor."""
        view.move_requested.connect(self.drop)
        view.override_move_requested.connect(self.move)
        view.status_requested.connect(self.status_from_view)

    def status_from_view(
        self, appointment_id: int, action: str, reason: str, version: int | None
    ) -> None:
        """A view's ``status_requested``: ``set_status`` from the version shown."""
        self.set_status(appointment_id, action, reason, version=version)

    def wrote(self, appointment_id: int, seen: int | None, left: int) -> None:
        """On the writer worker: this editor's write took ``appointment_id`` from version
        ``seen`` to ``left`` (a screen showing ``seen`` still shows what it asked for)."""
        if seen is not None:
            self._own_writes.setdefault(appointment_id, {})[seen] = left

    # -- inside -----------------------------------------------------------------------------

    def seen_version(self, appointment_id: int, version: int | None) -> int | None:
        """On the writer worker: the version a request made on ``version`` is judged on,
        this editor's own writes since followed."""
        after = self._own_writes.get(appointment_id)
        if version is None or not after:
            return version
        followed = {version}
        while version in after:
            version = after[version]
            if version in followed:
                break
            followed.add(version)
        return version

    def _push(self, command: _EditCommand, *, said: bool = False) -> None:
        """``said``: the edit's warning or note is in the status bar already (kept there)."""
        self.stack.push(command)  # its first redo is skipped: the edit is made
        self.changed.emit()
        if not said:
            self.done.emit(f"Done: {command.text()} · Edit ▸ Undo takes it back")

    def _step(self, *, forward: bool) -> None:
        if self._writing:
            self._waiting.append(lambda: self._step(forward=forward))
            return
        stack = self.stack
        if not (stack.canRedo() if forward else stack.canUndo()):
            return
        command = stack.command(stack.index() if forward else stack.index() - 1)
        if not isinstance(command, _EditCommand):
            stack.redo() if forward else stack.undo()
            return
        ahead = command.place_ahead(forward)
        if ahead is not None:
            self.moving.emit(*ahead)

        def made(_none: None) -> None:
            command.skip_next()
            if forward:
                stack.redo()
            else:
                stack.undo()
            self.changed.emit()
            self.done.emit(f"{'Redone' if forward else 'Undone'}: {command.text()}")

        def refused(err: ServiceError) -> None:
            if ahead is not None:
                self.move_refused.emit(ahead[0])
            self._report(command, forward, err)

        self._write(lambda: command.apply(forward), made, refused, after_paint=ahead is not None)

    def _refusal(self, what: str) -> Callable[[ServiceError], None]:
        def refused(err: ServiceError) -> None:
            self.refused.emit(f"{what}: {err}")
            if isinstance(err, ChangedElsewhere):
                # The screens showed an older picture: read it again now, not at the next poll.
                self.changed.emit()

        return refused

    def _write(
        self,
        work: Callable[[], T],
        done: Callable[[T], None],
        refused: Callable[[ServiceError], None],
        *,
        after_paint: bool = False,
    ) -> None:
        """``work`` on the writer worker; ``done`` or ``refused`` back on the GUI thread.
        ``after_paint``: a move the views show already; written once they painted it
        (``write_after_paint``)."""
        self._writing += 1  # busy from now: an undo asked meanwhile waits for it

        def start() -> None:
            run_service(
                self._host,
                work,
                done,
                failed=refused,
                busy="Saving…",
                writes=True,
                settled=self._on_written,
            )

        later = self.write_after_paint
        if after_paint and later is not None:
            later(start)
        else:
            start()

    def _on_written(self) -> None:
        self._writing -= 1
        if not self._writing and self._waiting:
            self._waiting.pop(0)()

    def _report(self, command: QUndoCommand, forward: bool, err: ServiceError) -> None:
        what = "redo" if forward else "undo"
        self.refused.emit(f"Cannot {what} “{command.text()}”: {err}")
        if isinstance(err, ChangedElsewhere):
            self.changed.emit()

    def _action(self, parent: QObject, *, forward: bool) -> QAction:
        stack = self.stack
        action = _StackAction("Redo" if forward else "Undo", parent)
        shortcuts = REDO_SHORTCUTS if forward else UNDO_SHORTCUTS
        action.setShortcuts([QKeySequence(s) for s in shortcuts])
        action.setToolTip(f"{action.name} ({shortcuts[0]})")
        # The stack's signals carry what they say, and bound slots of the action are let go
        # when it is deleted: nothing asks an object that has gone away.
        if forward:
            action.setEnabled(stack.canRedo())
            action.show_edit(stack.redoText())
            stack.canRedoChanged.connect(action.setEnabled)
            stack.redoTextChanged.connect(action.show_edit)
        else:
            action.setEnabled(stack.canUndo())
            action.show_edit(stack.undoText())
            stack.canUndoChanged.connect(action.setEnabled)
            stack.undoTextChanged.connect(action.show_edit)
        action.triggered.connect(self.redo if forward else self.undo)
        if isinstance(parent, QWidget):
            parent.addAction(action)
        return action


class _StackAction(QAction):
    """ "Undo" or "Redo", its text naming the edit it would take back or make again."""

    def __init__(self, name: str, parent: QObject) -> None:
        super().__init__(name, parent)
        self.name = name
        self.setObjectName(name.lower())

    def show_edit(self, text: str) -> None:
        self.setText(f"{self.name} {text}" if text else self.name)
