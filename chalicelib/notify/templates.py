"""Email templates: a subject, a plain-text body and an HTML body per notification kind.

Every booking email names the course, the session's time in ISO 8601 (UTC) and the people
involved; values are HTML-escaped in the HTML body.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalicelib.models.messages import NotificationKind, Recipient

_HEADLINES: dict[NotificationKind, str] = {
    NotificationKind.booking_requested: "Your booking request was received",
    NotificationKind.booking_approved: "Your booking was approved",
    NotificationKind.booking_assigned: "A booking was assigned",
    NotificationKind.booking_completed: "Your session is complete",
    NotificationKind.booking_rejected: "A booking was rejected",
    NotificationKind.booking_cancelled: "A booking was cancelled",
    NotificationKind.booking_escalated: "A booking is waiting for an admin",
}


@dataclass(frozen=True)
class EmailContext:
    kind: NotificationKind
    entity: dict[str, Any]
    people: dict[str, Recipient]
    course_title: str | None
    actor: Recipient | None
    #: The link an account email carries (invitation, password reset).
    link: str | None = None


def iso_time(value: Any) -> str:
    """A stored time as the API shows it (ISO 8601, UTC, ``Z``)."""
    if not isinstance(value, str) or not value:
        return ""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return value
    return moment.isoformat().replace("+00:00", "Z")


def _name(people: dict[str, Recipient], user_id: Any) -> str | None:
    if not isinstance(user_id, str) or not user_id:
        return None
    person = people.get(user_id)
    return person.name if person else None


def _booking_facts(ctx: EmailContext) -> list[tuple[str, str]]:
    b = ctx.entity
    facts = [
        ("Course", ctx.course_title or str(b.get("course_id", ""))),
        ("Starts at", iso_time(b.get("starts_at"))),
        ("Duration", f"{b.get('duration_minutes', '')} minutes"),
        ("Student", _name(ctx.people, b.get("student_id")) or str(b.get("student_id", ""))),
    ]
    instructor = _name(ctx.people, b.get("instructor_id"))
    if instructor:
        facts.append(("Instructor", instructor))
    facts.append(("Status", str(b.get("status", ""))))
    if b.get("reason"):
        facts.append(("Reason", str(b["reason"])))
    if ctx.kind is NotificationKind.booking_escalated and b.get("escalated_at"):
        facts.append(("Escalated at", iso_time(b["escalated_at"])))
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
        ("Valid until", iso_time(ctx.entity.get("valid_until"))),
    ]
    lead = "You are invited to tutorbook. Open the link below to choose your password."
    return "You are invited to tutorbook", lead, facts


def _reset(ctx: EmailContext, to: Recipient) -> tuple[str, str, list[tuple[str, str]]]:
    facts = [
        ("Email", to.email),
        ("Choose a new password", ctx.link or ""),
        ("Valid until", iso_time(ctx.entity.get("valid_until"))),
    ]
    lead = (
        "Someone asked to reset your tutorbook password. If it was you, open the link below; "
        "if not, ignore this email: your password stays as it is."
    )
    return "Reset your tutorbook password", lead, facts


def _password_changed(ctx: EmailContext, to: Recipient) -> tuple[str, str, list[tuple[str, str]]]:
    facts = [
        ("Email", to.email),
        ("Changed at", iso_time(ctx.entity.get("pw_changed_at"))),
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
        course = ctx.course_title or str(ctx.entity.get("course_id", ""))
        subject = f"{headline}: {course} at {iso_time(ctx.entity.get('starts_at'))}"
        lead = f"{headline}."
        facts = _booking_facts(ctx)
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
