"""Sanitise a client's filename for display; it is never used as a path."""

import unicodedata
from urllib.parse import unquote, urlsplit

MAX_FILENAME_LENGTH = 255


def display_filename(raw: str | None) -> str:
    """The last path segment, NFC, without control or bidi-override characters, at most 255 characters."""
    if not raw:
        return ""
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = unicodedata.normalize("NFC", name)
    # Cc: control characters (NUL, newlines); Cf: format characters (RTL override U+202E, zero-width joiners).
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn"))
    name = " ".join(name.split()).strip(" .")
    if len(name) > MAX_FILENAME_LENGTH:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            name = stem[: MAX_FILENAME_LENGTH - len(ext) - 1] + "." + ext
        else:
            name = name[:MAX_FILENAME_LENGTH]
    return name


def url_filename(url: str) -> str:
    """The last segment of a URL's path, percent-decoded, for display_filename: `…/fotos/caf%C3%A9.jpg` is
    `café.jpg`; empty for a path that ends in a slash."""
    try:
        segment = urlsplit(url).path.rsplit("/", 1)[-1]
    except ValueError:
        return ""
    return unquote(segment, errors="replace")
