"""Backpack's own OpenAPI/AsyncAPI schemas (vendored in ``tests/sim/spec/``) as validators.

The specs are OpenAPI 3.0 / AsyncAPI 2.6; their schema objects are turned into JSON Schema
(draft 7) here. One reading is ours and is applied everywhere: a property the spec does not list
as required may also be ``null`` — the exchange serialises an absent ``Option`` as ``null`` (every
live capture in ``shared/backpack-api.md`` carries such nulls), and the spec has no ``nullable``.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft7Validator

SPEC_DIR = Path(__file__).parent / "spec"
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built: 10x faster
JSON_TYPES = ("application/json; charset=utf-8", "application/json")


@functools.cache
def openapi() -> dict[str, Any]:
    data: dict[str, Any] = yaml.load((SPEC_DIR / "backpack-openapi.yml").read_text(), Loader)
    return data


@functools.cache
def asyncapi() -> dict[str, Any]:
    data: dict[str, Any] = yaml.load((SPEC_DIR / "backpack-asyncapi.yml").read_text(), Loader)
    return data


def to_json_schema(node: Any) -> Any:
    """An OpenAPI schema object as JSON Schema, optional properties nullable."""
    if isinstance(node, list):
        return [to_json_schema(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {
        k: to_json_schema(v)
        for k, v in node.items()
        if k not in ("discriminator", "example", "examples", "format", "description")
    }
    props = out.get("properties")
    if isinstance(props, dict):
        required = set(node.get("required", []))
        out["properties"] = {
            name: schema if name in required else {"anyOf": [schema, {"type": "null"}]}
            for name, schema in props.items()
        }
    if (
        out.get("type") == "object"
        and ("anyOf" in out or "oneOf" in out)
        and "properties" not in out
    ):
        del out["type"]  # the variants say it
    return out


@functools.cache
def _openapi_components() -> dict[str, Any]:
    schemas = to_json_schema(openapi()["components"]["schemas"])
    return {"schemas": schemas}


@functools.cache
def response_validator(method: str, path: str, status: str = "200") -> Draft7Validator:
    """The validator of a REST operation's JSON response body."""
    op = openapi()["paths"][path][method.lower()]
    content = op["responses"][status]["content"]
    schema = next(content[t]["schema"] for t in JSON_TYPES if t in content)
    root = {"allOf": [to_json_schema(schema)], "components": _openapi_components()}
    return Draft7Validator(root)


def schema_validator(name: str) -> Draft7Validator:
    """The validator of one ``components/schemas`` entry of the OpenAPI spec."""
    root = {"$ref": f"#/components/schemas/{name}", "components": _openapi_components()}
    return Draft7Validator({"allOf": [{"$ref": root["$ref"]}], "components": root["components"]})


@functools.cache
def _channels() -> list[tuple[re.Pattern[str], str]]:
    out = []
    for name, channel in asyncapi()["channels"].items():
        if "subscribe" not in channel:
            continue
        ref = channel["subscribe"]["message"]["$ref"].rsplit("/", 1)[1]
        pattern = re.sub(r"\\\{[a-z]+\\\}", "[A-Za-z0-9_.]+", re.escape(name))
        out.append((re.compile(pattern + "$"), ref))
    return out


def stream_validator(stream: str) -> Draft7Validator | None:
    """The validator of a WebSocket frame (envelope and payload) on ``stream``, if specified."""
    for pattern, message in _channels():
        if pattern.match(stream):
            return _message_validator(message)
    return None


@functools.cache
def _message_validator(message: str) -> Draft7Validator:
    spec = asyncapi()
    payload = spec["components"]["messages"][message]["payload"]
    root = {
        "allOf": [to_json_schema(payload)],
        "components": {"schemas": to_json_schema(spec["components"]["schemas"])},
    }
    return Draft7Validator(root)


def errors(validator: Draft7Validator, instance: Any) -> list[str]:
    """Readable validation errors (empty when valid)."""
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
        for e in validator.iter_errors(instance)
    ]
