"""The clinic's configuration as kept in the database, and loading it as a checked catalogue."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketadesk.config import Catalog, RawConfig, build_catalog
from ketadesk.store.changes import ensure_counter
from ketadesk.store.models import ClinicSetting, Protocol, SessionType


def install_configuration(session: Session, raw: RawConfig) -> Catalog:
    """Write a new clinic's configuration; checks it first so nothing half-valid is stored."""
    catalog = build_catalog(raw)
    for key, value in raw.clinic.items():
        session.merge(ClinicSetting(key=key, value=value))
    for order, (code, definition) in enumerate(raw.session_types["session_types"].items()):
        spec = catalog.session_types[code]
        session.add(
            SessionType(
                code=code,
                name=spec.name,
                color=spec.color,
                dosing=spec.dosing,
                definition=definition,
                sort_order=order,
            )
        )
    for order, (code, definition) in enumerate(raw.protocols["protocols"].items()):
        session.add(
            Protocol(
                code=code,
                name=catalog.protocols[code].name,
                definition=definition,
                sort_order=order,
            )
        )
    ensure_counter(session)
    session.flush()
    return catalog


def read_raw_config(session: Session) -> RawConfig:
    clinic: dict[str, Any] = {}
    for key, value in session.execute(select(ClinicSetting.key, ClinicSetting.value)):
        clinic[key] = value
    types: dict[str, Any] = {}
    for code, definition in session.execute(
        select(SessionType.code, SessionType.definition).order_by(SessionType.sort_order)
    ):
        types[code] = definition
    protocols: dict[str, Any] = {}
    for code, definition in session.execute(
        select(Protocol.code, Protocol.definition).order_by(Protocol.sort_order)
    ):
        protocols[code] = definition
    return RawConfig(clinic, {"session_types": types}, {"protocols": protocols})


# Parsed catalogues by the text of their stored definitions: every booking reads the clinic's
# configuration (it may have changed at another workstation), but parsing it again only when it
# did keeps that read cheap.  Small: one entry per distinct configuration seen.
_PARSED: dict[str, Catalog] = {}
_PARSED_MAX = 8


def load_catalog(session: Session) -> Catalog:
    """The clinic's catalogue as stored; a broken stored definition is reported by name."""
    raw = read_raw_config(session)
    key = json.dumps([raw.clinic, raw.session_types, raw.protocols], sort_keys=True)
    catalog = _PARSED.get(key)
    if catalog is None:
        catalog = build_catalog(raw, origin="database")
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        _PARSED[key] = catalog
    return catalog
