"""Validation of requests and responses against the vendors' OpenAPI specs in ../shared/specs."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import jsonschema
import pytest

SPECS = Path(__file__).resolve().parent.parent.parent / "shared" / "specs"


# Replicate's spec says `version` is oneOf [any string, "hidden"]: "hidden" matches both, so
# a strict oneOf rejects what the real API sends. For that spec, oneOf is read as anyOf.
ONE_OF_AS_ANY_OF = {"replicate-openapi.json"}


def _to_json_schema(node, loose_one_of: bool):
    """OpenAPI 3.0 `nullable: true` is JSON Schema's `type: [T, "null"]`."""
    if isinstance(node, dict):
        node = {("anyOf" if loose_one_of and k == "oneOf" else k): _to_json_schema(v, loose_one_of) for k, v in node.items()}
        if node.pop("nullable", False) and isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
        return node
    if isinstance(node, list):
        return [_to_json_schema(v, loose_one_of) for v in node]
    return node


@lru_cache(maxsize=4)
def load_spec(name: str) -> dict | None:
    path = SPECS / name
    if not path.exists():
        return None
    return _to_json_schema(json.loads(path.read_text()), name in ONE_OF_AS_ANY_OF)


def require(spec_name: str) -> dict:
    """The spec, or a visible skip: a fake that cannot check the vendor's spec must not pass silently."""
    spec = load_spec(spec_name)
    if spec is None:
        pytest.skip(f"{SPECS / spec_name} is missing (../shared is not beside this checkout): the fake cannot check the vendor's spec")
    return spec


def validate(spec_name: str, schema_name: str, instance) -> list[str]:
    """Problems with `instance` against `#/components/schemas/<schema_name>`; [] when it conforms."""
    spec = load_spec(spec_name)
    if spec is None:
        return [f"{spec_name} is missing, so nothing was checked"]
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": spec["components"]}
    validator = jsonschema.Draft7Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in validator.iter_errors(instance)]


def property_types(spec_name: str, schema_name: str) -> dict[str, str]:
    spec = load_spec(spec_name)
    if spec is None:
        return {}
    props = spec["components"]["schemas"][schema_name].get("properties", {})
    return {name: p.get("type", "object") for name, p in props.items()}
