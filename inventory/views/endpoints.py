"""Pages for vCenter and NSX Manager connections: list, add, review the certificate, detail
(test connection, sync now), edit, delete. Thin: the services do the work."""

from dataclasses import dataclass

from django.contrib import messages
from django.db.models import ProtectedError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from inventory.clients.tls import allow_weak_pinned
from inventory.forms import AcceptCertificateForm, NsxManagerForm, VCenterForm
from inventory.models import NsxManager, VCenter
from inventory.services import endpoints, sync
from inventory.services.errors import CertificateNotReviewed, ServiceError
from vio_manager.access import audit
from vio_manager.access.pages import requires
from vio_manager.access.roles import ADMIN, OPERATOR, VIEWER


@dataclass(frozen=True)
class Kind:
    slug: str
    model: type
    form: type
    label: str
    plural: str


KINDS = {
    "vcenters": Kind("vcenters", VCenter, VCenterForm, "vCenter", "vCenters"),
    "nsx-managers": Kind("nsx-managers", NsxManager, NsxManagerForm, "NSX Manager", "NSX Managers"),
}


def _kind(slug: str) -> Kind:
    try:
        return KINDS[slug]
    except KeyError:
        raise Http404 from None


def _context(kind: Kind, **extra) -> dict:
    return {"kind": kind, **extra}


def endpoint_list(request, kind):
    kind = _kind(kind)
    objects = kind.model.objects.order_by("name")
    return render(request, "inventory/endpoint_list.html", _context(kind, objects=objects))


@require_http_methods(["GET", "POST"])
@requires(ADMIN)
def endpoint_add(request, kind):
    kind = _kind(kind)
    form = kind.form(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint = endpoints.register(kind.model, **form.changes())
        except ServiceError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            audit.record(request, f"{audit.noun(endpoint)}.create", endpoint,
                         {"host": endpoint.host, "port": endpoint.port, "username": endpoint.username})
            return redirect("endpoint-certificate", kind.slug, endpoint.pk)
    return render(request, "inventory/endpoint_form.html", _context(kind, form=form, adding=True))


@require_http_methods(["GET", "POST"])
@requires(ADMIN, read=VIEWER)
def endpoint_certificate(request, kind, pk):
    kind = _kind(kind)
    endpoint = get_object_or_404(kind.model, pk=pk)
    if request.method == "POST":
        if "refresh" in request.POST:
            if _try(request, endpoints.refresh_presented_certificate, endpoint):
                audit.record(request, f"{audit.noun(endpoint)}.refresh_certificate", endpoint,
                             {"presented": endpoint.presented_certificate.get("sha256")})
            return redirect("endpoint-certificate", kind.slug, endpoint.pk)
        form = AcceptCertificateForm(request.POST)
        if form.is_valid():
            try:
                endpoint = endpoints.accept_certificate(endpoint, form.cleaned_data["fingerprint"])
            except CertificateNotReviewed as exc:
                messages.error(request, exc.message)
                return redirect("endpoint-certificate", kind.slug, endpoint.pk)
            except ServiceError as exc:
                messages.error(request, exc.message)
                return redirect("endpoint-certificate", kind.slug, endpoint.pk)
            audit.record(request, f"{audit.noun(endpoint)}.accept_certificate", endpoint,
                         {"fingerprint": endpoint.certificate_sha256, "status": endpoint.status})
            if endpoint.status == "connected":
                sync.request_sync(endpoint)
                messages.success(request, f"Certificate accepted and {endpoint.name} connected; the inventory sync has started.")
            else:
                messages.error(request, f"Certificate accepted, but the connection failed: {endpoint.status_message}")
            return redirect("endpoint-detail", kind.slug, endpoint.pk)
    return render(request, "inventory/endpoint_certificate.html",
                  _context(kind, endpoint=endpoint, allow_weak=allow_weak_pinned()))


def _try(request, operation, *args) -> bool:
    try:
        operation(*args)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return False
    return True


def endpoint_detail(request, kind, pk):
    kind = _kind(kind)
    endpoint = get_object_or_404(kind.model, pk=pk)
    context = _context(kind, endpoint=endpoint, records=endpoint.sync_records.all()[:5])
    if isinstance(endpoint, VCenter):
        from inventory.services.summaries import inventory_counts

        context["counts"] = inventory_counts(endpoint)
        context["nsx_managers"] = endpoint.nsx_managers.order_by("name")
    else:
        from inventory.services.summaries import nsx_summary

        context.update(nsx_summary(endpoint))
    return render(request, "inventory/endpoint_detail.html", context)


@require_POST
@requires(OPERATOR)
def endpoint_test(request, kind, pk):
    kind = _kind(kind)
    endpoint = get_object_or_404(kind.model, pk=pk)
    if _try(request, endpoints.check_connection, endpoint):
        endpoint.refresh_from_db()
        audit.record(request, f"{audit.noun(endpoint)}.test_connection", endpoint, {"status": endpoint.status})
        if endpoint.status == "connected":
            messages.success(request, f"Connected to {endpoint.host}.")
        else:
            messages.error(request, endpoint.status_message)
    return redirect("endpoint-detail", kind.slug, pk)


@require_POST
@requires(OPERATOR)
def endpoint_sync(request, kind, pk):
    kind = _kind(kind)
    endpoint = get_object_or_404(kind.model, pk=pk)
    if not endpoint.is_pinned:
        messages.error(request, "Accept the certificate first.")
    elif sync.request_sync(endpoint):
        audit.record(request, f"{audit.noun(endpoint)}.sync", endpoint)
        messages.success(request, "Sync queued.")
    else:
        messages.info(request, f"A sync is already {endpoint.sync_state}.")
    return redirect("endpoint-detail", kind.slug, pk)


@require_http_methods(["GET", "POST"])
@requires(ADMIN)
def endpoint_edit(request, kind, pk):
    kind = _kind(kind)
    endpoint = get_object_or_404(kind.model, pk=pk)
    form = kind.form(request.POST or None, instance=kind.model.objects.get(pk=pk))
    if request.method == "POST" and form.is_valid():
        try:
            endpoint = endpoints.update(endpoint, **form.changes())
        except ServiceError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            audit.record(request, f"{audit.noun(endpoint)}.update", endpoint,
                         {"fields": sorted(name for name in form.changed_data if name != "password"),
                          "credentials_changed": bool(form.cleaned_data.get("password"))})
            if not endpoint.is_pinned:
                return redirect("endpoint-certificate", kind.slug, endpoint.pk)
            messages.success(request, "Saved.")
            return redirect("endpoint-detail", kind.slug, endpoint.pk)
    return render(request, "inventory/endpoint_form.html", _context(kind, form=form, endpoint=endpoint, adding=False))


@require_http_methods(["GET", "POST"])
@requires(ADMIN)
def endpoint_delete(request, kind, pk):
    kind = _kind(kind)
    endpoint = get_object_or_404(kind.model, pk=pk)
    if request.method == "POST":
        target = audit.Target.of(endpoint)
        try:
            endpoint.delete()
        except ProtectedError:
            messages.error(request, f"{endpoint.name} is used by an NSX Manager connection; delete that first.")
            return redirect("endpoint-detail", kind.slug, pk)
        audit.record(request, f"{target.type}.delete", target)
        messages.success(request, f"Deleted {endpoint.name}.")
        return redirect("endpoint-list", kind.slug)
    return render(request, "inventory/endpoint_confirm_delete.html", _context(kind, endpoint=endpoint))
