"""Calling the WSGI application in-process from a test, as Django's own test client does."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.core.signals import request_finished, request_started
from django.db import close_old_connections


@contextmanager
def keep_test_connection() -> Iterator[None]:
    """The test's transaction must outlive each request: WSGIHandler would close the connection after it.

    SQLite's in-memory test database shrugs that off; PostgreSQL's test transaction is lost. Django's
    test client disconnects close_old_connections around each of its requests (and reconnects it
    after), so this is done per request too, not once per test.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
