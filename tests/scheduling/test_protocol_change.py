"""The plain rules of a change of protocol: the day it takes effect, what the clinician must
say, and the words that link the two series on the record."""

from __future__ import annotations

import datetime as dt

from ketadesk.scheduling.protocol_change import (
    change_note,
    change_problem,
    changed_from_words,
    changed_to_words,
    default_start,
    who_may_change,
)
from ketadesk.scheduling.series_end import (
    PROTOCOL_CHANGE,
    SeriesEndSettings,
    ended_words,
    reason_problem,
)

DEC_9 = dt.date(2026, 12, 9)


def test_the_change_starts_the_day_after_the_last_session_kept_never_in_the_past() -> None:
    assert default_start(DEC_9, DEC_9) == dt.date(2026, 12, 10)
    assert default_start(dt.date(2026, 12, 2), DEC_9) == DEC_9
    assert default_start(None, DEC_9) == DEC_9


def test_a_change_needs_a_new_protocol_and_why() -> None:
    assert change_problem("", "iv_induction", "no response") == "Choose the new protocol"
    assert "already" in change_problem("iv_induction", "iv_induction", "no response")
    assert change_problem("spravato_trd", "iv_induction", " ").startswith("Say why")
    assert change_problem("spravato_trd", "iv_induction", "no response") == ""


def test_the_old_series_says_what_it_changed_to_and_the_new_one_what_it_follows() -> None:
    note = change_note("Spravato TRD", " no response after 4 infusions ")
    assert reason_problem(PROTOCOL_CHANGE, note) == ""
    assert reason_problem(PROTOCOL_CHANGE, "") != ""  # the new protocol and why are required
    assert ended_words(DEC_9, PROTOCOL_CHANGE, note, "Dr Okafor") == (
        "Ended Dec 9: changed to Spravato TRD: no response after 4 infusions (Dr Okafor)"
    )
    assert changed_to_words("Spravato TRD", dt.date(2026, 12, 14)) == "→ Spravato TRD from Dec 14"
    assert changed_to_words("Spravato TRD", None) == "→ Spravato TRD, nothing booked"
    assert changed_from_words("IV induction", DEC_9) == "← after IV induction, ended Dec 9"


def test_who_may_change_is_who_may_end() -> None:
    assert who_may_change(SeriesEndSettings()) == "Only a prescriber may change a series' protocol"
    assert who_may_change(SeriesEndSettings(roles=("prescriber", "nurse"))) == (
        "Only a nurse or prescriber may change a series' protocol"
    )
