"""Shared schema pieces: strict base model, error envelope, pages, common field types."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
)
from pydantic_core import PydanticCustomError

T = TypeVar("T")


class StrictModel(BaseModel):
    """Request bodies: unknown fields are rejected (422)."""

    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    """Response bodies."""

    model_config = ConfigDict(extra="ignore")


Id = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
#: No whitespace, ``#`` or control characters (C0, DEL, C1) anywhere: an email is part of a key.
_EMAIL_CHAR = r"[^@\s#\x00-\x1f\x7f-\x9f]"
_EMAIL_PATTERN = rf"^{_EMAIL_CHAR}{{1,64}}@{_EMAIL_CHAR}+\.{_EMAIL_CHAR}+$"
_EMAIL = re.compile(_EMAIL_PATTERN)
#: Unicode categories no email address may hold: controls, format characters (zero-width
#: joiners, direction marks), surrogates, private use, unassigned, and separators.
_NOT_IN_EMAILS = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})


def normalize_email(value: str) -> str:
    """The one spelling of an address: Unicode NFKC of its case-folded NFKC form, so
    look-alike spellings (full-width letters, ligatures, case) are one address. Checked after
    normalising, which may change its length and characters."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold())
    if len(folded) > 254 or not _EMAIL.fullmatch(folded):
        raise ValueError("is not a valid email address")
    if any(unicodedata.category(ch) in _NOT_IN_EMAILS for ch in folded):
        raise ValueError("may not contain control, format or space characters")
    return folded


Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=254, pattern=_EMAIL_PATTERN),
    AfterValidator(normalize_email),
]


#: Times a request may carry: from the year 2000 to the year 9000 (any other is a typo or an
#: attack: the far ends of the calendar overflow date arithmetic).
_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def _within_calendar(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise ValueError("is outside the supported range of dates") from exc
    if not _EARLIEST <= utc < _LATEST:
        raise ValueError("must be between the years 2000 and 9000")
    return utc


Timestamp = Annotated[AwareDatetime, AfterValidator(_within_calendar)]


def _not_bool_or_text(value: object) -> object:
    if isinstance(value, bool | str):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


#: Body numbers and flags take JSON's own types only: ``true`` is not 1, ``0`` is not false and
#: ``"5"`` is not 5 (what the document says; pydantic alone would convert them). Put ``JSON_INT``
#: after the field's constraints (``Annotated[int, Field(ge=1), JSON_INT]``), or pydantic
#: publishes them as ``ge``/``le`` instead of ``minimum``/``maximum``.
JSON_INT = BeforeValidator(_not_bool_or_text)
JsonBool = Annotated[bool, Strict()]
Password = Annotated[str, StringConstraints(min_length=12, max_length=128)]
Cursor = Annotated[str, StringConstraints(max_length=2048)]


class ErrorDetail(BaseModel):
    """One problem of a rejected request: which field (dotted path; ``null`` for the whole
    body), what is wrong, pydantic's error type, and where the field is when it is not in the
    body (``query``, ``header``)."""

    model_config = ConfigDict(populate_by_name=True)

    field: str | None = Field(examples=["admin.email"])
    problem: str = Field(examples=["String should have at least 12 characters"])
    type: str = Field(examples=["string_too_short"])
    in_: Literal["query", "header"] | None = Field(default=None, alias="in")


class ErrorBody(BaseModel):
    code: str = Field(examples=["validation_error"])
    message: str
    details: list[ErrorDetail] = Field(default_factory=list)


class ErrorEnvelope(BaseModel):
    """Every error answer: ``{"error": {"code", "message", "details"}}``."""

    error: ErrorBody


class Page(BaseModel, Generic[T]):
    """One page of a list: pass ``next_cursor`` back as ``cursor`` for the next; ``null`` when
    this is the last page."""

    items: list[T]
    next_cursor: str | None = None


class QueryModel(BaseModel):
    """Query strings: unknown parameters are ignored (frontends add cache busters)."""

    model_config = ConfigDict(extra="ignore")


class ListQuery(QueryModel):
    limit: int = Field(default=20, ge=1, le=100)
    cursor: Cursor | None = None
