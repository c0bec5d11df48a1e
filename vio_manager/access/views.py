"""Pages: your API tokens (/account/tokens/) and the audit log (/audit/, admins)."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from vio_manager.access import audit, tokens
from vio_manager.access.forms import AuditFilterForm, TokenForm
from vio_manager.access.models import AuditEvent
from vio_manager.access.pages import requires
from vio_manager.access.roles import ADMIN, VIEWER

AUDIT_PAGE_SIZE = 50


USED_NONCES = "access_token_form_nonces"


@require_http_methods(["GET", "POST"])
@requires(VIEWER)
def token_list(request):
    """List and create. A new token's value is on this one response and nowhere else (no redirect
    through the session, where it would rest in the database): the page says to copy it now."""
    form = TokenForm(request.POST or None)
    created = value = None
    if request.method == "POST" and form.is_valid():
        used = request.session.get(USED_NONCES, [])
        if form.cleaned_data["nonce"] in used:
            messages.info(request, "That token was created already, and its value shown then. "
                                   "If you did not copy it, revoke it and create another.")
        else:
            created, value = tokens.create_token(request.user, form.cleaned_data["name"], form.expires_at())
            audit.record(request, "token.create", created, {"name": created.name, "prefix": created.prefix})
            request.session[USED_NONCES] = (used + [form.cleaned_data["nonce"]])[-20:]
        form = TokenForm()
    response = render(request, "access/tokens.html", {
        "form": form, "tokens": request.user.api_tokens.order_by("-created_at"), "created": created, "value": value})
    if value:
        response["Cache-Control"] = "no-store"
    return response


@require_POST
@requires(VIEWER)
def token_revoke(request, pk):
    token = get_object_or_404(request.user.api_tokens, pk=pk)  # another user's token: 404
    if tokens.revoke(token):
        audit.record(request, "token.revoke", token, {"prefix": token.prefix})
        messages.success(request, f"Revoked the token {token.name} ({token.prefix}…).")
    return redirect("token-list")


@requires(ADMIN)
def audit_log(request):
    form = AuditFilterForm(request.GET)  # always bound: no filter is a valid filter
    events = audit.events(**form.filters()) if form.is_valid() else AuditEvent.objects.none()
    page = Paginator(events, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "access/audit_log.html", {"form": form, "page": page, "query": query.urlencode()})
