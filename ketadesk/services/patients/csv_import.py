"""Registering many patients from a CSV file (a list exported from the previous system), all or
nothing.

Every row is checked with the same rules as the patient form (``validate_patient``): dates as
MM/DD/YYYY (the clinic's US format) or ISO.  Rows that would be the same person as an existing
chart (same name, date of birth and phone) or as another row of the file are problems; a row
that only shares a phone or e-mail with a chart is a warning (families share a phone).  One
problem anywhere and nothing is written; a dry run only reports.  Chart numbers come as
registration gives them, and each new chart is recorded in the audit trail.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ketadesk.services.access import audit
from ketadesk.services.access.permissions import require
from ketadesk.services.common.context import (
    Actor,
    Database,
    InvalidRequest,
    utcnow,
)
from ketadesk.services.patients.duplicates import DuplicateKeys, duplicates_in
from ketadesk.services.patients.patient_fields import (
    CLINICAL_FIELDS,
    CONTACT_FIELDS,
    FIELD_LABELS,
    PatientForm,
    validate_patient,
)
from ketadesk.services.patients.registration import (
    chart_number_after,
    clinic_today,
    defaults,
    jsonable,
    next_chart_number,
    values_of,
)
from ketadesk.store import changes
from ketadesk.store.models import Patient

# Chart numbers taken by another workstation during the import: number again this many times.
_CHART_ATTEMPTS = 5

#: The fields a column may fill.
IMPORT_FIELDS = CONTACT_FIELDS + CLINICAL_FIELDS

# Header names other systems use, folded (lower case, letters and digits only) -> field.
_HEADER_ALIASES: Mapping[str, str] = {
    "first": "first_name",
    "firstname": "first_name",
    "givenname": "first_name",
    "forename": "first_name",
    "last": "last_name",
    "lastname": "last_name",
    "surname": "last_name",
    "familyname": "last_name",
    "preferred": "preferred_name",
    "nickname": "preferred_name",
    "dob": "date_of_birth",
    "birthdate": "date_of_birth",
    "dateofbirth": "date_of_birth",
    "birthday": "date_of_birth",
    "birth": "date_of_birth",
    "born": "date_of_birth",
    "phone": "phone",
    "phonenumber": "phone",
    "telephone": "phone",
    "cell": "phone",
    "mobile": "phone",
    "cellphone": "phone",
    "email": "email",
    "emailaddress": "email",
    "mail": "email",
    "address": "address",
    "streetaddress": "address",
    "emergencycontact": "emergency_contact_name",
    "emergencyphone": "emergency_contact_phone",
    "driver": "driver_name",
    "escort": "driver_name",
    "notes": "notes",
    "comments": "notes",
    "selfpay": "self_pay",
    "paymenttype": "self_pay",
}


@dataclass(frozen=True, slots=True)
class RowProblem:
    """What is wrong with one row: ``line`` is the file's line number (the header is line 1),
    ``field`` the field (empty for the whole row)."""

    line: int
    field: str
    message: str
    blocking: bool = True

    def __str__(self) -> str:
        where = f"line {self.line}"
        if self.field:
            where += f", {FIELD_LABELS.get(self.field, self.field)}"
        return f"{where}: {self.message}" + ("" if self.blocking else " (warning)")


@dataclass(frozen=True, slots=True)
class ImportReport:
    """The outcome of checking (and, unless a dry run or refused, importing) a file."""

    rows: int
    problems: tuple[RowProblem, ...]
    imported: tuple[str, ...]  # chart numbers given, in file order (empty: nothing written)
    dry_run: bool

    @property
    def blocking(self) -> tuple[RowProblem, ...]:
        return tuple(p for p in self.problems if p.blocking)


@dataclass(frozen=True, slots=True)
class CsvTable:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def _fold(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.casefold())


def auto_mapping(headers: Sequence[str]) -> dict[str, str]:
    """Column -> field for the headers that name a field (its label, its name or a common
    alias); each field taken by its first column only."""
    by_fold = {_fold(name): name for name in IMPORT_FIELDS}
    by_fold.update({_fold(label): name for name, label in FIELD_LABELS.items()})
    by_fold.update(_HEADER_ALIASES)
    mapping: dict[str, str] = {}
    for header in headers:
        field = by_fold.get(_fold(header))
        if field and field not in mapping.values():
            mapping[header] = field
    return mapping


def read_csv(data: bytes, *, source: str = "the file") -> CsvTable:
    """A CSV file's header and rows; InvalidRequest in words for a file that is not one."""
    # Spreadsheets save "Unicode text" as UTF-16 with a byte-order mark.
    encoding = "utf-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise InvalidRequest(
            f"{source} is not UTF-8 text (line {line} has the byte 0x{data[err.start]:02x}): "
            "save it as CSV UTF-8 and try again"
        ) from None
    if "\x00" in text:
        raise InvalidRequest(f"{source} holds NUL characters: it is not a CSV text file")
    if not text.strip():
        raise InvalidRequest(f"{source} is empty")
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            text[:4096], delimiters=",;\t"
        )
    except csv.Error:
        dialect = csv.excel
    try:
        table = [
            row for row in csv.reader(io.StringIO(text), dialect) if any(c.strip() for c in row)
        ]
    except csv.Error as err:
        raise InvalidRequest(f"{source} is not a readable CSV file: {err}") from None
    headers = tuple(h.strip() for h in table[0])
    if len(set(headers)) != len(headers):
        raise InvalidRequest(f"{source}: two columns have the same header")
    return CsvTable(headers, tuple(tuple(row) for row in table[1:]))


def _forms(
    table: CsvTable, mapping: Mapping[str, str]
) -> tuple[list[tuple[int, PatientForm]], list[RowProblem]]:
    problems: list[RowProblem] = []
    for column, field in mapping.items():
        if column not in table.headers:
            raise InvalidRequest(
                f"no column {column!r} in the file (it has: {', '.join(table.headers)})"
            )
        if field not in IMPORT_FIELDS:
            raise InvalidRequest(
                f"{field!r} is not a patient field (one of: {', '.join(IMPORT_FIELDS)})"
            )
    fields = list(mapping.values())
    for field in set(fields):
        if fields.count(field) > 1:
            raise InvalidRequest(f"two columns are mapped to {field}")
    for required in ("first_name", "last_name"):
        if required not in fields:
            raise InvalidRequest(f"no column is mapped to {required} ({FIELD_LABELS[required]})")
    index = {column: table.headers.index(column) for column in mapping}
    forms: list[tuple[int, PatientForm]] = []
    for number, row in enumerate(table.rows, start=2):
        if len(row) > len(table.headers):
            problems.append(
                RowProblem(number, "", f"{len(row)} values for {len(table.headers)} columns")
            )
        values = {
            field: (row[index[column]].strip() if index[column] < len(row) else "")
            for column, field in mapping.items()
        }
        forms.append((number, dataclasses.replace(PatientForm(), **values)))
    return forms, problems


class _Refused(Exception):
    def __init__(self, report: ImportReport) -> None:
        super().__init__("import refused")
        self.report = report


def _sorted(problems: list[RowProblem]) -> tuple[RowProblem, ...]:
    return tuple(sorted(problems, key=lambda p: p.line))


def _row_problems(
    session: Session, forms: list[tuple[int, PatientForm]], today: dt.date
) -> list[RowProblem]:
    problems: list[RowProblem] = []
    seen: dict[tuple[str, dt.date | None, str], int] = {}
    for line, form in forms:
        for field, message in validate_patient(form, today=today).items():
            problems.append(RowProblem(line, field, message))
        keys = DuplicateKeys.of(form)
        for dup in duplicates_in(session, keys):
            problems.append(
                RowProblem(
                    line,
                    "",
                    f"{'already registered as' if dup.exact else 'may be the same as'} chart "
                    f"{dup.chart_number} ({dup.name}: {', '.join(dup.reasons)})",
                    blocking=dup.exact,
                )
            )
        if keys.name and keys.date_of_birth is not None:
            person = (keys.name, keys.date_of_birth, keys.phone)
            if person in seen:
                problems.append(RowProblem(line, "", f"the same patient as line {seen[person]}"))
            seen.setdefault(person, line)
    return problems


def _register(
    session: Session,
    actor: Actor,
    forms: list[tuple[int, PatientForm]],
    source: str,
    now: dt.datetime,
) -> tuple[str, ...]:
    empty = defaults()
    chart = next_chart_number(session)
    charts: list[str] = []
    for _line, form in forms:
        values = values_of(form)
        patient = Patient(chart_number=chart, created_at=now, **values)
        session.add(patient)
        session.flush()
        after = {n: jsonable(v) for n, v in values.items() if v != empty[n]}
        after["chart_number"] = chart
        audit.record(
            session,
            actor,
            "register_patient",
            "patient",
            patient.id,
            patient_id=patient.id,
            after=after,
            detail=f"imported from {source or 'a CSV file'}",
            now=now,
        )
        charts.append(chart)
        chart = chart_number_after(chart)
    return tuple(charts)


def import_patients(
    db: Database,
    actor: Actor,
    table: CsvTable,
    mapping: Mapping[str, str],
    *,
    dry_run: bool = False,
    source: str = "",
    now: dt.datetime | None = None,
) -> ImportReport:
    """Check every row and, unless ``dry_run`` or any row has a problem, register them all in
    one transaction.  The report lists every row's problems either way."""
    require(actor, "register_patient", db, now=now)
    now = now or utcnow()
    forms, problems = _forms(table, mapping)
    if any(field in CLINICAL_FIELDS for field in mapping.values()):
        require(actor, "edit_patient_clinical", db, now=now)
    if dry_run:
        with db.read() as session:
            problems += _row_problems(session, forms, clinic_today(session, now))
        return ImportReport(len(forms), _sorted(problems), (), dry_run)
    for attempt in range(_CHART_ATTEMPTS):
        found = list(problems)
        try:
            with db.write() as session:
                found += _row_problems(session, forms, clinic_today(session, now))
                if any(p.blocking for p in found) or not forms:
                    raise _Refused(ImportReport(len(forms), _sorted(found), (), dry_run))
                charts = _register(session, actor, forms, source, now)
                changes.bump(session, now)
                return ImportReport(len(forms), _sorted(found), charts, dry_run)
        except _Refused as refused:  # the transaction is rolled back: nothing written
            return refused.report
        except IntegrityError:
            # Another workstation took one of these chart numbers a moment ago: number again.
            if attempt == _CHART_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


__all__ = ["CsvTable", "ImportReport", "RowProblem", "auto_mapping", "import_patients", "read_csv"]
