"""The clinic's own details: name, address, phone, logo, time zone, time format, paper size,
opening hours.

They live where the rest of the application reads them, in the ``clinic`` and ``hours`` sections
of the stored configuration (``clinic_setting``), so a change reaches the planner's calendar, the
printed headers and every other workstation (the change counter) at once.  The logo is kept in the
database too, as base64 of the image file, so it travels with backups and needs no shared folder.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import re
import zoneinfo
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from ketadesk.config import RawConfig, build_catalog
from ketadesk.scheduling.catalog import (
    CARD_SIZES,
    CARD_STOCKS,
    LOGO_FORMATS,
    PAPER_SIZES,
    WEEKDAYS,
    ClinicSettings,
    ConfigError,
)
from ketadesk.scheduling.dates import TIME_FORMATS
from ketadesk.services.access import audit
from ketadesk.services.access.permissions import require
from ketadesk.services.common.context import (
    Actor,
    Database,
    InvalidFields,
    utcnow,
)
from ketadesk.services.common.phones import display_phone, phone_problem
from ketadesk.services.patients.patient_fields import parse_date
from ketadesk.store import changes
from ketadesk.store.clinic_config import load_catalog, read_raw_config
from ketadesk.store.models import ClinicSetting

__all__ = [
    "LOGO_FORMATS",
    "PAPER_SIZES",
    "ClinicDetails",
    "DayHours",
    "LogoImage",
    "clinic_details",
    "clinic_paper_size",
    "clinic_time_format",
    "details_of",
    "read_logo_file",
    "rems_date_text",
    "save_clinic_details",
    "validate_details",
]

# Widths of the fields as a printed header and a form can show them; longer text is a mistake.
_NAME_MAX = 120
_ADDRESS_MAX = 400
_PHONE_MAX = 40
_TIME_RE = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
#: The first bytes of each logo format, to tell an image from a renamed file.
_MAGIC = {"png": (b"\x89PNG\r\n\x1a\n",), "jpeg": (b"\xff\xd8\xff",)}
_SUFFIXES = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".svg": "svg"}


@dataclass(frozen=True, slots=True)
class DayHours:
    """One weekday's opening hours: closed, or open from ``opens`` to ``closes`` ("HH:MM")."""

    day: str  # "mon" ... "sun"
    open: bool
    opens: str = ""
    closes: str = ""


@dataclass(frozen=True, slots=True)
class LogoImage:
    """An image file as kept in the database: its format and base64 text."""

    format: str  # one of LOGO_FORMATS
    data: str  # base64

    @property
    def size_bytes(self) -> int:
        return len(self.data) * 3 // 4 - self.data[-2:].count("=")

    def raw(self) -> bytes:
        return base64.b64decode(self.data)


@dataclass(frozen=True, slots=True)
class ClinicDetails:
    """What the Clinic page of Settings shows and saves.

    ``logo`` is None for no logo; ``logo_max_kb`` is the configured limit (read only here).
    """

    name: str
    address: str
    phone: str
    timezone: str
    paper_size: str
    hours: tuple[DayHours, ...]
    logo: LogoImage | None = None
    logo_max_kb: int = 256
    #: The appointment card ([clinic] card_size, CARD_SIZES) and what it is printed on
    #: (card_stock, CARD_STOCKS).
    card_size: str = "index_3x5"
    card_stock: str = "sheet"
    #: How times of day are shown and printed ([clinic] time_format, dates.TIME_FORMATS).
    time_format: str = "12h"
    #: The last day the site's Spravato REMS certification covers ([rems]
    #: site_certified_until; the gating rule rems_site_certified), as the form shows and takes
    #: it: month first, MM/DD/YYYY ("" when not recorded; YYYY-MM-DD is accepted too).
    rems_certified_until: str = ""

    def with_logo(self, logo: LogoImage | None) -> ClinicDetails:
        return replace(self, logo=logo)


def _hhmm(value: dt.time) -> str:
    return value.strftime("%H:%M")


def _us_date(day: dt.date) -> str:
    return f"{day.month:02d}/{day.day:02d}/{day.year}"


def rems_date_text(stored: str) -> str:
    """The stored ISO date as the form shows it (MM/DD/YYYY); text that is not a date as is."""
    text = stored.strip()
    try:
        return _us_date(dt.date.fromisoformat(text)) if text else ""
    except ValueError:
        return text


def details_of(settings: ClinicSettings) -> ClinicDetails:
    """The details the Clinic page shows, read from the parsed settings."""
    hours = []
    for day in WEEKDAYS:
        span = settings.hours.get(day)
        if span is None:
            hours.append(DayHours(day, False))
        else:
            hours.append(DayHours(day, True, _hhmm(span[0]), _hhmm(span[1])))
    logo = None
    if settings.logo_image and settings.logo_format:
        logo = LogoImage(settings.logo_format, settings.logo_image)
    return ClinicDetails(
        name=settings.name,
        address=settings.address,
        phone=display_phone(settings.phone),
        timezone=settings.timezone,
        paper_size=settings.paper_size,
        hours=tuple(hours),
        logo=logo,
        logo_max_kb=settings.logo_max_kb,
        card_size=settings.card_size,
        card_stock=settings.card_stock,
        time_format=settings.time_format,
        rems_certified_until=rems_date_text(settings.rems_site_certified_until),
    )


def clinic_details(db: Database) -> ClinicDetails:
    """The clinic's details as stored now."""
    with db.read() as session:
        return details_of(load_catalog(session).settings)


def clinic_time_format(db: Database) -> str:
    """How the clinic reads a time of day ([clinic] time_format: "12h" or "24h")."""
    with db.read() as session:
        return load_catalog(session).settings.time_format


def clinic_paper_size(db: Database) -> str:
    """The paper the clinic prints on (letter, legal or a4)."""
    with db.read() as session:
        return load_catalog(session).settings.paper_size


# --------------------------------------------------------------------------------------------
# Validation


def _minutes(text: str) -> int | None:
    match = _TIME_RE.match(text.strip())
    return int(match[1]) * 60 + int(match[2]) if match else None


def validate_details(details: ClinicDetails) -> dict[str, str]:
    """Each bad field's name and what is wrong with it (empty when the form is right).

    Opening hours are named ``hours.<day>`` ("hours.mon").
    """
    errors: dict[str, str] = {}
    name = details.name.strip()
    if not name:
        errors["name"] = "the clinic needs a name"
    elif len(name) > _NAME_MAX:
        errors["name"] = f"at most {_NAME_MAX} characters"
    if len(details.address.strip()) > _ADDRESS_MAX:
        errors["address"] = f"at most {_ADDRESS_MAX} characters"
    phone = details.phone.strip()
    if len(phone) > _PHONE_MAX:
        errors["phone"] = f"at most {_PHONE_MAX} characters"
    elif phone:  # printed on every card and sheet: the patient form's rule (common/phones.py)
        problem = phone_problem(phone)
        if problem:
            errors["phone"] = problem
    if details.rems_certified_until.strip():
        try:
            parse_date(details.rems_certified_until)
        except ValueError as err:
            said = str(err)
            if "month first" not in said:
                said += ": type it month first, MM/DD/YYYY"
            errors["rems_certified_until"] = said
    tz = details.timezone.strip()
    if not tz:
        errors["timezone"] = "choose the clinic's time zone"
    elif tz not in zoneinfo.available_timezones():
        errors["timezone"] = f"{tz!r} is not a time zone name (e.g. America/New_York)"
    if details.paper_size not in PAPER_SIZES:
        errors["paper_size"] = f"must be one of {', '.join(PAPER_SIZES)}"
    if details.card_size not in CARD_SIZES:
        errors["card_size"] = f"must be one of {', '.join(CARD_SIZES)}"
    if details.card_stock not in CARD_STOCKS:
        errors["card_stock"] = f"must be one of {', '.join(CARD_STOCKS)}"
    if details.time_format not in TIME_FORMATS:
        errors["time_format"] = f"must be one of {', '.join(TIME_FORMATS)}"
    days = [h.day for h in details.hours]
    if sorted(days) != sorted(WEEKDAYS):
        errors["hours"] = "give the hours of each weekday once"
    for hours in details.hours:
        if not hours.open:
            continue
        opens, closes = _minutes(hours.opens), _minutes(hours.closes)
        field = f"hours.{hours.day}"
        if opens is None:
            errors[field] = f"opening time {hours.opens!r} is not HH:MM"
        elif closes is None:
            errors[field] = f"closing time {hours.closes!r} is not HH:MM"
        elif closes <= opens:
            errors[field] = f"closes ({hours.closes}) before it opens ({hours.opens})"
    if details.logo is not None:
        problem = _logo_problem(details.logo, details.logo_max_kb)
        if problem:
            errors["logo"] = problem
    return errors


def _logo_problem(logo: LogoImage, max_kb: int) -> str:
    if logo.format not in LOGO_FORMATS:
        return f"a logo must be {', '.join(LOGO_FORMATS)}, not {logo.format!r}"
    try:
        raw = base64.b64decode(logo.data, validate=True)
    except (binascii.Error, ValueError):
        return "the logo is not a readable image"
    if len(raw) > max_kb * 1024:
        return (
            f"the image is {len(raw) // 1024} KB; a logo may be at most {max_kb} KB "
            "(save it smaller, e.g. 600 pixels wide)"
        )
    magic = _MAGIC.get(logo.format)
    if magic is not None and not raw.startswith(magic):
        return f"the file is not a {logo.format.upper()} image"
    if logo.format == "svg" and b"<svg" not in raw[:4096]:
        return "the file is not an SVG image"
    return ""


def read_logo_file(path: Path, max_kb: int) -> LogoImage:
    """The image file a user chose, checked (format and size); InvalidFields on "logo"."""
    fmt = _SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise InvalidFields({"logo": "choose a PNG, JPEG or SVG image"})
    try:
        size = path.stat().st_size
        if size > max_kb * 1024:
            raise InvalidFields(
                {
                    "logo": f"the image is {size // 1024} KB; a logo may be at most {max_kb} KB "
                    "(save it smaller, e.g. 600 pixels wide)"
                }
            )
        raw = path.read_bytes()
    except OSError as err:
        raise InvalidFields({"logo": f"{path.name} cannot be read ({err.strerror})"}) from err
    logo = LogoImage(fmt, base64.b64encode(raw).decode("ascii"))
    problem = _logo_problem(logo, max_kb)
    if problem:
        raise InvalidFields({"logo": problem})
    return logo


# --------------------------------------------------------------------------------------------
# Saving


def _audited(details: ClinicDetails) -> dict[str, Any]:
    """The details as the audit trail keeps them: the logo by size and digest, not its bytes."""
    logo: dict[str, Any] | None = None
    if details.logo is not None:
        digest = hashlib.sha256(details.logo.data.encode("ascii")).hexdigest()[:16]
        logo = {"format": details.logo.format, "bytes": details.logo.size_bytes, "sha": digest}
    return {
        "name": details.name,
        "address": details.address,
        "phone": display_phone(details.phone),
        "timezone": details.timezone,
        "paper_size": details.paper_size,
        "card_size": details.card_size,
        "card_stock": details.card_stock,
        "time_format": details.time_format,
        "logo": logo,
        "hours": {h.day: [h.opens, h.closes] if h.open else [] for h in details.hours},
        "rems_site_certified_until": _rems_iso(details.rems_certified_until),
    }


def _rems_iso(text: str) -> str:
    """The typed date as stored (YYYY-MM-DD), "" for none; validated before."""
    return parse_date(text).isoformat() if text.strip() else ""


def _sections(
    raw: RawConfig, details: ClinicDetails
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    clinic = dict(raw.clinic.get("clinic", {}))
    clinic.update(
        name=details.name.strip(),
        address=details.address.strip(),
        phone=display_phone(details.phone),  # kept as every view shows it: "(617) 555-0142"
        timezone=details.timezone.strip(),
        paper_size=details.paper_size,
        card_size=details.card_size,
        card_stock=details.card_stock,
        time_format=details.time_format,
        logo_image=details.logo.data if details.logo else "",
        logo_format=details.logo.format if details.logo else "",
    )
    hours = {h.day: [h.opens.strip(), h.closes.strip()] if h.open else [] for h in details.hours}
    rems = dict(raw.clinic.get("rems", {}))
    rems["site_certified_until"] = _rems_iso(details.rems_certified_until)
    return clinic, hours, rems


def _store(session: Session, key: str, value: dict[str, Any], now: dt.datetime) -> None:
    row = session.get(ClinicSetting, key)
    if row is None:
        session.add(ClinicSetting(key=key, value=value, updated_at=now))
    else:
        row.value = value
        row.updated_at = now


def save_clinic_details(
    db: Database, actor: Actor, details: ClinicDetails, *, now: dt.datetime | None = None
) -> ClinicDetails:
    """Store the clinic's details; returns them as stored.

    Raises PermissionDenied (audited) for a role that may not configure, and InvalidFields
    (nothing saved) naming each bad field.
    """
    require(actor, "configure", db, now=now)
    now = now or utcnow()
    errors = validate_details(details)
    if errors:
        raise InvalidFields(errors)
    with db.write() as session:
        raw = read_raw_config(session)
        before = details_of(load_catalog(session).settings)
        clinic, hours, rems = _sections(raw, details)
        sections = {**raw.clinic, "clinic": clinic, "hours": hours, "rems": rems}
        try:  # the same checks the configuration loader makes, before anything is written
            settings = build_catalog(RawConfig(sections, raw.session_types, raw.protocols)).settings
        except ConfigError as err:
            raise InvalidFields({"clinic": str(err)}) from err
        after = details_of(settings)
        if after == before:
            return after
        _store(session, "clinic", clinic, now)
        _store(session, "hours", hours, now)
        _store(session, "rems", rems, now)
        audit.record(
            session,
            actor,
            "configure_clinic",
            "clinic_setting",
            None,
            before=_audited(before),
            after=_audited(after),
            now=now,
        )
        changes.bump(session, now)
        return after
