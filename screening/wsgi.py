"""WSGI entry point for gunicorn: `gunicorn -c python:screening.gunicorn_conf screening.wsgi:app`."""

from . import create_app

app = create_app()
