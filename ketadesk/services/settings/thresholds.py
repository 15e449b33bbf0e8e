"""Settings ▸ Clinic rules: the monitoring thresholds checked against each other, and the range
each threshold's field offers, both from the clinic's own limits.

A warning must come before the hard stop, and the hard stop can be no higher than the highest
reading the record accepts (systolic and diastolic); SpO2 thresholds are percentages within
``SPO2_PERCENT``.  Pure: works on the clinic document (``clinic.toml`` as stored).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from ketadesk.scheduling.chair_rules import CHAIR_DEFAULTS

#: What an SpO2 threshold may be: a saturation in percent; below 50 a pulse oximeter reading is
#: not one a clinic acts on (the nurse's trial finding: "SpO2 in 50-100").
SPO2_PERCENT = (50, 100)
_SPO2_KEYS = ("monitoring.spo2_min", "monitoring.spo2_warn_below", "monitoring.spo2_max")

#: (lower key, strictly below?, higher key): the order the thresholds must keep.
_ORDERS: tuple[tuple[str, bool, str], ...] = (
    *(
        pair
        for side in ("systolic", "diastolic")
        for pair in (
            (f"monitoring.bp_min_{side}", True, f"monitoring.bp_warn_{side}"),
            (f"monitoring.bp_warn_{side}", True, f"chair.hard_stop_{side}"),
            (f"chair.hard_stop_{side}", False, f"monitoring.bp_max_{side}"),
            (f"monitoring.bp_min_{side}", True, f"chair.discharge_max_{side}"),
            (f"chair.discharge_max_{side}", False, f"chair.hard_stop_{side}"),
        )
    ),
    ("monitoring.spo2_min", False, "monitoring.spo2_warn_below"),
    ("monitoring.spo2_warn_below", False, "monitoring.spo2_max"),
)


def value_of(clinic: Mapping[str, Any], key: str) -> int | None:
    """A threshold's value in the clinic document (the chair's default when not stored)."""
    section, _, name = key.partition(".")
    data = clinic.get(section)
    value = data.get(name) if isinstance(data, Mapping) else None
    if value is None and section == "chair":
        value = CHAIR_DEFAULTS.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def threshold_errors(clinic: Mapping[str, Any], changed: Collection[str]) -> dict[str, str]:
    """What is wrong with the thresholds a save changes, by field, naming both keys and values
    ({} when they keep their order).  Only orders a changed key takes part in are judged."""
    errors: dict[str, str] = {}
    for key in _SPO2_KEYS:
        value = value_of(clinic, key)
        least, most = SPO2_PERCENT
        if key in changed and value is not None and not least <= value <= most:
            errors[key] = f"{key} = {value} must be a percentage from {least} to {most}"
    for low_key, strict, high_key in _ORDERS:
        if low_key not in changed and high_key not in changed:
            continue
        low, high = value_of(clinic, low_key), value_of(clinic, high_key)
        if low is None or high is None or (low < high if strict else low <= high):
            continue
        words = "below" if strict else "at most"
        field = low_key if low_key in changed else high_key
        errors.setdefault(field, f"{low_key} = {low} must be {words} {high_key} = {high}")
    return errors


def field_range(clinic: Mapping[str, Any], key: str) -> tuple[int, int] | None:
    """The range a threshold's field offers (None: the field's own): a BP warning or hard stop
    between the lowest and highest BP the record accepts; an SpO2 threshold in percent."""
    if key in _SPO2_KEYS:
        return SPO2_PERCENT
    for side in ("systolic", "diastolic"):
        if key in (
            f"monitoring.bp_warn_{side}",
            f"chair.hard_stop_{side}",
            f"chair.discharge_max_{side}",
        ):
            low = value_of(clinic, f"monitoring.bp_min_{side}")
            high = value_of(clinic, f"monitoring.bp_max_{side}")
            if low is not None and high is not None and low <= high:
                return low, high
    return None
