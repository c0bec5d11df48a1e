"""Deployment health on the pages: the health card of the deployment page (status, findings, the
topology picture), served alone as a fragment the page fetches again every few seconds
(static/js/health.js); a repair confirmed on a page of its own that says what it will do; the health
badges of the list and of the overview. Thin: services.health judges, services.repairs repairs,
services.topology lays the picture out; this module words it for people."""

from urllib.parse import urlencode

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from deployments.models import Deployment
from deployments.services import health, repairs, topology
from vio_manager.access import audit
from vio_manager.access.pages import requires
from vio_manager.access.roles import OPERATOR

BADGE = {health.HEALTHY: "ok", health.DEGRADED: "warn", health.FAILED: "err", health.UNKNOWN: "neutral",
         health.NOT_DEPLOYED: "neutral"}
SEVERITY = {health.ERROR: ("err", "Problem"), health.WARNING: ("warn", "Warning")}
OBJECT_WORDS = {"VirtualMachine": "VM", "HostSystem": "Host", "Datastore": "Datastore",
                "ClusterComputeResource": "Compute cluster", "NovaService": "Nova service",
                "NeutronAgent": "Neutron agent", "Endpoint": "Endpoint"}


def badge(judged: health.Health) -> dict:
    """For deployments/_status_badge.html, with what it rests on as its tooltip."""
    if judged.findings:
        why = " ".join(f.message for f in judged.findings[:3]) + (" …" if len(judged.findings) > 3 else "")
    else:
        why = judged.reason or ("Everything its plan says runs as planned." if judged.status == health.HEALTHY else "")
    return {"cls": BADGE[judged.status], "label": judged.label, "status": judged.status, "title": why}


def _finding_row(deployment, finding: health.Finding) -> dict:
    cls, label = SEVERITY.get(finding.severity, ("neutral", finding.severity))
    objects = [f"{OBJECT_WORDS.get(o['type'], o['type'])} {o['name']}" + (f" ({o['moid']})" if o.get("moid") else "")
               for o in finding.objects]
    url = reverse("deployment-repair", args=[deployment.pk]) + "?" + urlencode({"finding": finding.id})
    return dict(finding.as_dict(), severity_cls=cls, severity_label=label, object_words=objects,
                repair_url=url if finding.repair else "")


def card_context(deployment) -> dict:
    """What templates/deployments/_health.html shows: health judged once, and the picture."""
    judged = health.evaluate(deployment)
    return {"health": judged, "health_badge": badge(judged),
            "findings": [_finding_row(deployment, f) for f in judged.findings],
            "topology": topology.for_deployment(deployment, judged.findings)}


@require_safe
@never_cache
def health_card(request, pk):
    deployment = get_object_or_404(Deployment.objects.select_related("vcenter").defer("secrets"), pk=pk)
    return render(request, "deployments/_health.html", {"deployment": deployment, **card_context(deployment)})


def repair_words(deployment, finding: health.Finding) -> list[str]:
    """What the repair of this finding will do, said before it is done, of the VM and rule the repair
    will act on (services.repairs.target)."""
    plan = health._plans([deployment]).get(deployment.pk)
    vm, rule = repairs.target(plan, finding)
    groups = plan.anti_affinity if plan else {}
    cluster = deployment.spec.get("management_cluster", "")
    name = vm.name if vm else "the VM"
    run = "A repair run does it, shown on the deployment page like any run: you can follow it and stop it."
    if finding.repair == "power_on":
        return [f"Power on {name} in vCenter, then wait until its guest answers again.", run]
    if finding.repair == "recreate_vm":
        where = f" on {vm.datastore}" if vm and vm.datastore else ""
        address = f", given its address {vm.management_ip}" if vm and vm.management_ip else ""
        group = f", put back in the anti-affinity rule {rule}" if rule else ""
        return [f"Make {name} again: clone it from the appliance template{where}{address}{group} and power it on.",
                "Then reconfigure the cloud: its configuration is rendered again and applied to every VM, and the "
                "cloud is checked. Its services may restart meanwhile.", run]
    if finding.repair == "restore_rule":
        members = ", ".join(groups.get(rule, []))
        return [f"Restore the anti-affinity rule {rule} on the cluster {cluster}: made again, or enabled again, so "
                f"that DRS keeps {members or 'its VMs'} on different hosts.", run]
    if finding.repair == "move_vm":
        apart = f" where no other VM of its group ({rule}) runs" if rule else ""
        return [f"Move {name}, running, to another host of the cluster {cluster}{apart}: a usable host (connected, "
                "not in maintenance mode), the one with the fewest VMs of this deployment.", run]
    return [finding.advice]


def _refusal(judged: health.Health, finding: health.Finding | None) -> str:
    """Why there is nothing to repair, in words (never the finding's id)."""
    if judged.status == health.UNKNOWN:
        return f"Health is unknown now, so nothing is repaired: {judged.reason}"
    if finding is None:
        return "That problem is no longer found: there is nothing to repair."
    return "" if finding.repair else f"This needs a person: {finding.advice}"


@require_http_methods(["GET", "POST"])
@requires(OPERATOR)
def repair(request, pk):
    """Repair one finding (GET: what it will do, to confirm; POST: start it)."""
    deployment = get_object_or_404(Deployment.objects.select_related("vcenter").defer("secrets"), pk=pk)
    finding_id = (request.GET if request.method == "GET" else request.POST).get("finding", "")[:300]
    judged = health.evaluate(deployment)
    finding = next((f for f in judged.findings if f.id == finding_id), None)
    refusal = _refusal(judged, finding)
    if refusal:  # gone by itself meanwhile, never there, or not for the engine
        messages.info(request, refusal)
        return redirect("deployment-detail", pk)
    if request.method == "GET":
        return render(request, "deployments/repair_confirm.html", {
            "deployment": deployment, "finding": _finding_row(deployment, finding),
            "what": repair_words(deployment, finding)})
    try:
        run = repairs.repair(deployment, finding.id, user=request.user)
    except repairs.RepairRefused as exc:
        messages.error(request, str(exc))
    else:
        audit.record(request, "deployment.repair", deployment, {"finding": finding.id, "run": run.number})
        messages.success(request, f"Repair started as run {run.number}. {finding.message} "
                                  f"{health.REPAIRS[finding.repair]}.")
    return redirect("deployment-detail", pk)


def overview() -> list[dict]:
    """Every vCenter with its deployments and their health, for the overview page (health judged
    in a few queries per vCenter, not per deployment)."""
    from deployments.views.summary import badge as status_badge
    from inventory.models import VCenter
    from inventory.services.live import liveness

    vcenters = list(VCenter.objects.order_by("name"))
    deployments = list(Deployment.objects.defer("secrets").order_by("name"))
    judged = health.evaluate_many(deployments)
    rows = {v.pk: {"vcenter": v, "live": liveness(v)["is_live"], "deployments": [], "counts": {}} for v in vcenters}
    for deployment in deployments:
        row = rows[deployment.vcenter_id]
        shown = badge(judged[deployment.pk])
        row["deployments"].append({"deployment": deployment, "status": status_badge(deployment.status), "health": shown})
        row["counts"][shown["label"]] = row["counts"].get(shown["label"], 0) + 1
    for row in rows.values():
        row["summary"] = ", ".join(f"{count} {label.lower()}" for label, count in row["counts"].items())
    return list(rows.values())
