"""tutorbook's Chalice app: registers the blueprints and the event functions. No logic here."""

from chalice import Chalice

from chalicelib.api import auth, courses, meta, tenants, users

app = Chalice(app_name="tutorbook")

for module in (meta, tenants, auth, users, courses):
    app.register_blueprint(module.api.blueprint)
