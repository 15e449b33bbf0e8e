"""Checking a monitoring form without the database (pure), so a dialog can mark fields as
the user types; ``records.save_record`` checks it again inside the writing transaction.

The limits of a believable or worrying reading come from clinic.toml ``[monitoring]``.
"""

from __future__ import annotations

import datetime as dt
import re

from ketadesk.scheduling.catalog import ClinicSettings
from ketadesk.scheduling.chair_rules import (
    BpReading,
    bp_recheck_owed,
    hard_stop_note,
    parse_chair_settings,
    pre_dose_recheck_owed,
    pre_dose_story,
)
from ketadesk.scheduling.dates import parse_clock_time
from ketadesk.scheduling.safety_followups import RemsFormSettings, parse_rems_form_settings
from ketadesk.services.monitoring.record_forms import (
    DISSOCIATION_CHOICES,
    LOT_MAX,
    SEDATION_CHOICES,
    Checked,
    ParsedReading,
    ParsedRecord,
    RecordForm,
    RecordRules,
    reading_field,
)


def _parse_time(text: str, rules: RecordRules) -> dt.datetime | str:
    """The instant of a local time of day on the session's day, typed either way ("2:30 pm",
    "14:30", "1430"), or what is wrong with the text."""
    time = parse_clock_time(text)
    if time is None:
        return f"“{text.strip()}” is not a time: type it as 2:30 PM or 14:30"
    return rules.at(time.hour * 60 + time.minute)


def _parse_int(text: str) -> int | str | None:
    cleaned = text.strip()
    if not cleaned:
        return None
    if not re.fullmatch(r"[+-]?\d+", cleaned):
        return f"“{cleaned}” is not a whole number"
    return int(cleaned)


def rems_form_settings_of(settings: ClinicSettings) -> RemsFormSettings:
    """The clinic's ``[rems_form]`` settings."""
    return parse_rems_form_settings(settings.extra.get("rems_form"))


def validate_record(form: RecordForm, rules: RecordRules, *, now: dt.datetime) -> Checked:
    """Refusals (impossible values) and warnings (worrying values) for a form, by field."""
    errors: dict[str, str] = {}
    warnings: dict[str, str] = {}
    stops: dict[str, str] = {}
    notes: dict[str, str] = {}
    over_stop: list[tuple[str, dt.datetime | None, bool, str]] = []  # (field, taken, pre, note)
    chair = parse_chair_settings(rules.settings.extra.get("chair"), "database")
    mon = rules.monitoring
    local = rules

    def when(key: str, text: str) -> dt.datetime | None:
        if not text.strip():
            return None
        value = _parse_time(text, rules)
        if isinstance(value, str):
            errors[key] = value
            return None
        if value > now:
            errors[key] = f"{text.strip()} is later than now ({local.clock(now)})"
            return None
        return value

    def number(key: str, text: str, what: str, low: str | None, high: str | None) -> int | None:
        value = _parse_int(text)
        if isinstance(value, str):
            errors[key] = value
            return None
        if value is None:
            return None
        lowest = mon.get(low) if low else None
        highest = mon.get(high) if high else None
        if (lowest is not None and value < lowest) or (highest is not None and value > highest):
            if lowest is None:
                bounds = f"at most {highest}"
            elif highest is None:
                bounds = f"at least {lowest}"
            else:
                bounds = f"between {lowest} and {highest}"
            errors[key] = f"{what} {value} cannot be real: it must be {bounds}"
            return None
        return value

    def positive(key: str, text: str, what: str) -> int | None:
        value = _parse_int(text)
        if isinstance(value, str):
            errors[key] = value
            return None
        if value is not None and value <= 0:
            errors[key] = f"{what} must be more than 0, not {value}"
            return None
        return value

    dose_mg = positive("dose_mg", form.dose_mg, "the dose")
    devices = positive("devices", form.devices, "the number of devices")
    lot = form.lot_number.strip()
    if len(lot) > LOT_MAX:
        errors["lot_number"] = f"a lot number has at most {LOT_MAX} characters"
    for key, value, choices in (
        ("sedation", form.sedation, SEDATION_CHOICES),
        ("dissociation", form.dissociation, DISSOCIATION_CHOICES),
    ):
        if value and value not in choices:
            errors[key] = f"choose one of: {', '.join(choices)}"
    dose_at = when("dose_started", form.dose_started)
    discharged_at = when("discharged", form.discharged)

    readings: list[ParsedReading] = []
    for i, row in enumerate(form.readings):
        if row.is_blank:
            continue
        label = row.label.strip()
        if not label:
            errors[reading_field(i, "label")] = "name this reading (for example “+60 min”)"
        taken = when(reading_field(i, "time"), row.time)
        if not row.time.strip():
            errors[reading_field(i, "time")] = f"enter the time of the {label or 'reading'}"
        sys_ = number(
            reading_field(i, "systolic"),
            row.systolic,
            "systolic",
            "bp_min_systolic",
            "bp_max_systolic",
        )
        dia = number(
            reading_field(i, "diastolic"),
            row.diastolic,
            "diastolic",
            "bp_min_diastolic",
            "bp_max_diastolic",
        )
        hr = number(
            reading_field(i, "heart_rate"),
            row.heart_rate,
            "heart rate",
            "heart_rate_min",
            "heart_rate_max",
        )
        spo2 = number(reading_field(i, "spo2"), row.spo2, "SpO2", "spo2_min", "spo2_max")
        has_sys, has_dia = bool(row.systolic.strip()), bool(row.diastolic.strip())
        if has_sys != has_dia:
            missing_key = "diastolic" if has_sys else "systolic"
            errors.setdefault(
                reading_field(i, missing_key),
                f"a blood pressure needs both numbers: enter the {missing_key}",
            )
        if sys_ is not None and dia is not None:
            if sys_ <= dia:
                errors[reading_field(i, "systolic")] = (
                    f"{sys_}/{dia} cannot be real: the systolic must be higher than the diastolic"
                )
            else:
                before_dose = label in rules.pre_dose_labels or (
                    label not in rules.check_labels
                    and (dose_at is None or (taken is not None and taken <= dose_at))
                )
                stop = hard_stop_note(sys_, dia, chair, before_dose=before_dose)
                high_sys, high_dia = mon.get("bp_warn_systolic"), mon.get("bp_warn_diastolic")
                if (high_sys is not None and sys_ > high_sys) or (
                    high_dia is not None and dia > high_dia
                ):
                    # Before the dose (a pre-dose recheck too) the label's advice is to
                    # consider delaying it; after, to recheck.
                    advice = (
                        "consider delaying the dose"
                        if before_dose
                        else "recheck while it stays elevated"
                    )
                    warnings[reading_field(i, "systolic")] = (
                        f"BP {sys_}/{dia} is above {high_sys}/{high_dia}: {advice}"
                    )
                if stop is not None:
                    over_stop.append((reading_field(i, "systolic"), taken, before_dose, stop))
        low_spo2 = mon.get("spo2_warn_below")
        if spo2 is not None and low_spo2 is not None and spo2 < low_spo2:
            warnings[reading_field(i, "spo2")] = f"SpO2 {spo2}% is below {low_spo2}%"
        if taken is not None and not errors.get(reading_field(i, "label")):
            readings.append(ParsedReading(label, taken, sys_, dia, hr, spo2))

    # A reading's verdict is a fact about it as it was taken: one above the hard stop stays
    # "hard stop" in red when a later recheck clears dosing (a user trial saw it turn into the
    # amber "consider delaying"); the story says what came next, under each reading
    # (chair_rules.pre_dose_story, as the printed record tells it).  The latest BP before the
    # dose is the one the save judges (chair_rules.pre_dose_findings).
    bp_readings = [
        BpReading(r.label, r.taken_at, r.systolic, r.diastolic, r.spo2) for r in readings
    ]
    story = pre_dose_story(
        bp_readings,
        rules.pre_dose_labels,
        rules.check_labels,
        dose_at,
        chair,
        zone=rules.calendar.tz,
        time_format=rules.calendar.settings.time_format,
    )
    cleared = next((n for n in story.values() if n.cleared), None)
    for key, taken_at, before_dose, stop in over_stop:
        warnings.pop(key, None)
        if (
            before_dose
            and cleared is not None
            and taken_at is not None
            and cleared.taken_at > taken_at
        ):
            stop += f". Then: {cleared.text}"
        stops[key] = stop
    for i, row in enumerate(form.readings):
        told = story.get(row.label.strip())
        if told is not None and told.same_minute:
            # Said as the nurse types, not first at Save: this reading lifts no hard stop.
            warnings[reading_field(i, "time")] = told.text
        elif told is not None and told.recheck and not told.over_hard_stop:
            notes[reading_field(i, "note")] = told.text
    owed = pre_dose_recheck_owed(
        bp_readings,
        rules.pre_dose_labels,
        rules.check_labels,
        dose_at,
        chair,
    )
    recheck_after = owed.taken_at if owed is not None else None
    recheck = bp_recheck_owed(
        bp_readings,
        rules.pre_dose_labels,
        rules.check_labels,
        dose_at,
        chair,
        warn_systolic=mon.get("bp_warn_systolic"),
        warn_diastolic=mon.get("bp_warn_diastolic"),
    )

    early = mon.get("reading_early_minutes")
    if dose_at is not None and early is not None:
        # A reading fills a check after the dose only within the check's window: taken no
        # earlier than its due time less ``[monitoring] reading_early_minutes``.  A check laid
        # after the end of the observation time or after the discharge (the "Before discharge"
        # reading) falls due by then: discharge may come as soon as the rules allow.
        ends = [t for t in (discharged_at,) if t is not None]
        if rules.observation_minutes is not None:
            ends.append(dose_at + dt.timedelta(minutes=rules.observation_minutes))
        for i, row in enumerate(form.readings):
            label, key = row.label.strip(), reading_field(i, "time")
            after = rules.after_dose.get(label)
            if row.is_blank or after is None or key in errors:
                continue
            taken_at = next((r.taken_at for r in readings if r.label == label), None)
            due = min([dose_at + dt.timedelta(minutes=after), *ends])
            after = int((due - dose_at).total_seconds() // 60)
            earliest = due - dt.timedelta(minutes=early)
            if taken_at is not None and taken_at < earliest:
                errors[key] = (
                    f"too early for the “{label}” check: it is due at {local.clock(due)} "
                    f"({after} min after the dose at {local.clock(dose_at)}) and may be taken "
                    f"from {local.clock(earliest)}; record a reading taken at "
                    f"{local.clock(taken_at)} as an extra reading"
                )

    labels = [r.label for r in readings]
    for i, row in enumerate(form.readings):
        if not row.is_blank and labels.count(row.label.strip()) > 1:
            errors.setdefault(reading_field(i, "label"), f"“{row.label.strip()}” is recorded twice")

    minutes: int | None = None
    if discharged_at is not None:
        if dose_at is None:
            if "dose_started" not in errors:
                errors["dose_started"] = "enter when the dose started, to check the discharge"
        elif discharged_at < dose_at:
            errors["discharged"] = (
                f"discharge at {local.clock(discharged_at)} is before the dose started "
                f"({local.clock(dose_at)})"
            )
        else:
            minutes = int((discharged_at - dose_at).total_seconds() // 60)
            need = rules.observation_minutes
            if need is not None and minutes < need:
                # DOMAIN.md: discharge only after at least the observation minutes.  Marked
                # here as the nurse types; the save refuses it (services/monitoring/completion.py,
                # scheduling/chair_rules.py) unless a prescriber overrode it with a reason.
                warnings["discharged"] = (
                    f"only {minutes} min after the dose: {rules.session_name} needs at least "
                    f"{need} min of observation before discharge (earliest "
                    f"{local.clock(dose_at + dt.timedelta(minutes=need))})"
                )
    if discharged_at is not None and not errors and "discharged" not in warnings:
        last = max(
            (r for r in readings if r.systolic is not None and r.diastolic is not None),
            key=lambda r: r.taken_at,
            default=None,
        )
        high_sys, high_dia = mon.get("bp_warn_systolic"), mon.get("bp_warn_diastolic")
        if (
            last is not None
            and last.systolic is not None
            and last.diastolic is not None
            and (
                (high_sys is not None and last.systolic > high_sys)
                or (high_dia is not None and last.diastolic > high_dia)
            )
        ):
            warnings["discharged"] = (
                f"the last BP ({last.systolic}/{last.diastolic} at {local.clock(last.taken_at)}) "
                "is still elevated"
            )

    ready_at = when("ready_to_leave", form.ready_to_leave)
    if ready_at is not None and discharged_at is not None and ready_at > discharged_at:
        # Ready to leave comes before (or at) the discharge, never after it (a user trial's
        # record took "Ready to leave 3:07 PM" after "Discharged 2:14 PM").
        errors["ready_to_leave"] = (
            f"ready to leave at {local.clock(ready_at)} is after the discharge at "
            f"{local.clock(discharged_at)}: a patient is ready to leave at or before the "
            "discharge; correct one of the two times"
        )
    if form.concomitant_meds is not None:
        known = rems_form_settings_of(rules.settings).concomitant_medicines
        unknown = [m for m in form.concomitant_meds if m not in known]
        if unknown:
            errors["concomitant_meds"] = (
                f"{', '.join(unknown)} is not a class the form asks about ({', '.join(known)})"
            )
    if errors:
        return Checked(
            errors,
            warnings,
            None,
            stops,
            dose_started_at=dose_at,
            notes=notes,
            recheck_after=recheck_after,
            recheck=recheck,
        )
    return Checked(
        errors,
        warnings,
        ParsedRecord(
            dose_mg=dose_mg,
            devices=devices,
            lot_number=lot,
            dose_started_at=dose_at,
            discharged_at=discharged_at,
            monitored_minutes=minutes,
            monitored_by_id=form.monitored_by_id,
            sedation=form.sedation,
            dissociation=form.dissociation,
            respiratory_depression=form.respiratory_depression,
            events=form.events.strip(),
            readings=tuple(readings),
            concomitant_meds=form.concomitant_meds,
            vitals_acceptable=form.vitals_acceptable,
            ready_to_leave_at=ready_at,
            sedation_resolved=form.sedation_resolved,
            dissociation_resolved=form.dissociation_resolved,
            respiratory_resolved=form.respiratory_resolved,
        ),
        stops,
        dose_started_at=dose_at,
        notes=notes,
        recheck_after=recheck_after,
        recheck=recheck,
    )
