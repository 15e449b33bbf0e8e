"""How the week's blocks name patients: short, and never the same for two patients shown (a user
trial: two patients both read "Allen J."). Plain functions, no widget."""

from __future__ import annotations

from ketadesk.ui.timeline.week_layout import BlockNames, block_names, lone_names


def test_a_patient_alone_keeps_the_usual_short_forms() -> None:
    names = block_names([("BT-1", "Seacole, Mary"), ("BT-2", "Watson, Robert")])
    assert names["BT-1"] == BlockNames("Seacole M.", "Seacole", "M.S.")
    assert names["BT-1"] == lone_names("Seacole, Mary")
    assert block_names([("BT-3", "Cher")])["BT-3"] == BlockNames("Cher", "Cher", "C.")


def test_the_same_surname_and_initial_take_more_of_the_first_name() -> None:
    names = block_names(
        [
            ("BT-1", "Allen, James"),
            ("BT-2", "Allen, Jane"),
            ("BT-3", "Allen, Jo"),
            ("BT-4", "Allen, Joseph"),
            ("BT-5", "Allen, Mary"),
        ]
    )
    assert {c: n.short for c, n in names.items()} == {
        "BT-1": "Allen Jam.",
        "BT-2": "Allen Jan.",
        "BT-3": "Allen Jo",  # the whole name: as short as "Jo."
        "BT-4": "Allen Jos.",
        "BT-5": "Allen M.",  # no one else is an Allen M.
    }
    # A shared surname is never shortened to the surname alone.
    assert {n.surname for n in names.values()} == {""}


def test_the_same_name_twice_adds_the_chart_numbers_tail() -> None:
    names = block_names(
        [("DAY-3", "Allen, James"), ("DAY-5", "Allen, James"), ("BT-0021", "Allen, James")]
    )
    assert {c: n.short for c, n in names.items()} == {
        "DAY-3": "Allen J. #3",
        "DAY-5": "Allen J. #5",
        "BT-0021": "Allen J. #21",
    }
    assert len({n.initials for n in names.values()}) == 3


def test_shared_initials_take_a_letter_or_two_more() -> None:
    names = block_names(
        [("BT-1", "Moore, Liam"), ("BT-2", "Martin, Lily"), ("BT-3", "Ma, Lu"), ("BT-4", "Li, Wu")]
    )
    assert {c: n.initials for c, n in names.items()} == {
        "BT-1": "L.Mo.",
        "BT-2": "L.Mar.",
        "BT-3": "L.Ma.",
        "BT-4": "W.L.",
    }
    assert {c: n.short for c, n in names.items()}["BT-1"] == "Moore L."


def test_a_patient_with_several_sessions_is_one_patient() -> None:
    names = block_names([("BT-1", "Allen, James"), ("BT-1", "Allen, James")])
    assert names == {"BT-1": BlockNames("Allen J.", "Allen", "J.A.")}
