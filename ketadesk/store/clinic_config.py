"""The clinic's configuration as kept in the database, and loading it as a checked catalogue."""

from __future__ import annotations

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
    clinic: dict[str, Any] = {row.key: row.value for row in session.scalars(select(ClinicSetting))}
    types = {
        row.code: row.definition
        for row in session.scalars(select(SessionType).order_by(SessionType.sort_order))
    }
    protocols = {
        row.code: row.definition
        for row in session.scalars(select(Protocol).order_by(Protocol.sort_order))
    }
    return RawConfig(clinic, {"session_types": types}, {"protocols": protocols})


def load_catalog(session: Session) -> Catalog:
    """The clinic's catalogue as stored; a broken stored definition is reported by name."""
    return build_catalog(read_raw_config(session), origin="database")
