"""Turning the demo plan into rows (patients, series, appointments with their holds and status
history, follow-ups, measures, audit) and bulk-inserting them, parents before children.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from ketadesk.scheduling.catalog import WEEKDAYS, SessionTypeSpec
from ketadesk.scheduling.fees import fee_kind_for, parse_fee_settings
from ketadesk.scheduling.model import session_holds
from ketadesk.scheduling.statuses import ATTENDED_STATUSES, RELEASED_STATUSES
from ketadesk.services.demo import people
from ketadesk.services.demo import users as demo_users
from ketadesk.services.demo.facts import (
    CHART_PREFIX,
    CLINIC,
    EARLY_CHECK_IN_MINUTES,
    FIRST_CHART_NUMBER,
    SPRAVATO,
)
from ketadesk.services.demo.follow_up_rows import FollowUpRows
from ketadesk.services.demo.layout import ascii_name
from ketadesk.services.demo.plan import DemoPlan
from ketadesk.services.demo.planned import (
    MINUTE,
    PatientPlan,
    Progress,
    Row,
    SeriesPlan,
    Visit,
    days_of,
    started_at,
)
from ketadesk.services.demo.rows import CHUNK, ID_TABLES, codes_of
from ketadesk.store.models import ClinicSetting, Protocol, SessionType
from ketadesk.store.patient_keys import email_key, phone_key

#: Spravato patients who pay for themselves (no prior authorization on file), so that the demo
#: shows the self-pay paths: the form's greyed authorization, the record's "Self-pay, none
#: needed", a day sheet without PA units.  The first ones with a session ahead.
SELF_PAY_PATIENTS = 2

_VISIT_TABLES = (
    "appointment",
    "resource_hold",
    "appointment_event",
    "follow_up",
    "follow_up_attempt",
    "measurement",
    "session_fee",
)


class RowWriter(FollowUpRows):
    """Turns the plan into rows and bulk-inserts them, parents before children."""

    def __init__(self, plan: DemoPlan, session: Session, say: Progress) -> None:
        super().__init__(plan, session, say)
        self.type_ids: dict[str, int] = {}
        self.protocol_ids: dict[str, int] = {}
        self.created: dict[int, dt.datetime] = {}
        #: The fees a no-show or a late cancellation owes ([fees], scheduling/fees.py).
        self.fees = parse_fee_settings(plan.settings.extra.get("fees"))
        #: The patients' own numbers given out so far: (area code, last two digits).
        self._patient_phones: set[tuple[str, int]] = set()
        #: How many more Spravato patients with a session ahead pay for themselves.
        self._self_pay_left = SELF_PAY_PATIENTS

    # -- the whole clinic --------------------------------------------------------------------

    def write_all(self) -> dict[str, int]:
        session = self.session
        for table in ID_TABLES:
            top = session.scalar(select(func.max(table.c.id)))
            self.next_id[table.name] = (top or 0) + 1
        self.type_ids = codes_of(session, SessionType)
        self.protocol_ids = codes_of(session, Protocol)
        self._write_settings()
        layout = self.layout
        self._insert("resource", layout.resource_rows)
        self._insert("staff_member", layout.staff_rows)
        self._insert("staff_shift", self._renumbered("staff_shift", layout.shift_rows))
        demo_users.set_demo_passwords(layout.user_rows)
        self._insert("app_user", layout.user_rows)
        self._insert("closure", self._renumbered("closure", self.plan.closure_rows))
        patients, series, visits = self._number_rows()
        self.say(f"writing {len(patients):,} patients and {len(visits):,} appointments")
        self._insert("patient", (_with_keys(self._patient_row(p)) for p in patients))
        self._insert("series", (self._series_row(s) for s in series))
        self._choose_urgent(visits)
        for visit in visits:
            self._visit_rows(visit)
            if len(self.buffers.get("appointment", ())) >= CHUNK // 2:
                self._flush(*_VISIT_TABLES)
        for s in series:
            self._series_follow_up(s)
        self._flush(*_VISIT_TABLES)
        self._insert("audit_event", [self._audit_row(len(patients), len(visits))])
        self.counts["past"] = sum(1 for v in visits if v.day < self.today)
        self.counts["today"] = sum(1 for v in visits if v.day == self.today)
        self.counts["future"] = sum(1 for v in visits if v.day > self.today)
        return self.counts

    def _renumbered(self, table: str, rows: list[Row]) -> list[Row]:
        return [{**row, "id": self._id(table)} for row in rows]

    def _write_settings(self) -> None:
        session = self.session
        clinic = dict(session.get_one(ClinicSetting, "clinic").value)
        clinic.update(CLINIC)
        session.execute(
            update(ClinicSetting).where(ClinicSetting.key == "clinic").values(value=clinic)
        )
        certified = self.plan.settings.rems_site_certified_until
        rems_row = session.get(ClinicSetting, "rems")
        if rems_row is None:
            rems = {"site_certified_until": certified}
            session.execute(insert(ClinicSetting).values(key="rems", value=rems))
        else:
            rems = {**rems_row.value, "site_certified_until": certified}
            session.execute(
                update(ClinicSetting).where(ClinicSetting.key == "rems").values(value=rems)
            )
        # The same seed and day give the same database: the settings carry the demo's clock.
        session.execute(update(ClinicSetting).values(updated_at=self.plan.since))

    # -- numbering ---------------------------------------------------------------------------

    def _number_rows(self) -> tuple[list[PatientPlan], list[SeriesPlan], list[Visit]]:
        plan = self.plan
        visits = [v for v in plan.visits if plan.first_day <= v.day <= plan.last_day]
        visits.sort(key=lambda v: (v.start, v.slot.lane, v.slot.key, v.status))
        for v in visits:
            v.id = self._id("appointment")
        kept = {id(v.series): v.series for v in visits if v.series is not None}
        series = sorted(
            kept.values(), key=lambda s: (min(v.id for v in s.visits if v.id), s.patient.seq)
        )
        for s in series:
            s.id = self._id("series")
        shown = {id(v.patient) for v in visits}
        patients = [p for p in plan.patients if not p.historical or id(p) in shown]
        self.created = {id(p): self._created_at(p) for p in patients}
        patients.sort(key=lambda p: (self.created[id(p)], p.seq))
        for p in patients:
            p.id = self._id("patient")
        return patients, series, visits

    def _created_at(self, p: PatientPlan) -> dt.datetime:
        if p.visits:
            first = min(v.booked_at for v in p.visits)
            return first - MINUTE * self.rng.randrange(60, 4 * 24 * 60, 5)
        day = self.today - days_of(self.rng.randint(0, 10))
        registered = self.calendar.at_local(day, self.rng.randrange(8 * 60, 17 * 60, 5))
        return min(registered, self.now - MINUTE * 30)

    # -- patients and series -----------------------------------------------------------------

    def _phone(self, area: str) -> str:
        return f"({area}) 555-01{self.rng.randint(0, 99):02d}"

    def _patient_phone(self, area: str) -> str:
        """A number no other patient has, so a phone search finds one patient: the one drawn,
        else the next free one in the area, then in its overlay and the county's other codes
        (the draw is kept, so the rest of the demo is the same as before)."""
        wanted = self.rng.randint(0, 99)
        codes = dict.fromkeys((area, people.OVERLAYS.get(area, area), *people.AREA_CODES))
        for code in codes:
            for step in range(100):
                last_two = (wanted + step) % 100
                if (code, last_two) not in self._patient_phones:
                    self._patient_phones.add((code, last_two))
                    return f"({code}) 555-01{last_two:02d}"
        return f"({area}) 555-01{wanted:02d}"  # more patients than fictional numbers

    def _patient_row(self, p: PatientPlan) -> Row:
        rng = self.rng
        first, last = rng.choice(people.FIRST_NAMES), rng.choice(people.LAST_NAMES)
        city, zip_code, area = rng.choice(people.PLACES)
        relative_last = last if rng.random() < 0.7 else rng.choice(people.LAST_NAMES)
        relative = f"{rng.choice(people.FIRST_NAMES)} {relative_last}"
        row: Row = {
            "id": p.id,
            "chart_number": f"{CHART_PREFIX}{FIRST_CHART_NUMBER + p.id - 1}",
            "first_name": first,
            "last_name": last,
            "preferred_name": "",
            "date_of_birth": self.today - days_of(rng.randint(19 * 365, 74 * 365)),
            "phone": self._patient_phone(area),
            "email": f"{ascii_name(first)}.{ascii_name(last)}{rng.randint(1, 99)}@example.com",
            "address": f"{rng.randint(100, 9999)} {rng.choice(people.STREETS)}\n"
            f"{city}, CA {zip_code}",
            "emergency_contact_name": relative,
            "emergency_contact_phone": self._phone(area),
            "screening_status": "pending",
            "screening_cleared_on": None,
            "screening_cleared_by_id": None,
            "consent_signed_on": None,
            "rems_enrolled_on": None,
            "rems_patient_id": "",
            "prior_auth_number": "",
            "prior_auth_expires_on": None,
            "prior_auth_sessions": None,
            "self_pay": False,  # on insurance, but for SELF_PAY_PATIENTS of them
            "driver_name": "",
            "driver_phone": "",
            "contraindications": "",
            "notes": "",
            "active": True,
            "created_at": self.created[id(p)],
        }
        intake = p.intake
        if intake is None:
            return row
        row["screening_status"] = "cleared" if p.eligible else "not_eligible"
        row["screening_cleared_on"] = intake.day
        row["screening_cleared_by_id"] = intake.slot.clinician
        if not p.eligible:
            row["notes"] = "Not eligible at screening: uncontrolled hypertension; back to PCP."
            return row
        row["consent_signed_on"] = intake.day
        if rng.random() < 0.6:
            row["driver_name"], row["driver_phone"] = relative, row["emergency_contact_phone"]
        else:
            row["driver_name"] = f"{rng.choice(people.FIRST_NAMES)} {rng.choice(people.LAST_NAMES)}"
            row["driver_phone"] = self._phone(area)
        if rng.random() < 0.1:
            row["contraindications"] = rng.choice(people.CONTRAINDICATIONS)
        if rng.random() < 0.12:
            row["notes"] = rng.choice(people.PATIENT_NOTES)
        spravato = [v for v in p.visits if v.code == SPRAVATO]
        if spravato:
            row["rems_enrolled_on"] = intake.day
            row["rems_patient_id"] = f"RP{rng.randint(1_000_000, 9_999_999)}"
            row["prior_auth_number"] = f"PA-{rng.randint(100_000, 999_999)}"
            last_day = max(max(v.day for v in spravato), self.today)
            row["prior_auth_expires_on"] = last_day + days_of(rng.randint(30, 150))
            row["prior_auth_sessions"] = sum(v.active for v in spravato) + rng.randint(2, 10)
            if self._self_pay_left and any(v.day >= self.today for v in spravato):
                # (The numbers above were drawn all the same: the rest of the clinic is the
                # one the same seed always gave.)
                self._self_pay_left -= 1
                row["self_pay"] = True
                row["prior_auth_number"] = ""
                row["prior_auth_expires_on"] = None
                row["prior_auth_sessions"] = None
        if p.historical and max(v.day for v in p.visits) < self.today - days_of(180):
            row["active"] = False
        return row

    def _series_row(self, s: SeriesPlan) -> Row:
        first = min(s.visits, key=lambda v: v.start)
        minute = first.slot.minute
        preferences: Row = {
            "weekdays": [WEEKDAYS[d] for d in sorted(s.weekdays)],
            "time": f"{minute // 60:02d}:{minute % 60:02d}",
        }
        if first.slot.room_id is not None:
            preferences["room_id"] = first.slot.room_id
        return {
            "id": s.id,
            "patient_id": s.patient.id,
            "protocol_id": self.protocol_ids[s.protocol],
            "status": self._series_status(s),
            "planned_count": s.planned,
            "preferences": preferences,
            "created_at": s.booked_at or first.booked_at,
        }

    # -- appointments ------------------------------------------------------------------------

    def _visit_rows(self, v: Visit) -> None:
        spec = self.plan.types[v.code]
        events = self._events(v, spec)
        checklist: Row = {}
        if spec.dosing and v.status in ATTENDED_STATUSES:
            checklist = {"fasting_confirmed": True, "driver_confirmed": True, "vitals_taken": True}
        in_series = v.series is not None and v.series.id > 0
        self._add(
            "appointment",
            {
                "id": v.id,
                "patient_id": v.patient.id,
                "series_id": v.series.id if v.series is not None and in_series else None,
                "series_index": v.index if in_series else None,
                "session_type_id": self.type_ids[v.code],
                "room_id": v.slot.room_id,
                "starts_at": v.start,
                "ends_at": v.end,
                "status": v.status,
                "late_cancel": v.late_cancel,
                "checklist": checklist,
                "notes": v.reason,
                "version": len(events),
                "created_at": v.booked_at,
                "updated_at": max(e["at"] for e in events),
            },
        )
        for event in events:
            self._add("appointment_event", event)
        for hold in session_holds(spec, v.start, dict(v.slot.assignment)):
            self._add(
                "resource_hold",
                {
                    "id": self._id("resource_hold"),
                    "appointment_id": v.id,
                    "resource_id": hold.resource_id,
                    "need": hold.need,
                    "mode": hold.mode.value,
                    "exclusive": hold.exclusive,
                    "units": hold.units,
                    "starts_at": hold.span.start,
                    "ends_at": hold.span.end,
                    "active": v.active,
                },
            )
        self._follow_ups(v, spec)
        self._fee(v, events)

    def _fee(self, v: Visit, events: list[Row]) -> None:
        """The fee a no-show or a late cancellation owes, as the desk's change wrote it."""
        kind = fee_kind_for(
            "no_show" if v.status == "no_show" else "cancel", late_cancel=v.late_cancel
        )
        changed = [e for e in events if e["action"] in ("cancel", "no_show")]
        if v.status not in RELEASED_STATUSES or kind is None or not changed:
            return
        cents = self.fees.amount_cents(kind, v.code)
        if cents <= 0:
            return
        self._add(
            "session_fee",
            {
                "id": self._id("session_fee"),
                "appointment_id": v.id,
                "patient_id": v.patient.id,
                "event_id": changed[-1]["id"],
                "kind": kind,
                "amount_cents": cents,
                "currency": self.fees.currency,
                "status": "owed",
                "charged_at": changed[-1]["at"],
                "charged_by_id": changed[-1]["user_id"],
                "waived_at": None,
                "waived_by_id": None,
                "waive_reason": "",
                "voided_at": None,
            },
        )

    def _events(self, v: Visit, spec: SessionTypeSpec) -> list[Row]:
        """The status history a real day at the desk would have left."""
        events: list[Row] = []

        def event(at: dt.datetime, user: int, action: str, to: str, why: str = "") -> None:
            before = events[-1]["to_status"] if events else None
            events.append(
                {
                    "id": self._id("appointment_event"),
                    "appointment_id": v.id,
                    "at": at,
                    "user_id": user,
                    "action": action,
                    "from_status": before,
                    "to_status": to,
                    "reason": why,
                    "detail": {},
                }
            )

        event(v.booked_at, self._front_desk(), "book", "booked", "make-up" if v.makeup else "")
        clinician = self._user(v.slot.clinician, "nurse")
        if v.status in ATTENDED_STATUSES:
            arrived = v.start - MINUTE * self.rng.randint(2, EARLY_CHECK_IN_MINUTES)
            event(min(arrived, self.now), self._front_desk(), "check_in", "checked_in")
            if v.status != "checked_in":
                event(started_at(v, spec), clinician, "start", "in_progress")
            if v.status == "completed":
                event(v.end, clinician, "complete", "completed")
        elif v.status in RELEASED_STATUSES and v.changed_at is not None:
            action = "cancel" if v.status == "cancelled" else "no_show"
            event(v.changed_at, self._front_desk(), action, v.status, v.reason)
        return events

    def _audit_row(self, patients: int, appointments: int) -> Row:
        return {
            "id": self._id("audit_event"),
            "at": self.now,
            "user_id": None,
            "username": "system",
            "action": "build_demo",
            "entity": "clinic",
            "entity_id": None,
            "patient_id": None,
            "before": None,
            "after": {"seed": self.plan.seed, "today": self.today.isoformat()},
            "detail": f"demo clinic built: {patients} patients, {appointments} appointments",
        }


def _with_keys(row: Row) -> Row:
    """A patient row with the duplicate check's keys (the fast insert bypasses the model)."""
    return {**row, "phone_key": phone_key(row["phone"]), "email_key": email_key(row["email"])}
