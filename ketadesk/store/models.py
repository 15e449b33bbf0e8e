"""The database schema: SQLAlchemy 2.0 typed declarative models.

Times are stored as UTC instants (``UTCDateTime``); local dates (birthdays, consent dates) as
dates.  Session types and protocols keep their definition as the same dictionaries the TOML files
hold, so the clinic can edit them and the scheduling package parses them the same way.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates
from sqlalchemy.types import TypeDecorator

from ketadesk.scheduling.statuses import RELEASED_STATUSES, STATUSES
from ketadesk.store.patient_keys import email_key, phone_key

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """An aware datetime, stored as UTC (naive UTC on SQLite, timestamptz on PostgreSQL)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given where an aware one is needed")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


JSONType = JSON().with_variant(postgresql.JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        dt.datetime: UTCDateTime(),
        dt.date: Date(),
        dict[str, Any]: JSONType,
        list[Any]: JSONType,
    }


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# ---------------------------------------------------------------------------------------------
# Configuration


class ClinicSetting(Base):
    """One section of the clinic configuration (clinic, hours, staffing, gating, ...)."""

    __tablename__ = "clinic_setting"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]]
    updated_at: Mapped[dt.datetime] = mapped_column(default=_now)


class SessionType(Base):
    __tablename__ = "session_type"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    color: Mapped[str] = mapped_column(String(16))
    dosing: Mapped[bool] = mapped_column(default=False)
    definition: Mapped[dict[str, Any]]
    active: Mapped[bool] = mapped_column(default=True)
    sort_order: Mapped[int] = mapped_column(default=0)


class Protocol(Base):
    __tablename__ = "protocol"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    definition: Mapped[dict[str, Any]]
    active: Mapped[bool] = mapped_column(default=True)
    sort_order: Mapped[int] = mapped_column(default=0)


# ---------------------------------------------------------------------------------------------
# Resources: rooms, equipment, staff


class Resource(Base):
    """Anything a session holds: a room, a piece of equipment or a staff member.

    ``capacity`` is how many shared holds may overlap (a nurse watching three recovering
    patients); exclusive holds never overlap one another whatever the capacity.
    """

    __tablename__ = "resource"
    __table_args__ = (
        CheckConstraint("kind IN ('room', 'equipment', 'staff')", name="kind"),
        CheckConstraint("capacity >= 1", name="capacity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    subkind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(120), unique=True)
    short_name: Mapped[str] = mapped_column(String(16), default="")
    capacity: Mapped[int] = mapped_column(default=1)
    active: Mapped[bool] = mapped_column(default=True)
    sort_order: Mapped[int] = mapped_column(default=0)
    notes: Mapped[str] = mapped_column(Text, default="")
    # Session type codes this resource may be booked for; empty: every type asking for its kind
    # and subkind (``ResourceInfo.serves``).
    serves: Mapped[list[Any]] = mapped_column(default=list, server_default=text("'[]'"))

    staff: Mapped[StaffMember | None] = relationship(back_populates="resource", uselist=False)


class StaffMember(Base):
    __tablename__ = "staff_member"

    resource_id: Mapped[int] = mapped_column(
        ForeignKey("resource.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(32))
    first_name: Mapped[str] = mapped_column(String(80))
    last_name: Mapped[str] = mapped_column(String(80))
    credentials: Mapped[str] = mapped_column(String(40), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    email: Mapped[str] = mapped_column(String(120), default="")

    resource: Mapped[Resource] = relationship(back_populates="staff")


class StaffShift(Base):
    """A weekly working pattern: on ``weekday`` (0 = Monday) from start to end, local time,
    every ``every_n_weeks`` weeks counted from the week holding ``anchor_date``."""

    __tablename__ = "staff_shift"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
        CheckConstraint("end_minute > start_minute", name="order"),
        CheckConstraint("every_n_weeks >= 1", name="every_n_weeks"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resource.id", ondelete="CASCADE"))
    weekday: Mapped[int]
    start_minute: Mapped[int]  # minutes after local midnight
    end_minute: Mapped[int]
    valid_from: Mapped[dt.date | None]
    valid_until: Mapped[dt.date | None]
    every_n_weeks: Mapped[int] = mapped_column(default=1, server_default="1")
    anchor_date: Mapped[dt.date | None]


class StaffQualification(Base):
    """One phase of one session type a staff member may be booked for.  A staff member with
    none may be booked for every phase their role is asked for."""

    __tablename__ = "staff_qualification"
    __table_args__ = (UniqueConstraint("resource_id", "session_type", "phase"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resource.id", ondelete="CASCADE"))
    session_type: Mapped[str] = mapped_column(String(64))
    phase: Mapped[str] = mapped_column(String(64))


class Closure(Base):
    """A stretch when the clinic, or one resource, is unavailable.

    ``resource_id`` NULL closes the whole clinic (holidays, training days).  For a resource it is
    staff time off or equipment out of service.
    """

    __tablename__ = "closure"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="order"),
        CheckConstraint(
            "repeat_rule = '' OR repeat_rule = 'FREQ=DAILY' "
            "OR repeat_rule LIKE 'FREQ=WEEKLY;BYDAY=__%'",
            name="repeat_rule",
        ),
        Index("ix_closure_span", "starts_at", "ends_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int | None] = mapped_column(ForeignKey("resource.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))  # holiday | closure | time_off | maintenance
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime]
    reason: Mapped[str] = mapped_column(String(200), default="")
    #: How it repeats, in RFC 5545 words: "" (not at all), "FREQ=DAILY",
    #: "FREQ=WEEKLY;BYDAY=MO,FR" (migration 0024).  A repeating closure runs from its first
    #: day's hours to its last day's: scheduling/closure_repeats.py makes it its days.
    # No Python default: the demo's bulk inserts name only the columns they fill.
    repeat_rule: Mapped[str] = mapped_column(String(64), server_default="")


# ---------------------------------------------------------------------------------------------
# Patients


def _phone_key_default(context: DefaultExecutionContext) -> str:
    # A plain INSERT (the demo writer's bulk rows) gets its key from the phone it carries.
    parameters = context.get_current_parameters()  # type: ignore[no-untyped-call]
    return phone_key(str(parameters.get("phone") or ""))


def _email_key_default(context: DefaultExecutionContext) -> str:
    parameters = context.get_current_parameters()  # type: ignore[no-untyped-call]
    return email_key(str(parameters.get("email") or ""))


class Patient(Base):
    __tablename__ = "patient"
    __table_args__ = (
        Index("ix_patient_name", "last_name", "first_name"),
        # The duplicate check (services/patients/duplicates.py): same birthday, same phone
        # digits, same e-mail whatever its case.
        Index("ix_patient_date_of_birth", "date_of_birth"),
        Index("ix_patient_phone_key", "phone_key"),
        Index("ix_patient_email_key", "email_key"),
        CheckConstraint(
            "screening_status IN ('pending', 'cleared', 'not_eligible')", name="screening"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    chart_number: Mapped[str] = mapped_column(String(32), unique=True)
    first_name: Mapped[str] = mapped_column(String(80))
    last_name: Mapped[str] = mapped_column(String(80))
    preferred_name: Mapped[str] = mapped_column(String(80), default="")
    date_of_birth: Mapped[dt.date | None]
    phone: Mapped[str] = mapped_column(String(40), default="")
    email: Mapped[str] = mapped_column(String(120), default="")
    address: Mapped[str] = mapped_column(Text, default="")
    emergency_contact_name: Mapped[str] = mapped_column(String(120), default="")
    emergency_contact_phone: Mapped[str] = mapped_column(String(40), default="")
    # Gating facts (DOMAIN.md "Gating before a dosing session").
    screening_status: Mapped[str] = mapped_column(String(16), default="pending")
    screening_cleared_on: Mapped[dt.date | None]
    screening_cleared_by_id: Mapped[int | None] = mapped_column(ForeignKey("resource.id"))
    consent_signed_on: Mapped[dt.date | None]
    rems_enrolled_on: Mapped[dt.date | None]
    rems_patient_id: Mapped[str] = mapped_column(String(40), default="")
    prior_auth_number: Mapped[str] = mapped_column(String(40), default="")
    prior_auth_starts_on: Mapped[dt.date | None]
    prior_auth_expires_on: Mapped[dt.date | None]
    # The authorized units (one session uses [eligibility] prior_auth_units of them, 1 unless
    # configured); the name is older than units.
    prior_auth_sessions: Mapped[int | None]
    # Self-pay: the patient pays for their own sessions, so no prior authorization is needed
    # (``prior_auth_valid`` passes); False: insurance.
    self_pay: Mapped[bool] = mapped_column(default=False, server_default=false())
    driver_name: Mapped[str] = mapped_column(String(120), default="")
    driver_phone: Mapped[str] = mapped_column(String(40), default="")
    contraindications: Mapped[str] = mapped_column(Text, default="")
    # The [eligibility] contraindications and precautions recorded (codes; None: none).
    eligibility_flags: Mapped[list[str] | None] = mapped_column(JSONType)
    notes: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=_now)
    # The phone's digits and the e-mail in lower case (store/patient_keys.py), kept in step
    # with ``phone`` and ``email`` by the model.
    phone_key: Mapped[str] = mapped_column(
        String(40), default=_phone_key_default, server_default=""
    )
    email_key: Mapped[str] = mapped_column(
        String(120), default=_email_key_default, server_default=""
    )
    # A chart merged into another one (services/patients/merge.py) stays, inactive, pointing
    # at the chart that now holds its history.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("patient.id"))

    @validates("phone")
    def _keep_phone_key(self, _key: str, value: str) -> str:
        self.phone_key = phone_key(value)
        return value

    @validates("email")
    def _keep_email_key(self, _key: str, value: str) -> str:
        self.email_key = email_key(value)
        return value

    @property
    def display_name(self) -> str:
        return f"{self.last_name}, {self.first_name}"


class PatientAway(Base):
    """Days the patient is away (``scheduling/days_away.py``): ``first_day`` to ``last_day``
    inclusive, local dates, with a short reason; the planner, booking, moves and a closure's
    re-plan respect them.  Kept after they pass, as the record's history."""

    __tablename__ = "patient_away"
    __table_args__ = (CheckConstraint("last_day >= first_day", name="range"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    first_day: Mapped[dt.date]
    last_day: Mapped[dt.date]
    reason: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=_now)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


# ---------------------------------------------------------------------------------------------
# Series, appointments and the holds that protect them

# The statuses as SQL lists, for the constraint and the partial index below.
_STATUS_SQL = ", ".join(f"'{status}'" for status in STATUSES)
_RELEASED_SQL = ", ".join(f"'{status}'" for status in sorted(RELEASED_STATUSES))


class Series(Base):
    __tablename__ = "series"
    __table_args__ = (
        CheckConstraint(
            "status IN ('planned', 'active', 'completed', 'dropped', 'cancelled', 'ended')",
            name="status",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    protocol_id: Mapped[int] = mapped_column(ForeignKey("protocol.id"))
    status: Mapped[str] = mapped_column(String(16), default="active")
    planned_count: Mapped[int]
    preferences: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=_now)
    # A series a prescriber ended (status "ended", migration 0021): the first local day no
    # longer in it, the reason's code (scheduling/series_end.py), their words, who and when.
    ended_on: Mapped[dt.date | None]
    end_reason: Mapped[str | None] = mapped_column(String(32))
    end_note: Mapped[str | None] = mapped_column(Text)
    ended_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    ended_at: Mapped[dt.datetime | None]
    # The series this one follows after a change of protocol (the old series ended with
    # reason "protocol_change", scheduling/protocol_change.py); None for any other series.
    previous_series_id: Mapped[int | None] = mapped_column(ForeignKey("series.id"))

    appointments: Mapped[list[Appointment]] = relationship(
        back_populates="series", order_by="Appointment.series_index"
    )


class Appointment(Base):
    __tablename__ = "appointment"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="order"),
        CheckConstraint(f"status IN ({_STATUS_SQL})", name="status"),
        Index("ix_appointment_span", "starts_at", "ends_at"),
        Index("ix_appointment_patient", "patient_id", "starts_at"),
        # One live appointment per place in a series; a missed one may be made up under the
        # same number.
        Index(
            "uq_appointment_series_place",
            "series_id",
            "series_index",
            unique=True,
            sqlite_where=text(f"series_id IS NOT NULL AND status NOT IN ({_RELEASED_SQL})"),
            postgresql_where=text(f"series_id IS NOT NULL AND status NOT IN ({_RELEASED_SQL})"),
        ),
        # The expired-tentative-hold sweep every booking runs first
        # (services/booking/expiry.py): the few tentative holds by deadline, not every row.
        Index(
            "ix_appointment_tentative_deadline",
            "hold_until",
            sqlite_where=text("status = 'tentative'"),
            postgresql_where=text("status = 'tentative'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    series_id: Mapped[int | None] = mapped_column(ForeignKey("series.id"), index=True)
    series_index: Mapped[int | None]  # 1-based place in the series ("3/6")
    session_type_id: Mapped[int] = mapped_column(ForeignKey("session_type.id"))
    room_id: Mapped[int | None] = mapped_column(ForeignKey("resource.id"))
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime]
    status: Mapped[str] = mapped_column(String(16), default="booked")
    # A tentative appointment's deadline: it holds its resources until then (see statuses.py).
    hold_until: Mapped[dt.datetime | None]
    late_cancel: Mapped[bool] = mapped_column(default=False)
    checklist: Mapped[dict[str, Any]] = mapped_column(default=dict)
    notes: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[dt.datetime] = mapped_column(default=_now)
    updated_at: Mapped[dt.datetime] = mapped_column(default=_now)

    series: Mapped[Series | None] = relationship(back_populates="appointments")
    holds: Mapped[list[ResourceHold]] = relationship(
        back_populates="appointment", cascade="all, delete-orphan"
    )
    events: Mapped[list[AppointmentEvent]] = relationship(
        back_populates="appointment", order_by="AppointmentEvent.at"
    )

    __mapper_args__ = {"version_id_col": version}


class AppointmentEvent(Base):
    """Every status change or move of an appointment: who, when, why."""

    __tablename__ = "appointment_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(
        ForeignKey("appointment.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[dt.datetime] = mapped_column(default=_now)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)

    appointment: Mapped[Appointment] = relationship(back_populates="events")


class ResourceHold(Base):
    """One resource held by one appointment for one stretch of time.

    This table is what conflict detection reads and what the database protects: on PostgreSQL an
    exclusion constraint forbids two active exclusive holds on one resource from overlapping.
    """

    __tablename__ = "resource_hold"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="order"),
        CheckConstraint("mode IN ('exclusive', 'shared', 'presence')", name="mode"),
        # The exclusion constraint reads ``exclusive``; it must never disagree with ``mode``.
        CheckConstraint("exclusive = (mode = 'exclusive')", name="exclusive_matches_mode"),
        Index("ix_resource_hold_lookup", "resource_id", "starts_at", "ends_at"),
        Index("ix_resource_hold_span", "starts_at", "ends_at"),
        postgresql.ExcludeConstraint(
            ("resource_id", "="),
            (func.tstzrange(text("starts_at"), text("ends_at")), "&&"),
            name="no_overlapping_exclusive_holds",
            using="gist",
            where=text("exclusive AND active"),
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(
        ForeignKey("appointment.id", ondelete="CASCADE"), index=True
    )
    resource_id: Mapped[int] = mapped_column(ForeignKey("resource.id"))
    need: Mapped[str] = mapped_column(String(32))  # the session type's need key ("room", ...)
    mode: Mapped[str] = mapped_column(String(16))
    exclusive: Mapped[bool]
    units: Mapped[int] = mapped_column(default=1)
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime]
    active: Mapped[bool] = mapped_column(default=True)

    appointment: Mapped[Appointment] = relationship(back_populates="holds")


class GatingOverride(Base):
    """A clinician's recorded decision to go ahead despite a gating warning."""

    __tablename__ = "gating_override"

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int | None] = mapped_column(
        ForeignKey("appointment.id", ondelete="CASCADE"), index=True
    )
    series_id: Mapped[int | None] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"))
    rule: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    at: Mapped[dt.datetime] = mapped_column(default=_now)


# ---------------------------------------------------------------------------------------------
# After the session: follow-ups, measurements, monitoring records


class FollowUp(Base):
    __tablename__ = "follow_up"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'done', 'cancelled', 'snoozed')", name="status"),
        Index("ix_follow_up_queue", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    appointment_id: Mapped[int | None] = mapped_column(
        ForeignKey("appointment.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    due_at: Mapped[dt.datetime]
    deadline_at: Mapped[dt.datetime | None]
    assignee_role: Mapped[str] = mapped_column(String(32))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("resource.id"))
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    status: Mapped[str] = mapped_column(String(16), default="open")
    outcome: Mapped[str] = mapped_column(Text, default="")
    snoozed_until: Mapped[dt.datetime | None]
    completed_at: Mapped[dt.datetime | None]
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=_now)
    # A REMS form marked submitted: the day it was sent and the REMS confirmation number.
    submitted_on: Mapped[dt.date | None]
    confirmation_number: Mapped[str] = mapped_column(String(40), server_default="")

    attempts: Mapped[list[FollowUpAttempt]] = relationship(
        back_populates="follow_up", order_by="FollowUpAttempt.at"
    )


class FollowUpAttempt(Base):
    __tablename__ = "follow_up_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    follow_up_id: Mapped[int] = mapped_column(
        ForeignKey("follow_up.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[dt.datetime]
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    result: Mapped[str] = mapped_column(String(16))  # reached | no_answer | voicemail
    notes: Mapped[str] = mapped_column(Text, default="")

    follow_up: Mapped[FollowUp] = relationship(back_populates="attempts")


class Measurement(Base):
    """An outcome measure (PHQ-9, GAD-7, ...) with its item answers."""

    __tablename__ = "measurement"
    __table_args__ = (Index("ix_measurement_patient", "patient_id", "taken_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    appointment_id: Mapped[int | None] = mapped_column(
        ForeignKey("appointment.id", ondelete="SET NULL")
    )
    instrument: Mapped[str] = mapped_column(String(16))
    score: Mapped[int]
    items: Mapped[list[Any]] = mapped_column(default=list)
    taken_at: Mapped[dt.datetime]
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


class SessionRecord(Base):
    """What happened in a dosing session: dose, lot, monitoring, discharge."""

    __tablename__ = "session_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(
        ForeignKey("appointment.id", ondelete="CASCADE"), unique=True
    )
    dose_mg: Mapped[int | None]
    devices: Mapped[int | None]
    lot_number: Mapped[str] = mapped_column(String(40), default="")
    dose_started_at: Mapped[dt.datetime | None]
    discharged_at: Mapped[dt.datetime | None]
    monitored_minutes: Mapped[int | None]
    monitored_by_id: Mapped[int | None] = mapped_column(ForeignKey("resource.id"))
    sedation: Mapped[str] = mapped_column(String(40), default="")
    dissociation: Mapped[str] = mapped_column(String(40), default="")
    respiratory_depression: Mapped[bool] = mapped_column(default=False)
    events: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[dt.datetime] = mapped_column(default=_now)
    # What current copies of the REMS form also ask (None: not recorded yet).
    concomitant_meds: Mapped[list[Any] | None]
    vitals_acceptable: Mapped[bool | None]
    ready_to_leave_at: Mapped[dt.datetime | None]
    # The effects seen, marked resolved before discharge (DOMAIN.md "Discharge").
    sedation_resolved: Mapped[bool] = mapped_column(default=False, server_default=false())
    dissociation_resolved: Mapped[bool] = mapped_column(default=False, server_default=false())
    respiratory_resolved: Mapped[bool] = mapped_column(default=False, server_default=false())

    readings: Mapped[list[VitalReading]] = relationship(
        back_populates="record", order_by="VitalReading.taken_at", cascade="all, delete-orphan"
    )


class VitalReading(Base):
    __tablename__ = "vital_reading"

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(
        ForeignKey("session_record.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(String(40))
    taken_at: Mapped[dt.datetime]
    systolic: Mapped[int | None]
    diastolic: Mapped[int | None]
    heart_rate: Mapped[int | None]
    spo2: Mapped[int | None]
    # When the reading was entered (the save that brought these values) and by whom: a reading
    # entered long after it was taken is a late entry (``services/monitoring/late_entries``).
    # None on a reading saved before they were kept (migration 0025): not known, no mark.
    recorded_at: Mapped[dt.datetime | None]
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))

    record: Mapped[SessionRecord] = relationship(back_populates="readings")


class ScaleReading(Base):
    """A timed sedation (MOAA/S) or dissociation (CADSS) reading of a session
    (``scheduling/scale_rules.py``): the scale, when it was taken, the score, and who recorded
    it.  Kept per appointment, not per monitoring record: a reading is saved the moment it is
    typed, before any record is."""

    __tablename__ = "scale_reading"
    __table_args__ = (
        CheckConstraint("scale IN ('moaas', 'cadss')", name="scale"),
        CheckConstraint("score >= 0", name="score"),
        Index("uq_scale_reading_corrects_id", "corrects_id", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(
        ForeignKey("appointment.id", ondelete="CASCADE"), index=True
    )
    scale: Mapped[str] = mapped_column(String(16))
    taken_at: Mapped[dt.datetime]
    score: Mapped[int]
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(default=_now)
    # A correction of a reading typed wrong: the reading it corrects (which stays as it was),
    # why, who corrected it and when; it keeps that reading's time and who recorded it.  One
    # correction per reading (a unique index); a correction may itself be corrected.
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("scale_reading.id"))
    correction_reason: Mapped[str | None] = mapped_column(Text)
    corrected_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    corrected_at: Mapped[dt.datetime | None]


# ---------------------------------------------------------------------------------------------
# People who use the application, and what they did


class User(Base):
    __tablename__ = "app_user"
    __table_args__ = (
        CheckConstraint(
            "role IN ('admin', 'prescriber', 'nurse', 'therapist', 'front_desk')", name="role"
        ),
        # One user per staff member (NULLs never clash).
        Index("uq_app_user_staff_id", "staff_id", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str] = mapped_column(String(200), default="")
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("resource.id"))
    active: Mapped[bool] = mapped_column(default=True)
    failed_attempts: Mapped[int] = mapped_column(default=0)
    last_failed_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=_now)
    # Set by an administrator's reset: the next sign-in asks for a new password first.
    must_change_password: Mapped[bool] = mapped_column(server_default=false())


class AuditEvent(Base):
    """Append-only record of every write: who, when, what, before and after."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=_now, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    username: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int | None]
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patient.id"), index=True)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    detail: Mapped[str] = mapped_column(Text, default="")


class ChangeCounter(Base):
    """One row whose value every write bumps, so other workstations know to refresh."""

    __tablename__ = "change_counter"

    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[dt.datetime] = mapped_column(default=_now)


class ReferenceRevision(Base):
    """One row that triggers move (migration 0019) whenever the rows a booking checks against
    change: the configuration, resources, qualifications, shifts and closures.  A booking keeps
    those rows between bookings while ``(value, token)`` stays the same (``store/reference.py``);
    ``token`` is random, so a restored older file is never mistaken for the cached one."""

    __tablename__ = "reference_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)
    token: Mapped[int] = mapped_column(BigInteger)


# ---------------------------------------------------------------------------------------------
# The waitlist (ASAP list): patients waiting for an earlier place

#: An entry's statuses: waiting to be offered a place; booked (``appointment_id`` says where);
#: expired (its deadline passed, or the desk gave up); removed (taken off the list by hand).
WAITLIST_STATUSES = ("waiting", "booked", "expired", "removed")
#: What the patient waits for: an earlier session than the one they hold, the start of a
#: series, or a time that suits them better.
WAITLIST_KINDS = ("earlier", "series_start", "preferred_time")


class WaitlistEntry(Base):
    """One patient waiting for a place: which session type, on which weekdays, between which
    local times (minutes after midnight: the session starts no earlier than ``earliest_minute``
    and ends no later than ``latest_minute``), in which rooms and with which staff (resource
    ids; empty: any), and until when (``deadline``, a local date, inclusive)."""

    __tablename__ = "waitlist_entry"
    __table_args__ = (
        CheckConstraint(
            "status IN ({})".format(", ".join(f"'{s}'" for s in WAITLIST_STATUSES)), name="status"
        ),
        CheckConstraint(
            "kind IN ({})".format(", ".join(f"'{k}'" for k in WAITLIST_KINDS)), name="kind"
        ),
        Index("ix_waitlist_entry_queue", "status", "deadline"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    session_type: Mapped[str] = mapped_column(String(64))  # a session type's code
    weekdays: Mapped[list[Any]] = mapped_column(default=list)  # "mon".."sun"; empty: any
    earliest_minute: Mapped[int | None]
    latest_minute: Mapped[int | None]
    room_ids: Mapped[list[Any]] = mapped_column(default=list)
    staff_ids: Mapped[list[Any]] = mapped_column(default=list)
    deadline: Mapped[dt.date | None]
    notes: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    appointment_id: Mapped[int | None] = mapped_column(
        ForeignKey("appointment.id", ondelete="SET NULL")
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=_now)
    updated_at: Mapped[dt.datetime] = mapped_column(default=_now)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


# ---------------------------------------------------------------------------------------------
# E-mail reminders: each patient's consent, and the outbox (services/reminders/)

#: An outbox message's statuses: queued (to send at ``next_attempt_at``), sent, failed (every
#: attempt refused), dropped (its session was cancelled or moved before it went out).
REMINDER_STATUSES = ("queued", "sent", "failed", "dropped")


class ReminderConsent(Base):
    """A patient's answer to "may we e-mail you reminders?", and who recorded it, when."""

    __tablename__ = "reminder_consent"

    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), primary_key=True)
    opted_in: Mapped[bool] = mapped_column(default=False)
    recorded_at: Mapped[dt.datetime] = mapped_column(default=_now)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    recorded_by: Mapped[str] = mapped_column(String(64), default="")


class ReminderMessage(Base):
    """One reminder in the outbox, and afterwards the record of what became of it."""

    __tablename__ = "reminder_message"
    __table_args__ = (
        CheckConstraint(
            "status IN ({})".format(", ".join(f"'{s}'" for s in REMINDER_STATUSES)), name="status"
        ),
        Index("ix_reminder_message_queue", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointment.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    to_address: Mapped[str] = mapped_column(String(120))
    starts_at: Mapped[dt.datetime]  # the session's start when the reminder was queued
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime]
    sent_at: Mapped[dt.datetime | None]
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=_now)
    updated_at: Mapped[dt.datetime] = mapped_column(default=_now)


# Confirmation calls: the desk's calls to confirm a coming visit


class ConfirmationCall(Base):
    """One attempt to confirm an appointment by phone: who called, when, the outcome
    (scheduling/confirmations.CALL_OUTCOMES) and a note; the latest is the row's status."""

    __tablename__ = "confirmation_call"

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointment.id"), index=True)
    at: Mapped[dt.datetime]
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    username: Mapped[str] = mapped_column(String(64), default="")
    outcome: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")


# Rebooking: fees charged for a late cancellation or a no-show, and what became of a series
# session that was missed (made up, waitlisted, or the series goes on one short)


class SessionFee(Base):
    """A late-cancellation or no-show fee (scheduling/fees.py), written with the status change
    that owes it; waived with a reason by a role allowed to, voided when that change is
    undone.  Never deleted: the list shows what was charged and what became of it."""

    __tablename__ = "session_fee"
    __table_args__ = (
        CheckConstraint("kind IN ('late_cancel', 'no_show')", name="kind"),
        CheckConstraint("status IN ('owed', 'waived', 'voided')", name="status"),
        CheckConstraint("amount_cents >= 0", name="amount"),
        Index("ix_session_fee_list", "status", "charged_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointment.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("appointment_event.id"))
    kind: Mapped[str] = mapped_column(String(16))
    amount_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    status: Mapped[str] = mapped_column(String(16), default="owed")
    charged_at: Mapped[dt.datetime]
    charged_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    waived_at: Mapped[dt.datetime | None]
    waived_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    waive_reason: Mapped[str] = mapped_column(Text, default="")
    voided_at: Mapped[dt.datetime | None]


class SeriesRebooking(Base):
    """What the desk decided for a series session that was cancelled or missed: made up (the
    new appointment), put on the waitlist (the entry), or the series goes on one short."""

    __tablename__ = "series_rebooking"
    __table_args__ = (
        CheckConstraint("decision IN ('made_up', 'waitlisted', 'continue_short')", name="decision"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointment.id"), unique=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id"), index=True)
    decision: Mapped[str] = mapped_column(String(16))
    make_up_appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointment.id"))
    waitlist_entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("waitlist_entry.id", ondelete="SET NULL")
    )
    decided_at: Mapped[dt.datetime]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    note: Mapped[str] = mapped_column(Text, default="")


__all__ = [
    "Appointment",
    "AppointmentEvent",
    "AuditEvent",
    "Base",
    "ChangeCounter",
    "ClinicSetting",
    "Closure",
    "ConfirmationCall",
    "FollowUp",
    "FollowUpAttempt",
    "GatingOverride",
    "Measurement",
    "Patient",
    "Protocol",
    "ReferenceRevision",
    "ReminderConsent",
    "ReminderMessage",
    "Resource",
    "ResourceHold",
    "Series",
    "SeriesRebooking",
    "SessionFee",
    "SessionRecord",
    "SessionType",
    "StaffMember",
    "StaffShift",
    "User",
    "VitalReading",
    "WaitlistEntry",
]
