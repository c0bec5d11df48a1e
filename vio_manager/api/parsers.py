from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser as DRFJSONParser


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


class JSONParser(DRFJSONParser):
    """DRF's, refusing NUL characters anywhere in the document: PostgreSQL stores no NUL in text
    or JSON, so such input would otherwise fail at the database instead of answering 400."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
            has_nul = _has_nul(data)
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply.") from None
        if has_nul:
            raise ParseError("JSON parse error - strings must not contain NUL (\\u0000) characters.")
        return data
