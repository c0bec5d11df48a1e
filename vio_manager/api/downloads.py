"""File downloads: whatever a stored name holds, the Content-Disposition header is RFC 6266 (Django's own
content_disposition_header: a quoted filename for plain ASCII, filename*=utf-8''... otherwise), and
nothing in the name can end the header, add a parameter or fail to encode (a 500)."""

import unicodedata

from django.utils.http import content_disposition_header

# What no file name carries: controls (CR, LF, NUL ...), invisible format characters (bidirectional
# overrides that disguise an extension), lone surrogates (no UTF-8 for them), line/paragraph separators.
_DROPPED = {"Cc", "Cf", "Cs", "Zl", "Zp"}
MAX_NAME = 150


def safe_filename(name: str, suffix: str = "", fallback: str = "download") -> str:
    """`name` + `suffix` as a file name: the characters above and path separators dropped, runs of
    spaces made one, at most MAX_NAME characters of the name; `fallback` when nothing is left."""
    kept = "".join(" " if char in "/\\" else char for char in str(name)
                   if unicodedata.category(char) not in _DROPPED)
    kept = " ".join(kept.split()).strip(" .")[:MAX_NAME].strip(" .")
    return (kept or fallback) + suffix


def attachment(response, name: str, suffix: str = "", fallback: str = "download"):
    """Mark `response` as a download named after `name` (see safe_filename); returns it."""
    response["Content-Disposition"] = content_disposition_header(True, safe_filename(name, suffix, fallback))
    return response
