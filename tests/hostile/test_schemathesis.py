"""schemathesis against the project's own OpenAPI schema, in process: no 5xx, responses match the schema."""

from collections.abc import Iterator

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
)

pytestmark = pytest.mark.django_db


from django.core.wsgi import get_wsgi_application  # noqa: E402 - pytest-django has configured Django by now

# Loaded at collection: fetching the schema touches no database.
schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


@pytest.fixture(autouse=True)
def _keep_the_test_connection() -> Iterator[None]:
    """As Django's test client does: the test's transaction must outlive each in-process request.

    Without this, WSGIHandler closes the connection at the end of every request; SQLite's in-memory test
    database ignores that, PostgreSQL does not.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms(case: schemathesis.Case) -> None:
    case.call_and_validate(
        checks=[
            schemathesis.checks.not_a_server_error,
            response_schema_conformance,
            content_type_conformance,
            negative_data_rejection,
        ]
    )
