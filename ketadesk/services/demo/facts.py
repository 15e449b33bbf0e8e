"""The demo clinic's own invented facts: its name and address, how it chose to run its rooms
and offices, and the mix of patients it cares for.

Clinic rules (durations, gaps, ratios, hours) come from the clinic's configuration; what is here
is only how this particular clinic chose to run.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from ketadesk.config import Catalog
from ketadesk.scheduling.catalog import ClinicSettings

# The demo's own invented facts.  Clinic rules (durations, gaps, ratios, hours) come from the
# clinic's configuration; what is here is only how this particular clinic chose to run.

CLINIC = {
    "name": "Harbor Ketamine & Wellness",
    "timezone": "America/Los_Angeles",
    "address": "3625 Fifth Avenue, Suite 210\nSan Diego, CA 92103",
    "phone": "(619) 555-0140",
    "email": "frontdesk@harborketamine.example",
}
CHART_PREFIX = "HK-"
FIRST_CHART_NUMBER = 10001
# "Now" in a demo built for a given day: mid-morning, when the chairs are busiest.
DEMO_CLOCK_MINUTE = 10 * 60 + 40
ROOM_TURNOVER_MINUTES = 15  # clean and reset the recliner between patients
OFFICE_GAP_MINUTES = 10
OFFICE_LUNCH = (12 * 60, 12 * 60 + 45)  # offices see nobody then (local minutes)
OFFICE_HOURS_DELAY = 30  # prescribers see the chairs first, then start their office hours
THERAPIST_HOURS = (8 * 60, 17 * 60)
NURSE_SETUP_MINUTES = 15  # nurses come in before opening to set up the rooms
FRONT_DESK_SHIFT_MINUTES = 8 * 60 + 30  # one early and one late shift cover the day
TRAINING_FROM = 13 * 60  # the staff-training afternoon starts then
INSPECTION_UNTIL = 12 * 60  # a monitor's inspection takes the morning
PATIENCE_MINUTES = 30  # a room waits this long for its next planned kind of session
ODD_ROOM_DELAY_MINUTES = 15  # every other room starts later, so arrivals are spread out
EARLY_CHECK_IN_MINUTES = 10
INTAKE_LEAD_DAYS = 5  # screening is reviewed before a first dosing session
PATIENTS_PER_ROOM = 25  # the caseload today
NO_SHOW_RATE = 0.03
CANCEL_RATE = 0.05
MAX_MISSES_IN_A_ROW = 2
# Past patients, when the history is long: how full they keep the clinic, when they start.
HISTORY_UTILISATION = 0.8
HISTORY_AFTER_WEEKS = 16  # today's caseload began within about this many weeks
WARM_UP_WEEKS = 8  # past patients may have begun this long before the first day shown

# The session types and protocols of the default configuration that the demo books.
IV, SPRAVATO, KAP, INTEGRATION, INTAKE, REVIEW = (
    "iv_infusion",
    "spravato",
    "kap",
    "integration",
    "intake",
    "booster_review",
)
IV_INDUCTION, IV_BOOSTER = "iv_induction", "iv_booster"
SPRAVATO_TRD, SPRAVATO_MAINTENANCE, SPRAVATO_MDD_SI = (
    "spravato_trd",
    "spravato_maintenance",
    "spravato_mdd_si",
)
KAP_PROGRAM = "kap_program"

# Where today's caseload stands (weights out of 150 patients).
STATES: tuple[tuple[str, int], ...] = (
    ("screening_pending", 10),
    ("intake_scheduled", 8),
    ("intake_done", 8),
    ("iv_starting", 6),
    ("iv_induction", 16),
    ("iv_completed", 6),
    ("iv_boosters", 18),
    ("spravato_induction", 12),
    ("spravato_optimization", 8),
    ("spravato_maintenance", 18),
    ("kap_program", 10),
    ("dropped_out", 14),
    ("discharged", 16),
)
# What past patients came for (weights), and how long they stayed.
HISTORY_MIX: tuple[tuple[str, int], ...] = (
    ("iv", 42),
    ("spravato", 18),
    ("mdd", 5),
    ("kap", 12),
    ("dropped", 15),
    ("intake_only", 8),
)
BOOSTER_COUNTS = (0, 0, 1, 2, 3, 4)
WEEKDAY_SHIFTS = (0, 0, 0, 1, 2, 4)  # half the patients keep a protocol's usual weekdays
MAINTENANCE_SERIES_COUNTS = (0, 1, 1, 2)

PRESCRIBER_DAY_OFF = (3, 0, 4, 1, 2)  # Thursday, Monday, Friday, ... (weekday numbers)
ROLE_USERNAMES = {
    "nurse": "nurse",
    "prescriber": "prescriber",
    "therapist": "therapist",
    "front_desk": "frontdesk",
}


def demo_settings(catalog: Catalog, today: dt.date) -> ClinicSettings:
    return replace(
        catalog.settings,
        name=CLINIC["name"],
        timezone=CLINIC["timezone"],
        address=CLINIC["address"],
        phone=CLINIC["phone"],
        email=CLINIC["email"],
        rems_site_certified_until=(today + dt.timedelta(days=300)).isoformat(),
    )
