"""WSGI entry point for the server (granian, or gunicorn): Django, with the variant fast path in front of it."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "server.settings")

django_application = get_wsgi_application()

from server.bodies import ChunkedBodies  # noqa: E402 - needs Django set up first
from transforms.fastpath import VariantFastPath  # noqa: E402

application = VariantFastPath(ChunkedBodies(django_application))
