#!/bin/sh
# Bring the schema up to date, load the built-in list (no new version if unchanged), then hand over to gunicorn.
set -e
screening init-db
screening load-list --actor docker
exec gunicorn -c python:screening.gunicorn_conf screening.wsgi:app
