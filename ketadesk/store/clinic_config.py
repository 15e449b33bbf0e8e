"""The clinic's configuration as kept in the database, and loading it as a checked catalogue."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from typing import cast as cast_type

from sqlalchemy import (
    CompoundSelect,
    Integer,
    String,
    Table,
    Text,
    cast,
    literal_column,
    select,
    union_all,
)
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


# The stored configuration as the database holds it, one row per section, session type and
# protocol: kind, code, id, order and the definition's text, undecoded.  These rows are what a
# catalogue is built from, and they are also its cache key: every booking reads them (the
# configuration may have changed at another workstation a second ago), but decoding and
# checking them again happens only when their text did change.  One cheap query, no JSON work.
_KIND_SETTING, _KIND_TYPE, _KIND_PROTOCOL = "c", "t", "p"


def _config_rows_statement() -> CompoundSelect[str, str, int, int, str | None]:
    setting = cast_type(Table, ClinicSetting.__table__)
    types = cast_type(Table, SessionType.__table__)
    protocols = cast_type(Table, Protocol.__table__)
    return union_all(
        select(
            literal_column(f"'{_KIND_SETTING}'", String).label("kind"),
            setting.c.key.label("code"),
            literal_column("0", Integer).label("id"),
            literal_column("0", Integer).label("sort_order"),
            cast(setting.c.value, Text).label("text"),
        ),
        select(
            literal_column(f"'{_KIND_TYPE}'", String),
            types.c.code,
            types.c.id,
            types.c.sort_order,
            cast(types.c.definition, Text),
        ),
        select(
            literal_column(f"'{_KIND_PROTOCOL}'", String),
            protocols.c.code,
            protocols.c.id,
            protocols.c.sort_order,
            cast(protocols.c.definition, Text),
        ),
    ).order_by(literal_column("1"), literal_column("4"), literal_column("2"))


CONFIG_ROWS = _config_rows_statement()

ConfigRows = tuple[tuple[str, str, int, int, str | None], ...]


@dataclass(frozen=True)
class StoredConfig:
    """The checked catalogue, with the database ids of its session types and protocols."""

    catalog: Catalog
    session_type_ids: Mapping[str, int]
    protocol_ids: Mapping[str, int]

    def session_type_code(self, type_id: int) -> str:
        """The code of the session type stored under ``type_id``."""
        return next(code for code, tid in self.session_type_ids.items() if tid == type_id)


# Parsed configurations by their stored rows.  Small: one entry per distinct configuration seen.
_PARSED: dict[ConfigRows, StoredConfig] = {}
_PARSED_MAX = 8


def _parse(rows: ConfigRows) -> StoredConfig:
    clinic: dict[str, Any] = {}
    types: dict[str, Any] = {}
    protocols: dict[str, Any] = {}
    type_ids: dict[str, int] = {}
    protocol_ids: dict[str, int] = {}
    for kind, code, id_, _order, stored in rows:
        value = None if stored is None else json.loads(stored)
        if kind == _KIND_SETTING:
            clinic[code] = value
        elif kind == _KIND_TYPE:
            types[code] = value
            type_ids[code] = id_
        else:
            protocols[code] = value
            protocol_ids[code] = id_
    raw = RawConfig(clinic, {"session_types": types}, {"protocols": protocols})
    return StoredConfig(build_catalog(raw, origin="database"), type_ids, protocol_ids)


def load_config(session: Session) -> StoredConfig:
    """The clinic's configuration as stored now (one query; parsed only when it changed)."""
    if session.autoflush:  # as an ORM query would: pending changes to the settings count
        session.flush()
    rows: ConfigRows = tuple(
        (kind, code, id_, order, stored)
        for kind, code, id_, order, stored in session.connection().execute(CONFIG_ROWS)
    )
    return config_from_rows(rows)


def config_from_rows(rows: Sequence[Sequence[Any]]) -> StoredConfig:
    """The configuration of its stored rows (``CONFIG_ROWS``), parsed only when they changed."""
    key: ConfigRows = tuple(
        (kind, code, id_, order, stored) for kind, code, id_, order, stored in rows
    )
    found = _PARSED.get(key)
    if found is None:
        found = _parse(key)
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        _PARSED[key] = found
    return found


def load_catalog(session: Session) -> Catalog:
    """The clinic's catalogue as stored; a broken stored definition is reported by name."""
    return load_config(session).catalog
