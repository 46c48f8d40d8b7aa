"""Property-based run of the dashboard's OpenAPI schema (schemathesis): no server error, no schema violation.

Bounded: eight examples per operation (every GET operation, downloads included), derandomised.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from leefbaar.web import create_app


@pytest.fixture(scope="module")
def app(store_file):
    return create_app(store_file, warm=False)


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture(scope="module")
def api_schema(app):
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_conforms_to_its_schema(case):
    case.call_and_validate()
