"""People: importing them from the CSV an admin exports from Excel, and finding them again."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..errors import DataError, NotFound
from ..store.models import Collaboration, Department, Locale, Person
from .history import Origin, record

# Header names accepted for each column; Chinese headers are what an admin types in Excel.
COLUMNS = {
    "name": ("name", "姓名"),
    "email": ("email", "邮箱", "邮件", "e-mail"),
    "department": ("department", "部门"),
    "locale": ("locale", "语言"),
    "head": ("head", "部门负责人"),
    "leader": ("leader", "上级", "领导"),
}
REQUIRED = ("name", "email", "department")
LOCALE_ALIASES = {
    "": Locale.ZH_CN,
    "zh": Locale.ZH_CN,
    "zh-cn": Locale.ZH_CN,
    "zh_cn": Locale.ZH_CN,
    "zh-hans": Locale.ZH_CN,
    "中文": Locale.ZH_CN,
    "en": Locale.EN,
    "en-us": Locale.EN,
    "en_us": Locale.EN,
    "en-gb": Locale.EN,
    "english": Locale.EN,
    "英文": Locale.EN,
}


def normalize_email(value: str) -> str:
    return value.strip().lower()


def looks_like_email(value: str) -> bool:
    local, at, domain = value.partition("@")
    return bool(local and at and "." in domain and " " not in value and "@" not in domain)


@dataclass
class PersonRow:
    line: int
    name: str
    email: str
    department: str
    locale: Locale
    head: str
    leader: str


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def read_people_csv(path: Path) -> tuple[list[PersonRow], list[str]]:
    """Parse and check every row; raise DataError listing every bad line, or return rows."""
    data = path.read_bytes()
    warnings: list[str] = []
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Chinese Excel's plain "CSV" is GBK; accept it rather than reject the admin's file.
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            raise DataError(f"{path}: not UTF-8 text; save it from Excel as 'CSV UTF-8'") from None
        warnings.append(f"{path}: read as GB18030 (Excel 'CSV'); 'CSV UTF-8' is preferred")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        raise DataError(f"{path}: the file is empty")
    positions = _header_positions(path, header)
    rows: list[PersonRow] = []
    problems: list[str] = []
    for cells in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        value = {col: (cells[i].strip() if i < len(cells) else "") for col, i in positions.items()}
        problems.extend(f"{path}:{line}: {p}" for p in _row_problems(value))
        rows.append(
            PersonRow(
                line=line,
                name=value["name"],
                email=normalize_email(value["email"]),
                department=value["department"],
                locale=LOCALE_ALIASES.get(value.get("locale", "").lower(), Locale.ZH_CN),
                head=normalize_email(value.get("head", "")),
                leader=normalize_email(value.get("leader", "")),
            )
        )
    seen: dict[str, int] = {}
    for row in rows:
        if row.email in seen:
            problems.append(
                f"{path}:{row.line}: email {row.email} already on line {seen[row.email]}"
            )
        seen.setdefault(row.email, row.line)
    if problems:
        raise DataError("\n".join([*problems, "nothing was imported"]))
    return rows, warnings


def _header_positions(path: Path, header: list[str]) -> dict[str, int]:
    positions: dict[str, int] = {}
    for index, title in enumerate(header):
        for column, names in COLUMNS.items():
            if title.strip().lower() in names:
                positions[column] = index
    missing = [c for c in REQUIRED if c not in positions]
    if missing:
        raise DataError(
            f"{path}:1: missing column(s) {', '.join(missing)}; the header must name "
            f"name,email,department[,locale,head,leader] (found: {','.join(header)})"
        )
    return positions


def _row_problems(value: dict[str, str]) -> list[str]:
    problems = []
    if not value["name"]:
        problems.append("name is empty")
    if not looks_like_email(value["email"]):
        problems.append(f"email {value['email']!r} is not a mail address")
    if not value["department"]:
        problems.append("department is empty")
    locale = value.get("locale", "")
    if locale.lower() not in LOCALE_ALIASES:
        problems.append(f"locale {locale!r} is not zh-CN or en")
    for column in ("head", "leader"):
        if value.get(column) and not looks_like_email(value[column]):
            problems.append(f"{column} {value[column]!r} is not a mail address")
    return problems


def import_people(session: Session, path: Path, origin: Origin, now: datetime) -> ImportReport:
    """All rows or none: every check runs before the first write, and one transaction holds it."""
    rows, warnings = read_people_csv(path)
    report = ImportReport(warnings=warnings)
    known = {p.email: p for p in session.scalars(select(Person))}
    in_file = {row.email for row in rows}
    missing = [
        f"{path}:{row.line}: {column} {ref} is neither in this file nor already imported"
        for row in rows
        for column, ref in (("head", row.head), ("leader", row.leader))
        if ref and ref not in in_file and ref not in known
    ]
    if missing:
        raise DataError("\n".join([*missing, "nothing was imported"]))

    departments = {d.name: d for d in session.scalars(select(Department))}
    for row in rows:
        department = departments.get(row.department)
        if department is None:
            department = departments[row.department] = Department(name=row.department)
            session.add(department)
            session.flush()
            record(
                session,
                origin,
                now,
                entity="department",
                entity_id=department.id,
                action="created",
                new=row.department,
            )
        person = known.get(row.email)
        if person is None:
            person = known[row.email] = Person(
                name=row.name,
                email=row.email,
                department=department,
                locale=row.locale,
                created_at=now,
                updated_at=now,
            )
            session.add(person)
            session.flush()
            record(
                session,
                origin,
                now,
                entity="person",
                entity_id=person.id,
                action="created",
                new=f"{row.name} <{row.email}>",
            )
            report.created.append(row.email)
            continue
        if _update(
            session, origin, now, person, name=row.name, department=department, locale=row.locale
        ):
            report.updated.append(row.email)

    session.flush()
    for row in rows:  # second pass: heads and leaders may appear later in the file
        person = known[row.email]
        if (
            _update(
                session, origin, now, person, head=known.get(row.head), leader=known.get(row.leader)
            )
            and row.email not in report.created + report.updated
        ):
            report.updated.append(row.email)
    report.unchanged = [r.email for r in rows if r.email not in report.created + report.updated]
    return report


def _update(
    session: Session, origin: Origin, now: datetime, person: Person, **values: object
) -> bool:
    """Set the fields that differ, with one history row each; True if anything changed."""
    changed = False
    for name, new in values.items():
        old = getattr(person, name)
        if old == new:
            continue
        setattr(person, name, new)
        record(
            session,
            origin,
            now,
            entity="person",
            entity_id=person.id,
            action="changed",
            field=name,
            old=_readable(old),
            new=_readable(new),
        )
        person.updated_at, changed = now, True
    return changed


def _readable(value: object) -> object:
    if isinstance(value, Department):
        return value.name
    if isinstance(value, Person):
        return value.email
    return value


def find_person(session: Session, ref: str, collaboration: Collaboration | None = None) -> Person:
    """A person by email, by exact name, or by department (its contact in the collaboration)."""
    ref = ref.strip()
    if "@" in ref:
        person = session.scalar(select(Person).where(Person.email == normalize_email(ref)))
        if person is None:
            raise NotFound(f"nobody with the address {ref} (import people first)")
        return person
    named = list(session.scalars(select(Person).where(func.lower(Person.name) == ref.lower())))
    if len(named) == 1:
        return named[0]
    if len(named) > 1:
        raise DataError(
            f"{len(named)} people are named {ref!r}; use their mail address: "
            + ", ".join(p.email for p in named)
        )
    if collaboration is not None:
        for participant in collaboration.participants:
            if participant.department.name == ref:
                return participant.contact
    department = session.scalar(select(Department).where(Department.name == ref))
    if department is not None:
        raise DataError(
            f"{ref!r} is a department; it has no contact person in "
            f"{'this collaboration' if collaboration else 'any collaboration given'}; "
            "name a person instead"
        )
    raise NotFound(f"no person or department named {ref!r}")


def find_department(session: Session, name: str) -> Department:
    department = session.scalar(select(Department).where(Department.name == name.strip()))
    if department is None:
        known = ", ".join(session.scalars(select(Department.name).order_by(Department.name)))
        raise NotFound(f"no department named {name!r} (known: {known or 'none yet'})")
    return department
