"""The readable documentation page of the web service, built from its OpenAPI document.

Swagger UI would need a CDN (or scripts and inline styles that the CSP forbids): the page is
rendered on the server instead, from the same generated description, with the refusal codes
and their meaning in the reader's language.
"""

from .batches import REFUSALS


def _ref_name(schema: dict) -> str | None:
    ref = schema.get("$ref") or next(
        (s.get("$ref") for s in schema.get("anyOf", []) if "$ref" in s), None
    )
    return ref.rsplit("/", 1)[-1] if ref else None


def _type(schema: dict) -> str:
    if name := _ref_name(schema):
        return name
    if "anyOf" in schema:
        return " | ".join(_type(s) for s in schema["anyOf"])
    if schema.get("type") == "array":
        return f"[{_type(schema.get('items', {}))}]"
    if "enum" in schema:
        return " | ".join(str(v) for v in schema["enum"])
    if "const" in schema:
        return str(schema["const"])
    kind = schema.get("type", "")
    return f"{kind} ({schema['format']})" if "format" in schema else kind


def describe(openapi: dict) -> dict:
    components = openapi.get("components", {}).get("schemas", {})
    operations = []
    for path, methods in openapi.get("paths", {}).items():
        for method, op in methods.items():
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            operations.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "parameters": [
                        {
                            "name": p["name"],
                            "type": _type(p.get("schema", {})),
                            "required": p.get("required", False),
                            "description": p.get("description", "")
                            or p.get("schema", {}).get("description", ""),
                        }
                        for p in op.get("parameters", [])
                    ],
                    "body": _ref_name(body.get("schema", {})) if body else None,
                    "responses": [
                        {
                            "status": status,
                            "type": _ref_name(
                                answer.get("content", {})
                                .get("application/json", {})
                                .get("schema", {})
                            ),
                        }
                        for status, answer in op.get("responses", {}).items()
                    ],
                }
            )
    schemas = [
        {
            "name": name,
            "description": schema.get("description", ""),
            "fields": [
                {
                    "name": field,
                    "type": _type(spec),
                    "required": field in schema.get("required", []),
                    "description": spec.get("description", ""),
                }
                for field, spec in schema.get("properties", {}).items()
            ],
        }
        for name, schema in components.items()
    ]
    return {
        "title": openapi["info"]["title"],
        "version": openapi["info"]["version"],
        "description": openapi["info"].get("description", ""),
        "openapi_version": openapi.get("openapi", ""),
        "operations": operations,
        "schemas": schemas,
        "refusals": sorted(REFUSALS.items()),
    }
