"""schemathesis against the project's own OpenAPI schema, in process: no 5xx, responses match the schema."""

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
)

from tests.inprocess import keep_test_connection

pytestmark = pytest.mark.django_db


from django.core.wsgi import get_wsgi_application  # noqa: E402 - pytest-django has configured Django by now

# Loaded at collection: fetching the schema touches no database.
schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


@pytest.fixture(autouse=True)
def _keep_the_test_connection() -> Iterator[None]:
    with keep_test_connection():  # schemathesis calls the app directly, never through the test client
        yield


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
