"""One formatter for every phone number shown or printed: a US clinic reads (555) 123-4567."""

from __future__ import annotations

import pytest

from ketadesk.services.common.phones import display_phone, phone_problem


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("6195550134", "(619) 555-0134"),
        ("619-555-0134", "(619) 555-0134"),
        ("619.555.0134", "(619) 555-0134"),
        (" 619 555 0134 ", "(619) 555-0134"),
        ("(619) 555-0134", "(619) 555-0134"),
        ("1 619 555 0134", "(619) 555-0134"),  # the US country code, as registration accepts
        ("+1 619 555 0134", "+1 619 555 0134"),  # written internationally: left as typed
        ("+44 20 7946 0958", "+44 20 7946 0958"),
        ("555-0134", "555-0134"),  # too short for a US number
        ("619-555-0134 ext 12", "619-555-0134 ext 12"),  # more than a number
        ("ask for Bob", "ask for Bob"),
        ("", ""),
    ],
)
def test_a_us_number_reads_the_us_way_and_anything_else_as_typed(typed: str, shown: str) -> None:
    assert display_phone(typed) == shown


def test_what_it_shows_of_a_valid_number_is_still_valid() -> None:
    for typed in ("6195550134", "1-619-555-0134", "+44 20 7946 0958"):
        assert phone_problem(typed) is None
        assert phone_problem(display_phone(typed)) is None
