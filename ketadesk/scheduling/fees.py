"""Late-cancellation and no-show fees: the ``[fees]`` settings of clinic.toml, parsed here with
errors naming the key, and which fee (if any) a cancellation or a no-show owes.

Amounts are whole dollars in the configuration (``late_cancel_default``, ``no_show_default``,
and per session type code in ``[fees.late_cancel]`` / ``[fees.no_show]``) and cents once
recorded, so a clinic that later charges $37.50 needs no new column.  What counts as *late* is
``[clinic] late_cancel_hours`` (already judged when a cancellation is written).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ketadesk.scheduling.catalog import ConfigError

#: The kinds of fee, as stored, and their names wherever a person sees them.
LATE_CANCEL, NO_SHOW = "late_cancel", "no_show"
FEE_KINDS = (LATE_CANCEL, NO_SHOW)
FEE_KIND_NAMES = {LATE_CANCEL: "Late cancellation", NO_SHOW: "No-show"}
#: A fee's life: owed when charged; waived by a role allowed to, with a reason; voided when the
#: cancellation or no-show it was charged for is taken back (undo).
OWED, WAIVED, VOIDED = "owed", "waived", "voided"
FEE_STATUSES = (OWED, WAIVED, VOIDED)
FEE_STATUS_NAMES = {OWED: "Owed", WAIVED: "Waived", VOIDED: "Voided"}

#: The defaults of resources/config/clinic.toml [fees], for a clinic stored before the section
#: existed.
FEE_DEFAULTS: Mapping[str, Any] = {
    "enabled": True,
    "currency": "USD",
    "late_cancel_default": 50,
    "no_show_default": 75,
    "late_cancel": {},
    "no_show": {},
}


@dataclass(frozen=True, slots=True)
class FeeSettings:
    """Whether fees are charged, and each kind's amount in cents: the default, and the ones a
    session type has of its own."""

    enabled: bool = True
    currency: str = "USD"
    defaults: Mapping[str, int] = field(default_factory=dict)
    by_type: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    def amount_cents(self, kind: str, session_type: str) -> int:
        """What ``kind`` costs for a session of ``session_type`` (0: nothing is charged)."""
        if not self.enabled:
            return 0
        own = self.by_type.get(kind, {})
        return own.get(session_type, self.defaults.get(kind, 0))


def _dollars(value: Any, where: str, source: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConfigError(
            f"{source}: {where}: must be a whole number of dollars >= 0, got {value!r}"
        )
    return value * 100


def parse_fee_settings(
    given: Mapping[str, Any] | None,
    source: str = "clinic.toml",
    session_types: Any = None,
) -> FeeSettings:
    """``[fees]`` over its defaults; a mistake names its key (``fees.no_show.spravato``).
    ``session_types``: the known session type codes, when given, so a misspelt one is named."""
    if given is not None and not isinstance(given, Mapping):
        raise ConfigError(f"{source}: fees: must be a table")
    data = {**FEE_DEFAULTS, **(given or {})}
    unknown = sorted(set(data) - set(FEE_DEFAULTS))
    if unknown:
        raise ConfigError(
            f"{source}: fees.{unknown[0]}: is not a fee setting; known: " + ", ".join(FEE_DEFAULTS)
        )
    enabled = data["enabled"]
    if not isinstance(enabled, bool):
        raise ConfigError(f"{source}: fees.enabled: must be true or false, got {enabled!r}")
    currency = data["currency"]
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
        raise ConfigError(
            f"{source}: fees.currency: must be a three-letter code like USD, got {currency!r}"
        )
    defaults = {
        kind: _dollars(data[f"{kind}_default"], f"fees.{kind}_default", source)
        for kind in FEE_KINDS
    }
    by_type: dict[str, dict[str, int]] = {}
    for kind in FEE_KINDS:
        table = data[kind]
        if not isinstance(table, Mapping):
            raise ConfigError(f"{source}: fees.{kind}: must be a table of session type = dollars")
        amounts: dict[str, int] = {}
        for code, value in table.items():
            if session_types is not None and code not in session_types:
                raise ConfigError(
                    f"{source}: fees.{kind}.{code}: is not a session type; known: "
                    + ", ".join(session_types)
                )
            amounts[code] = _dollars(value, f"fees.{kind}.{code}", source)
        by_type[kind] = amounts
    return FeeSettings(
        enabled=enabled, currency=currency.upper(), defaults=defaults, by_type=by_type
    )


def fee_kind_for(action: str, *, late_cancel: bool) -> str | None:
    """The fee a status change owes: a no-show always, a cancellation only when late."""
    if action == "no_show":
        return NO_SHOW
    if action == "cancel" and late_cancel:
        return LATE_CANCEL
    return None


def money(cents: int, currency: str = "USD") -> str:
    """ "$75.00" (US dollars), or "75.00 EUR"."""
    text = f"{cents // 100:,}.{cents % 100:02d}"
    return f"${text}" if currency == "USD" else f"{text} {currency}"
