"""The 404 and 500 pages: styled like every other page, with the navigation, in words for people.
Under /api/ the API's JSON error shape answers instead (vio_manager.api.errors)."""

import logging
import re

from django.http import HttpResponseNotFound, HttpResponseServerError
from django.template import loader

from vio_manager.api import errors as api_errors

log = logging.getLogger(__name__)

# What get_object_or_404 says ("No Deployment matches the given query."): a model name, not a sentence for people.
_NO_MATCH = re.compile(r"^No (?P<model>[A-Za-z ]+) matches the given query\.$")
_NAMES = {"Deployment": "deployment", "DeploymentTemplate": "deployment template", "VCenter": "vCenter",
          "NsxManager": "NSX Manager", "ApiToken": "API token", "Run": "run"}


def _message(exception) -> str:
    """The reason to show: a view's own message (a sentence), or one made from what was looked for."""
    text = exception.args[0] if exception is not None and exception.args and isinstance(exception.args[0], str) else ""
    match = _NO_MATCH.match(text)
    if match:
        return f"There is no such {_NAMES.get(match['model'], match['model'].lower())}: it may have been deleted."
    if text and text[0].isupper() and text.endswith(".") and "Traceback" not in text:
        return text
    return ""


def page_not_found(request, exception):
    if request.path_info.startswith("/api/"):
        return api_errors.page_not_found(request, exception)
    body = loader.render_to_string("404.html", {"message": _message(exception), "request_path": request.path},
                                   request=request)
    return HttpResponseNotFound(body)


def server_error(request):
    if request.path_info.startswith("/api/"):
        return api_errors.server_error(request)
    try:  # with the request: the navigation for the signed-in user
        body = loader.render_to_string("500.html", request=request)
    except Exception:  # noqa: BLE001 - the database may be what failed: the page without the user
        log.exception("the 500 page could not be rendered with its request")
        body = loader.render_to_string("500.html")
    return HttpResponseServerError(body)
