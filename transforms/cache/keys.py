"""A variant's identity: the one place its key (its disk name, its Redis key suffix, its ETag) is computed."""

import hashlib


def variant_key(*, pipeline_version: str, original_sha256: str, canonical_query: str, out_format: str) -> str:
    """The one identity of a variant: its disk name, its Redis key suffix and its ETag."""
    material = "\n".join((pipeline_version, original_sha256, canonical_query, out_format))
    return hashlib.sha256(material.encode()).hexdigest()
