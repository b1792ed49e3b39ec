"""Loaded by the Celery worker test_celery.py starts in its "client-side scripts" variant (this directory is on its
PYTHONPATH): see client_side_scripts.py beside test_celery.py."""

import client_side_scripts

client_side_scripts.install()
