"""Output formats: which exist, which are lossy and at what default quality, and which one a variant gets."""

OUTPUT_FORMATS = ("jpeg", "png", "webp", "avif", "gif")
LOSSY_FORMATS = frozenset({"jpeg", "webp", "avif"})
AUTO_FORMATS = ("avif", "webp")  # what fmt=auto offers, most preferred first (the AUTO_FORMATS setting)
ALPHA_FORMATS = frozenset({"png", "webp", "avif", "gif"})  # what is transparent stays so (GIF: fully or not at all)
DEFAULT_QUALITY: dict[str, int] = {"jpeg": 82, "webp": 80, "avif": 60}
# Pillow's names of the formats browsers show, and the output format each is served as by default.
WEB_FORMATS = {"JPEG": "jpeg", "MPO": "jpeg", "PNG": "png", "WEBP": "webp", "GIF": "gif", "AVIF": "avif"}


def quality_for(fmt: str, q: int | None) -> int | None:
    """`q` as the canonical spec keeps it for `fmt`: none for lossless formats or the format's default."""
    if fmt not in LOSSY_FORMATS or q == DEFAULT_QUALITY[fmt]:
        return None
    return q


def default_format(original_format: str, has_alpha: bool) -> str:
    """The format a variant gets when `fmt` is not given: the original's if browsers show it, else JPEG or PNG."""
    web_format = WEB_FORMATS.get(original_format.upper())
    if web_format is not None:
        return web_format
    return "png" if has_alpha else "jpeg"
