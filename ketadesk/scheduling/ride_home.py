"""The ride home at discharge: whether a session type needs one, and what a discharge must
record of it (DOMAIN.md "Gating": no driving until the next day after Spravato, 12-24 h after
IV ketamine; the session type's ``drives_after_hours`` is the clinic's number).

Completing such a session asks the nurse to confirm the driver or escort is there (the name
the patient record holds, prefilled) or to record why not; the answer is kept with the
completion and in the audit, and printed on the session record.
"""

from __future__ import annotations

from dataclasses import dataclass

from ketadesk.scheduling.catalog import SessionTypeSpec


@dataclass(frozen=True, slots=True)
class RideHome:
    """The nurse's answer at discharge: the driver or escort is ``here`` (their ``name``), or
    not, with ``reason`` (why the patient leaves without one)."""

    here: bool
    name: str = ""
    reason: str = ""

    @property
    def words(self) -> str:
        """The answer as the record and the audit say it."""
        if self.here:
            return f"ride home confirmed: {self.name.strip()}"
        return f"no ride home: {self.reason.strip()}"

    def as_detail(self) -> dict[str, object]:
        return {"here": self.here, "name": self.name.strip(), "reason": self.reason.strip()}

    @classmethod
    def from_detail(cls, detail: object) -> RideHome | None:
        if not isinstance(detail, dict) or "here" not in detail:
            return None
        return cls(bool(detail["here"]), str(detail.get("name", "")), str(detail.get("reason", "")))


def needs_ride(spec: SessionTypeSpec | None) -> bool:
    """A dosing session type after which the patient may not drive (``drives_after_hours``):
    its discharge asks for the ride home.  A booster review, an integration session: no."""
    return spec is not None and spec.dosing and bool(spec.drives_after_hours)


def ride_problem(ride: RideHome) -> str | None:
    """What is missing from an answer (None when it is whole)."""
    if ride.here and not ride.name.strip():
        return "name the driver or escort who is here to take the patient home"
    if not ride.here and not ride.reason.strip():
        return "say why the patient leaves without a driver or escort"
    return None


def ride_question(spec: SessionTypeSpec, patient: str, driver: str) -> str:
    """What the discharge asks: the rule and the name the patient record holds."""
    hours = spec.drives_after_hours
    on_record = f" (on the record: {driver})" if driver.strip() else " (none on the record)"
    return (
        f"{patient} may not drive for {hours} hours after this {spec.name}: confirm the driver "
        f"or escort is here{on_record}, or record why not"
    )
