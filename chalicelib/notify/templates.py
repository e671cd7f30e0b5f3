"""Email templates: a subject, a plain-text body and an HTML body per notification kind.

Every booking email names the course, the session's time and the people involved; values are
HTML-escaped in the HTML body. Every time is shown in the recipient's time zone (their own, else
the tenant's) with the zone's name: ``Tue 3 Mar 2026, 09:00 (Europe/Berlin)``.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chalicelib.models.messages import NotificationKind, Recipient

_HEADLINES: dict[NotificationKind, str] = {
    NotificationKind.booking_requested: "Your booking request was received",
    NotificationKind.booking_approved: "Your booking was approved",
    NotificationKind.booking_assigned: "A booking was assigned",
    NotificationKind.booking_completed: "Your session is complete",
    NotificationKind.booking_rejected: "A booking was rejected",
    NotificationKind.booking_cancelled: "A booking was cancelled",
    NotificationKind.booking_escalated: "A booking is waiting for an admin",
    NotificationKind.booking_rescheduled: "A booking was moved",
    NotificationKind.booking_expired: "Your booking request expired",
    NotificationKind.booking_reminder: "Reminder: your session is coming up",
}

#: Explains a kind in its email, after the headline.
_LEADS: dict[NotificationKind, str] = {
    NotificationKind.booking_expired: (
        "Its start passed before it was confirmed, so it will not take place. "
        "Request another time whenever you like."
    ),
    NotificationKind.booking_reminder: "Here are its details; see you there.",
}

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class EmailContext:
    kind: NotificationKind
    entity: dict[str, Any]
    people: dict[str, Recipient]
    course_title: str | None
    actor: Recipient | None
    #: The link an account email carries (invitation, password reset).
    link: str | None = None
    #: The tenant's time zone: a recipient without their own sees times in it.
    time_zone: str = "UTC"
    #: The entity before the change (a rescheduled booking's former time).
    previous: dict[str, Any] | None = None


def local_time(value: Any, zone: str) -> str:
    """A stored time as a person reads it: ``Tue 3 Mar 2026, 09:00 (Europe/Berlin)``.

    English names whatever the runtime's locale; an unknown zone falls back to UTC (named so).
    """
    if not isinstance(value, str) or not value:
        return ""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        zone, tz = "UTC", ZoneInfo("UTC")
    at = moment.astimezone(tz)
    day = f"{_WEEKDAYS[at.weekday()]} {at.day} {_MONTHS[at.month - 1]} {at.year}"
    return f"{day}, {at:%H:%M} ({zone})"


def _name(people: dict[str, Recipient], user_id: Any) -> str | None:
    if not isinstance(user_id, str) or not user_id:
        return None
    person = people.get(user_id)
    return person.name if person else None


def zone_of(ctx: EmailContext, to: Recipient) -> str:
    """The zone ``to`` reads times in: their own, else the tenant's."""
    return to.time_zone or ctx.time_zone


def _booking_facts(ctx: EmailContext, zone: str) -> list[tuple[str, str]]:
    b = ctx.entity
    facts = [
        ("Course", ctx.course_title or str(b.get("course_id", ""))),
        ("Starts at", local_time(b.get("starts_at"), zone)),
        ("Duration", f"{b.get('duration_minutes', '')} minutes"),
        ("Student", _name(ctx.people, b.get("student_id")) or str(b.get("student_id", ""))),
    ]
    instructor = _name(ctx.people, b.get("instructor_id"))
    if instructor:
        facts.append(("Instructor", instructor))
    facts.append(("Status", str(b.get("status", ""))))
    if b.get("reason"):
        facts.append(("Reason", str(b["reason"])))
    before = ctx.previous or {}
    if ctx.kind is NotificationKind.booking_rescheduled:
        facts.append(("Was at", local_time(before.get("starts_at"), zone)))
        if before.get("duration_minutes") != b.get("duration_minutes"):
            facts.append(("Was", f"{before.get('duration_minutes', '')} minutes"))
    if ctx.kind is NotificationKind.booking_escalated and b.get("escalated_at"):
        facts.append(("Escalated at", local_time(b["escalated_at"], zone)))
    if ctx.actor and ctx.kind is not NotificationKind.booking_escalated:
        facts.append(("By", ctx.actor.name))
    facts.append(("Booking", str(b.get("id", ""))))
    return facts


def _welcome(ctx: EmailContext, to: Recipient) -> tuple[str, str, list[tuple[str, str]]]:
    role = str(ctx.entity.get("role", ""))
    facts = [("Name", to.name), ("Email", to.email), ("Role", role)]
    if ctx.actor:
        facts.append(("Invited by", ctx.actor.name))
    return "Welcome to tutorbook", "An account was created for you.", facts


def _invited(ctx: EmailContext, to: Recipient) -> tuple[str, str, list[tuple[str, str]]]:
    facts = [("Name", to.name), ("Email", to.email)]
    if ctx.actor:
        facts.append(("Invited by", ctx.actor.name))
    facts += [
        ("Accept the invitation", ctx.link or ""),
        ("Valid until", local_time(ctx.entity.get("valid_until"), zone_of(ctx, to))),
    ]
    lead = "You are invited to tutorbook. Open the link below to choose your password."
    return "You are invited to tutorbook", lead, facts


def _reset(ctx: EmailContext, to: Recipient) -> tuple[str, str, list[tuple[str, str]]]:
    facts = [
        ("Email", to.email),
        ("Choose a new password", ctx.link or ""),
        ("Valid until", local_time(ctx.entity.get("valid_until"), zone_of(ctx, to))),
    ]
    lead = (
        "Someone asked to reset your tutorbook password. If it was you, open the link below; "
        "if not, ignore this email: your password stays as it is."
    )
    return "Reset your tutorbook password", lead, facts


def _password_changed(ctx: EmailContext, to: Recipient) -> tuple[str, str, list[tuple[str, str]]]:
    facts = [
        ("Email", to.email),
        ("Changed at", local_time(ctx.entity.get("pw_changed_at"), zone_of(ctx, to))),
    ]
    lead = (
        "Your tutorbook password was changed and your other logins were ended. If this was "
        "not you, ask for a password reset at once and tell your organisation's admin."
    )
    return "Your tutorbook password was changed", lead, facts


_ACCOUNT_EMAILS = {
    NotificationKind.user_welcome: _welcome,
    NotificationKind.user_invited: _invited,
    NotificationKind.password_reset_requested: _reset,
    NotificationKind.password_changed: _password_changed,
}


def render(ctx: EmailContext, to: Recipient) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of one email to ``to``."""
    account_email = _ACCOUNT_EMAILS.get(ctx.kind)
    if account_email is not None:
        subject, lead, facts = account_email(ctx, to)
    else:
        headline = _HEADLINES[ctx.kind]
        zone = zone_of(ctx, to)
        course = ctx.course_title or str(ctx.entity.get("course_id", ""))
        subject = f"{headline}: {course} at {local_time(ctx.entity.get('starts_at'), zone)}"
        lead = f"{headline}. {_LEADS[ctx.kind]}" if ctx.kind in _LEADS else f"{headline}."
        facts = _booking_facts(ctx, zone)
    text_lines = [f"Hello {to.name},", "", lead, ""]
    text_lines += [f"{label}: {value}" for label, value in facts]
    text_lines += ["", "-- tutorbook"]
    rows = "".join(
        f"<tr><th align='left'>{html.escape(label)}</th><td>{_cell(value)}</td></tr>"
        for label, value in facts
    )
    body_html = (
        "<!doctype html><html><body>"
        f"<p>Hello {html.escape(to.name)},</p>"
        f"<p>{html.escape(lead)}</p>"
        f"<table>{rows}</table>"
        "<p>&mdash; tutorbook</p></body></html>"
    )
    return subject, "\n".join(text_lines), body_html


def _cell(value: str) -> str:
    """A fact in the HTML body: escaped; a link is clickable."""
    escaped = html.escape(value)
    if value.startswith(("http://", "https://")):
        return f"<a href='{escaped}'>{escaped}</a>"
    return escaped
