"""WSGI entry point for gunicorn: `gunicorn webui.wsgi:app`."""

from webui.app import create_app

app = create_app()
app.extensions["pmoflow"].start_sandbox()  # in the background: the first script needing one does not wait
