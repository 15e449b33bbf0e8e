"""Reads the clinic configuration files (TOML) and turns mistakes into clear messages."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ketadesk.paths import config_dir
from ketadesk.scheduling.catalog import (
    ClinicSettings,
    ConfigError,
    ProtocolSpec,
    SessionTypeSpec,
    parse_clinic_settings,
    parse_protocols,
    parse_session_types,
)
from ketadesk.scheduling.chair_rules import parse_chair_settings
from ketadesk.scheduling.confirmations import parse_confirmation_settings
from ketadesk.scheduling.dropout import parse_dropout_settings
from ketadesk.scheduling.fees import parse_fee_settings
from ketadesk.scheduling.gating import parse_eligibility_settings
from ketadesk.scheduling.measures import InstrumentSpec, parse_measures
from ketadesk.scheduling.protocol_rules import parse_protocol_rule_settings
from ketadesk.scheduling.safety_followups import parse_urgent_review_settings
from ketadesk.scheduling.scale_rules import parse_scale_settings

CLINIC_FILE = "clinic.toml"
SESSION_TYPES_FILE = "session_types.toml"
PROTOCOLS_FILE = "protocols.toml"
MEASURES_FILE = "measures.toml"


@dataclass(frozen=True)
class RawConfig:
    """The three configuration documents as dictionaries, as stored in the database."""

    clinic: dict[str, Any]
    session_types: dict[str, Any]
    protocols: dict[str, Any]


@dataclass(frozen=True)
class Catalog:
    settings: ClinicSettings
    session_types: dict[str, SessionTypeSpec]
    protocols: dict[str, ProtocolSpec]


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {exc.start} is {exc.object[exc.start]:#04x}); "
            "save it as UTF-8"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror}") from None


def read_raw_config(directory: Path | None = None) -> RawConfig:
    directory = directory or config_dir()
    return RawConfig(
        clinic=read_toml(directory / CLINIC_FILE),
        session_types=read_toml(directory / SESSION_TYPES_FILE),
        protocols=read_toml(directory / PROTOCOLS_FILE),
    )


def build_catalog(raw: RawConfig, origin: str = "") -> Catalog:
    """Parse and check all three documents; ``origin`` prefixes the file names in errors."""
    prefix = f"{origin}/" if origin else ""
    settings = parse_clinic_settings(raw.clinic, f"{prefix}{CLINIC_FILE}")
    session_types = parse_session_types(raw.session_types, f"{prefix}{SESSION_TYPES_FILE}")
    protocols = parse_protocols(raw.protocols, f"{prefix}{PROTOCOLS_FILE}", session_types)
    # [fees] is its own feature's section (scheduling/fees.py), checked here so a mistake stops
    # the clinic opening (and a Settings save) with its key named, not the first cancellation.
    parse_fee_settings(raw.clinic.get("fees"), f"{prefix}{CLINIC_FILE}", session_types)
    # [chair] likewise (scheduling/chair_rules.py): a mistake is named when the clinic opens.
    parse_chair_settings(raw.clinic.get("chair"), f"{prefix}{CLINIC_FILE}")
    parse_dropout_settings(raw.clinic.get("dropout"), f"{prefix}{CLINIC_FILE}")
    parse_scale_settings(raw.clinic.get("scales"), f"{prefix}{CLINIC_FILE}")
    # [confirmations] too (scheduling/confirmations.py): Settings edits its numbers, and one the
    # parser refuses must be refused on save, not stop the day view and chair board reading it.
    parse_confirmation_settings(raw.clinic.get("confirmations"), f"{prefix}{CLINIC_FILE}")
    parse_protocol_rule_settings(raw.clinic.get("protocol_rules"), f"{prefix}{CLINIC_FILE}")
    parse_urgent_review_settings(raw.clinic.get("urgent_review"), f"{prefix}{CLINIC_FILE}")
    # So is [eligibility] (scheduling/gating.py): consent validity, ages, contraindications.
    parse_eligibility_settings(
        raw.clinic.get("eligibility"), f"{prefix}{CLINIC_FILE}", session_types
    )
    return Catalog(settings, session_types, protocols)


def load_default_catalog(directory: Path | None = None) -> Catalog:
    directory = directory or config_dir()
    return build_catalog(read_raw_config(directory), str(directory))


def load_measures(directory: Path | None = None) -> dict[str, InstrumentSpec]:
    """The outcome-measure instruments (PHQ-9, GAD-7, ...) from ``measures.toml``."""
    directory = directory or config_dir()
    path = directory / MEASURES_FILE
    return parse_measures(read_toml(path), str(path))
