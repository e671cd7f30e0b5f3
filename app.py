"""tutorbook's Chalice app: registers the blueprints and the event functions. No logic here."""

from chalice import Chalice

from chalicelib.api import audit as audit_api
from chalicelib.api import auth, bookings, courses, meta, tenants, users
from chalicelib.api import calendar as calendar_api
from chalicelib.api import scheduling as scheduling_api
from chalicelib.events import audit as audit_events
from chalicelib.events import escalation as escalation_events
from chalicelib.events import expiry as expiry_events
from chalicelib.events import notifications as notification_events
from chalicelib.events import reminders as reminder_events

app = Chalice(app_name="tutorbook")

for module in (meta, tenants, auth, users, courses, bookings, audit_api):
    app.register_blueprint(module.api.blueprint)
app.register_blueprint(scheduling_api.api.blueprint)
app.register_blueprint(calendar_api.api.blueprint)

# Event functions: stream -> audit / notifications queue; queues -> SES / escalation.
for events in (audit_events, notification_events, escalation_events):
    app.register_blueprint(events.bp)
# Scheduled expiry: started waiting bookings -> expiry queue -> ``expired``.
app.register_blueprint(expiry_events.bp)
# Scheduled reminders: due sessions -> reminder queue -> marked reminded (-> stream -> emails).
app.register_blueprint(reminder_events.bp)
