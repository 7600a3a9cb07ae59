"""Schemathesis over /api/openapi.json: generated requests (valid and invalid) against every operation,
with a valid token holding every scope a platform can hold. No server error and no response that
contradicts the document (status codes, content types, bodies, headers, auth enforcement).

Driven through Hypothesis directly rather than schemathesis' pytest plugin, whose fixture support does
not run on pytest 9; the checks (`call_and_validate`) are the same.
"""
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from portal.oauth.scopes import SCOPES
from tests.oauth_helpers import register


@pytest.fixture
def platform_token(app, world):
    """A platform org with marketplaces, and a token with every scope a platform can hold."""
    org = world.org("Alibaba", kind="platform")
    for name in ("Taobao", "Tmall"):
        world.marketplace(org, name)
    client, secret = register(org, " ".join(s for s in SCOPES if s != "marks:write"))
    response = app.test_client().post("/oauth/token", data={"grant_type": "client_credentials"},
                                      auth=(client.client_id, secret))
    return response.json["access_token"]


def operations(app):
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_conforms_to_its_openapi_document(app, platform_token, mode):
    checked = []
    for operation in operations(app):
        if mode is GenerationMode.NEGATIVE and not operation.path_parameters and not operation.query:
            continue  # nothing to get wrong: Hypothesis would find no negative case to generate
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def exercise(case):
            case.call_and_validate(headers={"Authorization": f"Bearer {platform_token}"})

        exercise()
        checked.append(operation.label)
    expected = {"GET /api/v1/marketplaces", "GET /api/v1/marketplaces/{marketplace_id}"}
    if mode is GenerationMode.POSITIVE:
        expected.add("GET /api/v1/me")
    assert expected <= set(checked)
