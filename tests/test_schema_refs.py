"""No remote ``$ref``, anywhere: a listener on 127.0.0.1 serves a schema, catalog schemas point at it,
and nothing of this project connects to it (a plain jsonschema validator does, which shows it listens)."""

from __future__ import annotations

import json
import threading
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from jsonschema import Draft202012Validator

from graph_toucan.errors import SchemaError
from graph_toucan.mock.build import check_mock, mock_key
from graph_toucan.mock.errors import MockArgumentsError, MockError
from graph_toucan.mock.runtime import MockRuntime
from graph_toucan.mock.sandbox import SandboxPool
from graph_toucan.records import MockTool, Tool
from graph_toucan.schema import check_schema, normalise_schema, schema_problem, schema_validator

CITY = {"type": "string", "minLength": 100}


class _Listener(ThreadingHTTPServer):
    daemon_threads = True
    requests: list[str]


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.server.requests.append(f"GET {self.path} UA={self.headers.get('User-Agent')}")  # type: ignore[attr-defined]
        body = json.dumps(CITY).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def listener() -> Iterator[_Listener]:
    server = _Listener(("127.0.0.1", 0), _Handler)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _schema(listener: _Listener) -> dict:
    url = f"http://127.0.0.1:{listener.server_address[1]}/schemas/city.json"
    return {"type": "object", "properties": {"city": {"$ref": url}}, "required": ["city"]}


def test_the_listener_is_reached_by_a_plain_validator_so_the_other_tests_mean_something(listener):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # jsonschema warns that it fetches
        errors = list(Draft202012Validator(_schema(listener)).iter_errors({"city": "Paris"}))
    assert errors and listener.requests, "jsonschema's default registry no longer fetches remote $ref"


def test_the_validator_factory_never_fetches_and_says_why_it_cannot_check(listener):
    schema = _schema(listener)
    problem = schema_problem(schema_validator(schema), {"city": "Paris"})
    assert problem is not None and "remote $ref is never fetched" in problem and "127.0.0.1" in problem
    assert schema_problem(schema_validator({"type": "object"}), {"a": 1}) is None
    local = {"$defs": {"c": CITY}, "type": "object", "properties": {"city": {"$ref": "#/$defs/c"}}}
    assert "too short" in schema_problem(schema_validator(local), {"city": "Paris"})
    assert listener.requests == []


def test_import_checks_of_schemas_never_fetch(listener):
    schema = _schema(listener)
    normalise_schema(schema)
    check_schema(schema)
    url = f"http://127.0.0.1:{listener.server_address[1]}/meta.json"
    with pytest.raises(SchemaError):
        check_schema({"$schema": url, "$ref": url, "type": "object", "properties": {"a": {"type": 3}}})
    assert listener.requests == []


async def test_mock_call_and_mock_build_never_fetch(listener):
    tool = Tool(
        server_id="s",
        server_name="Weather",
        name="city_weather",
        input_schema=_schema(listener),
        output_schema={
            "type": "object",
            "properties": {"t": {"$ref": f"http://127.0.0.1:{listener.server_address[1]}/t.json"}},
        },
        tool_class="computation",
        source="test",
    )
    code = "def main(**a):\n    if 'city' not in a:\n        raise ValueError('city is required')\n    return {'t': 1}"
    async with SandboxPool(workers=1) as pool:
        runtime = MockRuntime(pool)
        runtime.add([MockTool(tool=tool, key=mock_key(tool), status="accepted", code=code, teacher="t")])
        with pytest.raises(MockArgumentsError, match="remote"):
            await runtime.call("city_weather", {"city": "Paris"})
        with pytest.raises(MockError, match="remote"):
            await runtime.call("city_weather", {"city": "Paris"}, validate_arguments=False)
        with pytest.raises(MockError, match="remote"):
            await check_mock(code, tool, pool)
    assert listener.requests == []
