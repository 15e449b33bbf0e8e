"""The monitoring record of one dosing session, laid out for filling the Spravato REMS Patient
Monitoring Form.

``find_session`` finds a patient's dosing session on a day; ``session_record_sheet`` reads it
into a frozen ``SessionRecordSheet`` (None or "" where nothing is recorded yet);
``session_record_layout`` turns that into a ``PrintLayout``.

The sheet is clinical data: only a role that may "read clinical" gets it.  It records no "view"
of its own: whoever shows, prints or saves it records that disclosure (the print dialogs and
``ketadesk print``), so one sheet makes one event.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import select

from ketadesk.scheduling.chair_rules import (
    BpReading,
    PreDoseNote,
    check_due_times,
    pre_dose_story,
    reading_place,
)
from ketadesk.scheduling.dates import short_date
from ketadesk.scheduling.ride_home import RideHome, needs_ride
from ketadesk.scheduling.safety_followups import last_local_day
from ketadesk.scheduling.statuses import RELEASED_STATUSES
from ketadesk.services.access.permissions import require
from ketadesk.services.common.context import Actor, InvalidRequest, NotFound, utcnow
from ketadesk.services.monitoring import completion, late_entries, scale_readings
from ketadesk.services.monitoring.reading_schedule import (
    STARTED_STATUSES,
    pre_dose_labels,
    started_at,
)
from ketadesk.services.monitoring.record_forms import ScaleRow
from ketadesk.services.printing.layout import (
    Logo,
    PrintBlock,
    PrintLayout,
    clinic_logo,
    file_date,
    fill,
    hour_minute,
    long_date,
    staff_label,
    template,
)
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.database import Database
from ketadesk.store.models import (
    Appointment,
    AppointmentEvent,
    FollowUp,
    Patient,
    Resource,
    Series,
    SessionRecord,
    SessionType,
    StaffMember,
    VitalReading,
)


@dataclass(frozen=True, slots=True)
class RecordReading:
    """One vital-signs line of the record: a configured check (``planned`` set) or a recheck.
    Every value is None while nobody has recorded it.  Before the dose, once a pre-dose BP went
    over the hard stop, ``tag`` and ``note`` say what each reading did (``pre_dose_story``):
    "over the hard stop", "cleared dosing"; ``label`` is then the record's name for it ("Pre-dose
    recheck (Extra 1)")."""

    label: str
    planned: dt.datetime | None  # local: when the check is due (``check_due_times``)
    taken_at: dt.datetime | None  # local
    systolic: int | None = None
    diastolic: int | None = None
    heart_rate: int | None = None
    spo2: int | None = None
    tag: str = ""
    note: str = ""
    over_hard_stop: bool = False
    #: A late entry in words ("entered 11:02 AM, 62 min later, by Kim Nguyen"; ``[chair]
    #: late_entry_minutes``); "" for a reading entered on time, or not taken.
    entered: str = ""


@dataclass(frozen=True, slots=True)
class SessionRecordSheet:
    """A dosing session's monitoring record, with None (or "") where nothing is recorded yet."""

    clinic_name: str
    appointment_id: int
    patient_name: str
    chart_number: str
    date_of_birth: dt.date | None
    rems_patient_id: str
    rems: bool  # the session type is gated by the REMS (Spravato)
    session_type: str
    series: str
    room: str
    start: dt.datetime  # local, as booked
    end: dt.datetime
    status: str
    observation_minutes: int  # what the session type plans for observation
    has_record: bool
    dose_mg: int | None
    devices: int | None
    lot_number: str
    dose_started_at: dt.datetime | None
    readings: tuple[RecordReading, ...]
    sedation: str
    dissociation: str
    respiratory_depression: bool | None  # None: no record yet
    events: str
    discharged_at: dt.datetime | None
    monitored_minutes: int | None
    monitored_by: str
    printed_at: dt.datetime
    logo: Logo | None = None
    # The REMS form's follow-up for this session: its deadline (local) and whether it is done.
    rems_form_deadline: dt.datetime | None = None
    rems_form_done: bool = False
    # The chair rules a prescriber set aside for this session, each with its reason, who and
    # when ("Observation before discharge: <reason> (patel, 12:06)").
    chair_overrides: tuple[str, ...] = ()
    # The session type is dosed in devices ([session_types.<code>.dose], Spravato): only then
    # are devices and their lot asked for (as the monitoring dialog asks) and printed.
    uses_devices: bool = True
    #: How the clinic reads a time of day ([clinic] time_format): the page's times say so.
    time_format: str = "12h"
    #: The observation minimum the app enforces before discharge (the session type's
    #: ``observation_minutes`` from the dose start; None: the type sets none).
    required_minutes: int | None = None
    # What the REMS form also asks that the record holds: when the patient was ready to
    # leave, whether vital signs were acceptable, and the SpO2 (the lowest taken, and the
    # clinic's threshold, [monitoring] spo2_warn_below).
    ready_to_leave_at: dt.datetime | None = None
    vitals_acceptable: bool | None = None
    lowest_spo2: int | None = None
    spo2_warn_below: int | None = None
    # Each effect seen marked resolved (before the discharge).
    sedation_resolved: bool = False
    dissociation_resolved: bool = False
    respiratory_resolved: bool = False
    #: The ride home recorded at completion (None: not recorded, or not asked).
    ride: RideHome | None = None
    #: The session type forbids driving afterwards (its discharge asks for the ride).
    needs_ride: bool = False
    #: The timed MOAA/S and CADSS readings, in the order taken (``scale_readings``), and
    #: whether the session type uses scales (then the table is printed, empty or not).
    scale_readings: tuple[ScaleRow, ...] = ()
    uses_scales: bool = False
    #: What the readings say of each effect ("MOAA/S lowest 3 (1:16 PM), last 5 (2:41 PM)"),
    #: by "sedation" / "dissociation": the Assessment prints it where the readings exist.
    scale_summary: Mapping[str, str] = field(default_factory=dict)


def find_session(db: Database, chart: str, day: dt.date) -> int:
    """The id of the patient's dosing session on the clinic's local ``day`` (the first, if
    several).  Raises NotFound for an unknown chart number or a day without one."""
    with db.read() as session:
        catalog = load_catalog(session)
        tz = ZoneInfo(catalog.settings.timezone)
        patient_id = session.scalar(select(Patient.id).where(Patient.chart_number == chart))
        if patient_id is None:
            raise NotFound(f"no patient with chart number {chart!r}")
        start = dt.datetime.combine(day, dt.time(), tz)
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tz)
        found = session.scalar(
            select(Appointment.id)
            .join(SessionType, SessionType.id == Appointment.session_type_id)
            .where(
                Appointment.patient_id == patient_id,
                SessionType.dosing.is_(True),
                Appointment.starts_at >= start,
                Appointment.starts_at < end,
            )
            .order_by(Appointment.status.in_(sorted(RELEASED_STATUSES)), Appointment.starts_at)
            .limit(1)
        )
    if found is None:
        raise NotFound(f"{chart} has no dosing session on {long_date(day)}")
    return found


def session_record_sheet(
    db: Database, actor: Actor, appointment_id: int, *, now: dt.datetime | None = None
) -> SessionRecordSheet:
    """The monitoring record of a dosing session, laid out by the session type's configured
    blood-pressure checks.  Raises PermissionDenied for a role that may not "read clinical",
    NotFound for an unknown appointment and InvalidRequest for a session that is not a dosing
    session (it has no monitoring record)."""
    require(actor, "read_clinical", db, now=now)
    with db.read() as session:
        catalog = load_catalog(session)
        row = session.execute(
            select(Appointment, Patient, SessionType.code, SessionType.name, Series.planned_count)
            .join(Patient, Patient.id == Appointment.patient_id)
            .join(SessionType, SessionType.id == Appointment.session_type_id)
            .outerjoin(Series, Series.id == Appointment.series_id)
            .where(Appointment.id == appointment_id)
        ).one_or_none()
        if row is None:
            raise NotFound(f"no appointment {appointment_id}")
        appointment, patient, code, type_name, planned_count = row
        spec = catalog.session_types.get(code)
        if spec is None or not spec.dosing:
            raise InvalidRequest(
                f"{type_name} is not a dosing session: it has no monitoring record"
            )
        room = (
            session.scalar(select(Resource.name).where(Resource.id == appointment.room_id))
            if appointment.room_id is not None
            else None
        )
        record = session.scalar(
            select(SessionRecord).where(SessionRecord.appointment_id == appointment_id)
        )
        readings: list[VitalReading] = list(record.readings) if record is not None else []
        rems_form = session.execute(
            select(FollowUp.deadline_at, FollowUp.due_at, FollowUp.status)
            .where(FollowUp.appointment_id == appointment_id, FollowUp.kind == "rems_form")
            .order_by(FollowUp.id.desc())
            .limit(1)
        ).one_or_none()
        monitored_by = ""
        if record is not None and record.monitored_by_id is not None:
            staff = session.execute(
                select(
                    Resource.name,
                    StaffMember.first_name,
                    StaffMember.last_name,
                    StaffMember.credentials,
                )
                .outerjoin(StaffMember, StaffMember.resource_id == Resource.id)
                .where(Resource.id == record.monitored_by_id)
            ).one_or_none()
            if staff is not None:
                monitored_by = staff_label(*staff)
        settings = catalog.settings
        tz = ZoneInfo(settings.timezone)
        start = appointment.starts_at.astimezone(tz)
        dose_at = record.dose_started_at if record is not None else None
        # The checks are due when the chair board and the monitoring record say (one rule:
        # from the actual start once started, moved with the recorded dose, none later than the
        # earliest discharge).
        started = (
            started_at(session, [appointment.id]).get(appointment.id)
            if appointment.status in STARTED_STATUSES
            else None
        )
        due = check_due_times(
            spec, appointment.starts_at, started_at=started, dose_started_at=dose_at
        )
        story = pre_dose_story(
            [BpReading(r.label, r.taken_at, r.systolic, r.diastolic, r.spo2) for r in readings],
            pre_dose_labels(spec),
            {c.label for c in spec.bp_checks},
            dose_at,
            completion.chair_settings(catalog),
            zone=tz,
            time_format=catalog.settings.time_format,
        )
        late = {
            label: entry.words(tz, settings.time_format)
            for label, entry in late_entries.vital_entries(session, catalog, appointment.id).items()
        }
        used: set[int] = set()
        lines: list[RecordReading] = []
        for label, planned in due:
            match = next(
                (
                    r
                    for r in readings
                    if id(r) not in used and r.label.strip().lower() == label.lower()
                ),
                None,
            )
            if match is not None:
                used.add(id(match))
            lines.append(_reading_line(label, planned.astimezone(tz), match, tz, story, late))
        for r in readings:  # rechecks (while BP was raised) and readings under other labels
            if id(r) not in used:
                lines.append(_reading_line(r.label or "Recheck", None, r, tz, story, late))
        # In the order they happened (a check not taken yet at its due time): a pre-dose
        # recheck reads next to the reading it rechecked, not under "Before discharge".
        lines.sort(key=_line_order)
        series = ""
        if appointment.series_index is not None:
            series = (
                f"{appointment.series_index}/{planned_count}"
                if planned_count
                else str(appointment.series_index)
            )
        observation = sum(p.minutes for p in spec.phases if p.shade == "observation")
        completed = session.scalar(
            select(AppointmentEvent.detail)
            .where(
                AppointmentEvent.appointment_id == appointment.id,
                AppointmentEvent.action == "complete",
            )
            .order_by(AppointmentEvent.at.desc(), AppointmentEvent.id.desc())
            .limit(1)
        )
        ride = RideHome.from_detail(completed.get("ride")) if completed else None
        spo2s = [r.spo2 for r in readings if r.spo2 is not None]
        scales = scale_readings.sheet_in(session, appointment.id, now=now or utcnow())

        def local(moment: dt.datetime | None) -> dt.datetime | None:
            return moment.astimezone(tz) if moment is not None else None

        return SessionRecordSheet(
            clinic_name=settings.name,
            appointment_id=appointment.id,
            patient_name=f"{patient.last_name}, {patient.first_name}",
            chart_number=patient.chart_number,
            date_of_birth=patient.date_of_birth,
            rems_patient_id=patient.rems_patient_id,
            rems="rems_patient_enrolled" in spec.gating,
            session_type=type_name,
            series=series,
            room=room or "",
            start=start,
            end=appointment.ends_at.astimezone(tz),
            status=appointment.status,
            observation_minutes=observation,
            has_record=record is not None,
            dose_mg=record.dose_mg if record else None,
            devices=record.devices if record else None,
            lot_number=record.lot_number if record else "",
            uses_devices=spec.dose is not None,
            dose_started_at=local(record.dose_started_at) if record else None,
            readings=tuple(lines),
            sedation=record.sedation if record else "",
            dissociation=record.dissociation if record else "",
            respiratory_depression=record.respiratory_depression if record else None,
            events=record.events if record else "",
            discharged_at=local(record.discharged_at) if record else None,
            monitored_minutes=record.monitored_minutes if record else None,
            monitored_by=monitored_by,
            printed_at=(now or utcnow()).astimezone(tz),
            time_format=settings.time_format,
            logo=clinic_logo(settings),
            rems_form_deadline=(
                local(rems_form[0] or rems_form[1]) if rems_form is not None else None
            ),
            rems_form_done=rems_form is not None and rems_form[2] == "done",
            required_minutes=spec.observation_minutes,
            ready_to_leave_at=local(record.ready_to_leave_at) if record else None,
            vitals_acceptable=record.vitals_acceptable if record else None,
            lowest_spo2=min(spo2s) if spo2s else None,
            spo2_warn_below=settings.monitoring.get("spo2_warn_below"),
            sedation_resolved=bool(record and record.sedation_resolved),
            dissociation_resolved=bool(record and record.dissociation_resolved),
            respiratory_resolved=bool(record and record.respiratory_resolved),
            ride=ride,
            needs_ride=needs_ride(spec),
            scale_readings=scales.readings if scales is not None else (),
            uses_scales=scales is not None,
            scale_summary=scale_readings.effect_summary(
                catalog,
                scale_readings.readings_by_session(session, [appointment.id])[appointment.id],
            ),
            chair_overrides=tuple(
                f"{o.title}: {o.reason} ({o.by}, "
                f"{hour_minute(o.at.astimezone(tz), settings.time_format)})"
                for o in completion.overrides_of(session, appointment.id)
            ),
        )


def _reading_line(
    label: str,
    planned: dt.datetime | None,
    r: VitalReading | None,
    tz: ZoneInfo,
    story: Mapping[str, PreDoseNote],
    late: Mapping[str, str],
) -> RecordReading:
    if r is None:
        return RecordReading(label, planned, None)
    told = story.get(r.label)
    return RecordReading(
        label=told.shown_label if told is not None else label,
        planned=planned,
        taken_at=r.taken_at.astimezone(tz),
        systolic=r.systolic,
        diastolic=r.diastolic,
        heart_rate=r.heart_rate,
        spo2=r.spo2,
        tag=told.tag if told is not None else "",
        note=told.text if told is not None else "",
        over_hard_stop=told is not None and told.over_hard_stop,
        entered=late.get(r.label, ""),
    )


def _line_order(line: RecordReading) -> tuple[int, dt.datetime]:
    return reading_place(line.taken_at, line.planned)  # as the monitoring record lists them


_BLANK = '<span class="blank">______________</span>'
_SHORT_BLANK = '<span class="blank">________</span>'


def _value(value: object | None, unit: str = "", blank: str = _BLANK) -> str:
    """A recorded value, or a line to write on."""
    if value is None or value == "":
        return blank
    return f"<b>{html.escape(str(value))}</b>{html.escape(unit)}"


def _time_value(moment: dt.datetime | None, fmt: str, blank: str = _SHORT_BLANK) -> str:
    return _value(hour_minute(moment, fmt) if moment is not None else None, blank=blank)


def _box(checked: bool) -> str:
    return "&#9746;" if checked else "&#9744;"


def _resolved_words(sheet: SessionRecordSheet, resolved: bool) -> str:
    """Whether an effect seen was marked resolved, and by when: the record keeps the mark, not
    its minute, so the discharge time is the latest it can have been."""
    if not resolved:
        return '<span class="warn">not marked resolved</span>'
    if sheet.discharged_at is not None:
        return (
            f"resolved at or before discharge "
            f"({html.escape(hour_minute(sheet.discharged_at, sheet.time_format))})"
        )
    return "resolved"


def _scales_table(sheet: SessionRecordSheet) -> str:
    """The timed MOAA/S and CADSS readings: time, scale, score (MOAA/S with its anchor words;
    a corrected one with what it corrected, ``_scale_score``), and who recorded each, a late
    entry with when it was entered; lines to write on while none is recorded."""
    rows = []
    for r in sheet.scale_readings:
        rows.append(
            fill(
                "record_scale_row.html",
                taken_html=html.escape(hour_minute(r.taken_at, sheet.time_format)),
                scale_html=html.escape(r.scale_name),
                score_html=_scale_score(r),
                by_html=html.escape(r.recorded_by or "—"),
            )
        )
        if r.entered:  # a clinical record shows a late entry: when, and by whom
            rows.append(
                '<tr><td colspan="4"><span class="small">'
                f"Late entry: {html.escape(r.entered)}</span></td></tr>"
            )
    if not rows:
        rows = [
            fill(
                "record_scale_row.html",
                taken_html=_SHORT_BLANK,
                scale_html=_SHORT_BLANK,
                score_html=_SHORT_BLANK,
                by_html=_SHORT_BLANK,
            )
            for _ in range(2)
        ]
    return fill("record_scales.html", rows_html="".join(rows))


def _scale_score(row: ScaleRow) -> str:
    """A reading's score in bold with MOAA/S's anchor words; a corrected one after the
    score(s) as first recorded, struck through, and the correction in words under it."""
    struck = "".join(f"<s>{score}</s> " for score in row.corrected_from)
    text = f"{struck}<b>{row.score}</b>"
    if row.anchor:
        text += f' <span class="small">{html.escape(row.anchor)}</span>'
    if row.correction:
        text += f'<br><span class="small"><i>{html.escape(row.correction)}</i></span>'
    return text


def _scaled_effect(sheet: SessionRecordSheet, effect: str) -> str:
    """The effect as its timed readings say it (lowest MOAA/S, highest CADSS, and the last);
    "" where none was taken."""
    words = sheet.scale_summary.get(effect)
    return f"<b>{html.escape(words)}</b>" if words else ""


def _effect(sheet: SessionRecordSheet, seen: str, resolved: bool) -> str:
    """An effect as recorded: "none", or its severity and whether it was resolved."""
    if not seen:
        return _BLANK
    if seen == "none":
        return _value(seen)
    return f"{_value(seen)}, {_resolved_words(sheet, resolved)}"


def _spo2_words(sheet: SessionRecordSheet) -> str:
    """The lowest SpO2 taken and whether it was acceptable by the clinic's threshold."""
    if sheet.lowest_spo2 is None:
        return _value(None, blank=_SHORT_BLANK)
    low = sheet.spo2_warn_below
    if low is None:
        return f"lowest <b>{sheet.lowest_spo2} %</b>"
    verdict = (
        f"acceptable (at or above {low} %)"
        if sheet.lowest_spo2 >= low
        else f'<span class="warn">below {low} %</span>'
    )
    return f"lowest <b>{sheet.lowest_spo2} %</b>: {verdict}"


def _ride_words(sheet: SessionRecordSheet) -> str:
    """The ride home as recorded at completion, or a line to write it on."""
    ride = sheet.ride
    if ride is not None and ride.here:
        return f"{_box(True)} Driver or escort here: <b>{html.escape(ride.name)}</b>"
    if ride is not None:
        return f"{_box(True)} No driver or escort: <b>{html.escape(ride.reason)}</b>"
    if not sheet.needs_ride:
        return "not needed for this session type"
    return f"{_box(False)} Driver or escort here: {_BLANK} &nbsp; or why not: {_BLANK}"


def session_record_layout(sheet: SessionRecordSheet) -> PrintLayout:
    dob = short_date(sheet.date_of_birth, year=True, weekday=False) if sheet.date_of_birth else None
    rems_id = _value(sheet.rems_patient_id or None) if sheet.rems else "not a REMS session"
    blocks = [
        PrintBlock(
            fill(
                "record_patient.html",
                patient=sheet.patient_name,
                chart=sheet.chart_number,
                dob_html=_value(dob),
                rems_id_html=rems_id,
                date=long_date(sheet.start.date()),
                session_type=sheet.session_type,
                series=f"Series {sheet.series}" if sheet.series else "",
                booked=(
                    f"{hour_minute(sheet.start, sheet.time_format)} to "
                    f"{hour_minute(sheet.end, sheet.time_format)}"
                ),
                room=sheet.room or "no room",
            )
        ),
        PrintBlock(
            fill(
                "record_dose.html",
                dose_html=_value(sheet.dose_mg, " mg"),
                devices_cells_html=fill(
                    "record_devices.html",
                    devices_html=_value(sheet.devices, blank=_SHORT_BLANK),
                    lot_html=_value(sheet.lot_number or None),
                )
                if sheet.uses_devices
                else "",
                dose_start_label="Dose start (first device)"
                if sheet.uses_devices
                else "Dose start",
                dose_start_html=_time_value(sheet.dose_started_at, sheet.time_format),
            )
        ),
    ]
    rows = []
    for r in sheet.readings:
        bp = (
            f"{r.systolic}/{r.diastolic}"
            if r.systolic is not None and r.diastolic is not None
            else None
        )
        rows.append(
            fill(
                "record_reading.html",
                label=r.label,
                tag_html=(
                    f'<br/><span class="{"warn" if r.over_hard_stop else "small"}">'
                    f"{html.escape(r.tag)}</span>"
                    if r.tag
                    else ""
                ),
                planned=f"{hour_minute(r.planned, sheet.time_format)}" if r.planned else "",
                taken_html=_time_value(r.taken_at, sheet.time_format),
                bp_html=_value(bp, blank=_SHORT_BLANK),
                hr_html=_value(r.heart_rate, blank="_____"),
                spo2_html=_value(r.spo2, " %", blank="_____"),
            )
        )
        if r.note:  # the hard stop and its recheck, as they happened, under the reading
            rows.append(
                fill(
                    "record_reading_note.html",
                    css="warn" if r.over_hard_stop else "small",
                    text=r.note,
                )
            )
        if r.entered:  # a clinical record shows a late entry: when, and by whom
            rows.append(
                fill("record_reading_note.html", css="small", text=f"Late entry: {r.entered}")
            )
    for _ in range(2):  # room to write rechecks while blood pressure stays raised
        rows.append(
            fill(
                "record_reading.html",
                label="Recheck",
                tag_html="",
                planned="",
                taken_html=_SHORT_BLANK,
                bp_html=_SHORT_BLANK,
                hr_html="_____",
                spo2_html="_____",
            )
        )
    blocks.append(PrintBlock(fill("record_vitals.html", rows_html="".join(rows))))
    if sheet.uses_scales or sheet.scale_readings:
        blocks.append(PrintBlock(_scales_table(sheet)))
    resp = sheet.respiratory_depression
    blocks.append(
        PrintBlock(
            fill(
                "record_assessment.html",
                sedation_html=_scaled_effect(sheet, "sedation")
                or _effect(sheet, sheet.sedation, sheet.sedation_resolved),
                dissociation_html=_scaled_effect(sheet, "dissociation")
                or _effect(sheet, sheet.dissociation, sheet.dissociation_resolved),
                resp_html=(
                    f"{_box(resp is True)} Yes &nbsp; {_box(resp is False)} No"
                    + (
                        " &nbsp; " + _resolved_words(sheet, sheet.respiratory_resolved)
                        if resp
                        else ""
                    )
                    if resp is not None
                    else f"{_box(False)} Yes &nbsp; {_box(False)} No"
                ),
                events_html=(
                    html.escape(sheet.events).replace("\n", "<br/>")
                    if sheet.events
                    else ("None recorded" if sheet.has_record else _BLANK * 3)
                ),
            )
        )
    )
    blocks.append(
        PrintBlock(
            fill(
                "record_discharge.html",
                discharge_html=_time_value(sheet.discharged_at, sheet.time_format),
                minutes_html=_value(sheet.monitored_minutes, " min", blank=_SHORT_BLANK),
                required_text=(
                    f"at least {sheet.required_minutes} from the dose start"
                    if sheet.required_minutes is not None
                    else f"observation planned {sheet.observation_minutes}"
                ),
                monitored_by_html=_value(sheet.monitored_by or None),
                ready_html=_time_value(sheet.ready_to_leave_at, sheet.time_format),
                vitals_html=(
                    f"{_box(sheet.vitals_acceptable is True)} Yes &nbsp; "
                    f"{_box(sheet.vitals_acceptable is False)} No"
                ),
                spo2_html=_spo2_words(sheet),
                ride_html=_ride_words(sheet),
            )
        )
    )
    if sheet.chair_overrides:
        lines = "<br/>".join(html.escape(line) for line in sheet.chair_overrides)
        blocks.append(
            PrintBlock(fill("notice.html", text=f"Overridden by a prescriber:<br/>{lines}"))
        )
    if sheet.rems:
        text = "Transcribe onto the Spravato REMS Patient Monitoring Form"
        due = sheet.rems_form_deadline
        if sheet.rems_form_done:
            text += " (marked as sent)"
        elif due is not None:
            # The deadline is the midnight that ends the last day: print that day, not the next.
            last = last_local_day(due)
            text += f" by {short_date(last, year=True)}"
        blocks.append(PrintBlock(fill("notice_small.html", text=text + ".")))
    what = "Spravato session record" if sheet.rems else "Session monitoring record"
    return PrintLayout(
        clinic_name=sheet.clinic_name,
        title=f"{what}: {sheet.patient_name}, {long_date(sheet.start.date())}",
        name=f"{what} {sheet.patient_name} {file_date(sheet.start.date())}",
        printed_at=sheet.printed_at,
        time_format=sheet.time_format,
        css=template("style.css").template,
        blocks=tuple(blocks),
        logo=sheet.logo.path if sheet.logo else None,
        warnings=(sheet.logo.problem,) if sheet.logo and sheet.logo.problem else (),
    )
