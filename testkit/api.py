"""The API's conventions as tests and benchmarks meet them: JSON requests through Django's test
client and the one error shape every refusal has."""

import json


def post_json(client, url: str, body, **headers):
    """POST `body` as JSON through a Django test client (headers: e.g. Idempotency-Key=...)."""
    return client.post(url, json.dumps(body), content_type="application/json", headers=headers)


def assert_error_shape(response, status: int | None = None, code: str | None = None) -> dict:
    """The API's error body: {"code", "message", "errors": [{"field", "code", "message"}, ...]},
    served as JSON, with this HTTP status and code when given. Returns the body."""
    if status is not None:
        assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert set(body) >= {"code", "message", "errors"}, body
    assert isinstance(body["message"], str) and body["message"], body
    assert isinstance(body["errors"], list) and all(set(e) >= {"field", "code", "message"} for e in body["errors"]), body
    if code is not None:
        assert body["code"] == code, body
    return body
