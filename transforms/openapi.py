"""/image/<id>/ in the OpenAPI schema, its parameters read from the operation registry (a drf-spectacular hook)."""

from typing import Any

from .operations import REGISTRY
from .queries import spec_limits
from .signing import presets

_ERROR = {
    "type": "object",
    "required": ["error", "code"],
    "properties": dict(  # keyword arguments: a "code" key here is a schema, not a code the service emits
        error={"type": "string", "description": "A sentence that says what is wrong and how to fix it."},
        code={"type": "string", "description": "A stable code (README: the table of codes)."},
        param={"type": "string", "description": "The parameter at fault, when there is one."},
    ),
}
_REFUSALS = {
    "400": "A parameter is unknown, repeated, empty or malformed, or the variant is over its output budget.",
    "403": "A signature is needed, or the one given does not match (README: Signed URLs).",
    "404": "No original has this id.",
    "422": "The original cannot be rendered in this format or within the render's memory.",
    "429": "Too many renders (cache misses) from this client; see Retry-After.",
    "503": "Every render slot is busy, or the render ran past its time budget; see Retry-After.",
}
_HEADERS = {
    "ETag": "The variant's cache key; If-None-Match with it answers 304.",
    "Cache-Control": "public, max-age=31536000, immutable",
    "X-Cache": "hit-memory, hit-redis, hit-disk or miss",
    "Server-Timing": "The cache tier and, for a miss, the render's stages",
    "Vary": "Accept, when fmt=auto negotiated the format",
    "X-Animation": "kept or first-frame, for an animated original",
}


def variant_parameters() -> list[dict[str, Any]]:
    """The query parameters of /image/<id>/: every registered one, then preset and sig."""
    limits = spec_limits()
    documented = [
        {
            "name": name,
            "in": "query",
            "required": False,
            "description": param.doc or param.label,
            "schema": param.schema(limits),
        }
        for name, param in REGISTRY.params.items()
    ]
    documented.append(
        {
            "name": "preset",
            "in": "query",
            "required": False,
            "description": "A named variant (VARIANT_PRESETS); only fmt may be given beside it.",
            "schema": {"type": "string", "enum": sorted(presets())},
        }
    )
    documented.append(
        {
            "name": "sig",
            "in": "query",
            "required": False,
            "description": "HMAC-SHA256 of /image/<id>/?<canonical query>, base64url without padding.",
            "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{43}$"},
        }
    )
    return documented


def variant_paths(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """POSTPROCESSING_HOOKS entry: add GET /image/{id}/ to the schema drf-spectacular made of the API."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = _ERROR
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    responses: dict[str, Any] = {
        "200": {
            "description": "The variant, rendered on its first request and cached after.",
            "headers": {name: {"schema": {"type": "string"}, "description": text} for name, text in _HEADERS.items()},
            "content": {
                f"image/{fmt}": {"schema": {"type": "string", "format": "binary"}}
                for fmt in ("jpeg", "png", "webp", "avif", "gif")
            },
        },
        "304": {"description": "Not modified: the If-None-Match named this variant's ETag."},
    }
    responses.update({status: {"description": text, "content": error} for status, text in _REFUSALS.items()})
    result.setdefault("paths", {})["/image/{id}/"] = {
        "get": {
            "operationId": "variant",
            "summary": "A variant of an original",
            "description": "Rendered from the untouched original on first request, then served from the cache. "
            "Every spelling of one variant is one cache entry and one ETag (README: Variants).",
            "tags": ["variants"],
            "security": [{}],
            "parameters": [
                {
                    "name": "id",
                    "in": "path",
                    "required": True,
                    "description": "The original's id.",
                    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,16}$"},
                },
                *variant_parameters(),
            ],
            "responses": responses,
        }
    }
    info_responses: dict[str, Any] = {
        "200": {
            "description": "What the variant will be, from the recorded facts alone: nothing is decoded.",
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
        "304": {"description": "Not modified."},
    }
    info_responses.update(
        {status: {"description": text, "content": error} for status, text in _REFUSALS.items() if status < "429"}
    )  # nothing is rendered: no 429 or 503
    info_get = dict(result["paths"]["/image/{id}/"]["get"])
    info_get.update(
        operationId="variant_info",
        summary="What a variant of an original will be",
        description="The original's size and format, the variant's planned size and format, the crop rectangle "
        "and the focal point, signed and refused as /image/{id}/ is (thumbor's /meta, imgproxy's /info).",
        responses=info_responses,
    )
    result["paths"]["/image/{id}/info/"] = {"get": info_get}
    return result
