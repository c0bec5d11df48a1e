"""A deployment's health: what its current revision's plan says should exist, against the live picture
of vCenter (inventory.services.live). Each finding names its objects, says what to do, and where the
engine can fix it, which repair does (deployments/services/repairs.py). Health is unknown whenever
the picture is not live: never "healthy" on stale data.

Everything is read in a few queries per vCenter, whatever the number of deployments: the VMs by the
deployment tag their extraConfig carries, the hosts, datastores and cluster rules of the vCenter.
On real hosts OpenStack's own view (services.cloud_view, asked by a periodic task) adds its findings
while it is fresh."""

from collections import defaultdict
from dataclasses import asdict, dataclass, field

from django.conf import settings

from deployments.choices import RunKind, RunStatus
from deployments.models import Deployment, Run
from deployments.plan import Plan

HEALTHY, DEGRADED, FAILED, UNKNOWN, NOT_DEPLOYED = "healthy", "degraded", "failed", "unknown", "not_deployed"
LABELS = {HEALTHY: "Healthy", DEGRADED: "Degraded", FAILED: "Failed", UNKNOWN: "Unknown", NOT_DEPLOYED: "Not deployed"}
ERROR, WARNING = "error", "warning"

# What the engine can do about a kind of finding (a repair run), and how people read it.
REPAIRS = {"power_on": "Power it on", "recreate_vm": "Make it again", "restore_rule": "Restore the rule",
           "move_vm": "Move it to another host"}


@dataclass
class Finding:
    id: str  # stable while the problem lasts: kind:object
    kind: str
    severity: str
    message: str  # what is wrong, for people
    advice: str  # what to do
    objects: list = field(default_factory=list)  # [{"type", "name", "moid"}]
    repair: str = ""  # a key of REPAIRS, or "" when a person must act

    def as_dict(self) -> dict:
        return dict(asdict(self), repair_label=REPAIRS.get(self.repair, ""))


@dataclass
class Health:
    status: str
    live: bool
    confirmed_at: object = None
    findings: list = field(default_factory=list)
    reason: str = ""  # why unknown / not deployed
    openstack: dict = field(default_factory=dict)  # OpenStack's own view, as services.cloud_view.current gives it

    @property
    def label(self) -> str:
        return LABELS[self.status]

    def as_dict(self) -> dict:
        return {"status": self.status, "label": self.label, "live": self.live, "confirmed_at": self.confirmed_at,
                "reason": self.reason, "findings": [f.as_dict() for f in self.findings],
                "openstack": {key: value for key, value in self.openstack.items() if key != "findings"}}


def _plans(deployments) -> dict[int, Plan]:
    """The plan each deployment's cloud runs now: that of its last run that succeeded in applying a revision."""
    found = {}
    runs = (Run.objects.filter(deployment__in=deployments, status=RunStatus.SUCCEEDED)
            .exclude(kind=RunKind.TEARDOWN).exclude(plan={}).order_by("deployment_id", "-number")
            .values_list("deployment_id", "plan"))
    for deployment_id, plan in runs:
        found.setdefault(deployment_id, Plan.from_dict(plan))
    return found


class Picture:
    """One vCenter's stored picture, as health reads it (read once for every deployment on it)."""

    def __init__(self, vcenter_id: int, deployment_ids: list[int]):
        from inventory.models import Cluster, Datastore, Host, VirtualMachine

        self.vms = defaultdict(list)
        rows = VirtualMachine.objects.filter(vcenter_id=vcenter_id, deployment_id__in=[str(d) for d in deployment_ids])
        for vm in rows.only("moid", "name", "host_moid", "power_state", "connection_state", "tools_running_status",
                            "ip_address", "ip_addresses", "deployment_id", "template"):
            if not vm.template:
                self.vms[vm.deployment_id].append(vm)
        self.hosts = {h.moid: h for h in Host.objects.filter(vcenter_id=vcenter_id).select_related("cluster")
                      .only("moid", "name", "connection_state", "power_state", "in_maintenance_mode", "cluster__name")}
        self.datastores = {d.name: d for d in Datastore.objects.filter(vcenter_id=vcenter_id)
                           .only("moid", "name", "accessible", "capacity_bytes", "free_bytes", "datacenter_id")}
        self.clusters = {c.name: c for c in Cluster.objects.filter(vcenter_id=vcenter_id).only("moid", "name", "rules")}


def evaluate_many(deployments) -> dict[int, Health]:
    """Health of every deployment given (a few queries per vCenter, not per deployment)."""
    from deployments.services import cloud_view
    from inventory.models import VCenter
    from inventory.services.live import liveness

    deployments = list(deployments)
    plans = _plans(deployments)
    result = {}
    by_vcenter = defaultdict(list)
    for deployment in deployments:
        by_vcenter[deployment.vcenter_id].append(deployment)
    for vcenter_id, group in by_vcenter.items():
        alive = liveness(VCenter.objects.get(pk=vcenter_id))
        picture = Picture(vcenter_id, [d.pk for d in group]) if alive["is_live"] else None
        for deployment in group:
            plan, openstack = plans.get(deployment.pk), cloud_view.current(deployment)
            if plan is None:
                result[deployment.pk] = Health(NOT_DEPLOYED, alive["is_live"], alive["confirmed_at"],
                                               reason="No run has built this cloud yet.", openstack=openstack)
                continue
            if picture is None:
                result[deployment.pk] = Health(
                    UNKNOWN, False, alive["confirmed_at"], openstack=openstack,
                    reason="The picture of vCenter is not live (its watcher is not running or vCenter does not "
                           "answer): health is not judged on stale data.")
            else:
                findings = _findings(deployment, plan, picture) + [Finding(**f) for f in openstack["findings"]]
                status = FAILED if any(f.severity == ERROR for f in findings) else DEGRADED if findings else HEALTHY
                result[deployment.pk] = Health(status, True, alive["confirmed_at"], findings, openstack=openstack)
    return result


def evaluate(deployment: Deployment) -> Health:
    return evaluate_many([deployment])[deployment.pk]


def _findings(deployment: Deployment, plan: Plan, picture: Picture) -> list[Finding]:
    spec = deployment.spec
    ours = {vm.name: vm for vm in picture.vms.get(str(deployment.pk), [])}
    planned = {vm.name: vm for vm in plan.vms}
    found: list[Finding] = []

    def obj(vm_name: str) -> dict:
        vm = ours.get(vm_name)
        return {"type": "VirtualMachine", "name": vm_name, "moid": vm.moid if vm else ""}

    for name, wanted in planned.items():
        vm = ours.get(name)
        if vm is None:
            found.append(Finding(f"vm_missing:{name}", "vm_missing", ERROR, f"{name} is not in vCenter.",
                                 "Make it again: it is cloned, customized and powered on, and the cloud reconfigured.",
                                 [obj(name)], "recreate_vm"))
            continue
        if vm.power_state != "poweredOn":
            found.append(Finding(f"vm_powered_off:{name}", "vm_powered_off", ERROR,
                                 f"{name} is {_words(vm.power_state) or 'not running'}.", "Power it on.", [obj(name)],
                                 "power_on"))
            continue
        host = picture.hosts.get(vm.host_moid)
        if host is not None and (host.connection_state != "connected" or host.in_maintenance_mode):
            state = "in maintenance mode" if host.in_maintenance_mode else _words(host.connection_state)
            found.append(Finding(f"host_trouble:{name}", "host_trouble",
                                 ERROR if host.connection_state != "connected" else WARNING,
                                 f"{name} runs on {host.name}, which is {state}.",
                                 "Move it to a healthy host of the management cluster.",
                                 [obj(name), {"type": "HostSystem", "name": host.name, "moid": host.moid}], "move_vm"))
        if vm.tools_running_status and vm.tools_running_status != "guestToolsRunning":
            found.append(Finding(f"tools_not_running:{name}", "tools_not_running", WARNING,
                                 f"VMware Tools do not run in {name}.",
                                 "Open its console in the vSphere Client and check the guest.", [obj(name)]))
        addresses = set(vm.ip_addresses or []) | ({vm.ip_address} if vm.ip_address else set())
        if wanted.management_ip and addresses and wanted.management_ip not in addresses:
            found.append(Finding(f"ip_mismatch:{name}", "ip_mismatch", WARNING,
                                 f"{name} reports {', '.join(sorted(addresses))}, not its planned {wanted.management_ip}.",
                                 "Check its network settings in the guest.", [obj(name)]))
        datastore = picture.datastores.get(wanted.datastore)
        if datastore is not None:
            found += _datastore_findings(name, datastore, obj)
    for name, vm in ours.items():
        if name not in planned:
            found.append(Finding(f"vm_unknown:{name}", "vm_unknown", WARNING,
                                 f"{name} carries this deployment's tag but is not in its plan.",
                                 "Delete it in the vSphere Client if nothing needs it.",
                                 [{"type": "VirtualMachine", "name": name, "moid": vm.moid}]))
    found += _rule_findings(spec, plan, ours, picture, obj)
    return found


def _datastore_findings(name, datastore, obj) -> list[Finding]:
    ref = {"type": "Datastore", "name": datastore.name, "moid": datastore.moid}
    if not datastore.accessible:
        return [Finding(f"datastore_trouble:{datastore.name}:{name}", "datastore_trouble", ERROR,
                        f"{datastore.name}, where {name} lives, is not accessible.",
                        "Check the datastore's storage and its hosts' connections.", [obj(name), ref])]
    if datastore.capacity_bytes and 100 * datastore.free_bytes / datastore.capacity_bytes < settings.VIO_HEALTH_DATASTORE_FREE_PERCENT:
        free = 100 * datastore.free_bytes / datastore.capacity_bytes
        return [Finding(f"datastore_full:{datastore.name}:{name}", "datastore_full", WARNING,
                        f"{datastore.name}, where {name} lives, has {free:.0f}% free.",
                        "Free space on it or move the VMs to another datastore.", [obj(name), ref])]
    return []


def _rule_findings(spec: dict, plan: Plan, ours: dict, picture: Picture, obj) -> list[Finding]:
    found = []
    cluster = picture.clusters.get(spec.get("management_cluster", ""))
    rules = {rule.get("name"): rule for rule in (cluster.rules if cluster else []) or []}
    for rule_name, members in plan.anti_affinity.items():
        rule = rules.get(rule_name)
        refs = [obj(m) for m in members]
        if cluster is not None and rule is None:
            found.append(Finding(f"rule_missing:{rule_name}", "rule_missing", WARNING,
                                 f"The anti-affinity rule {rule_name} is missing from {cluster.name}.",
                                 "Restore it: DRS then keeps these VMs apart.", refs, "restore_rule"))
        elif rule is not None and not rule.get("enabled", True):
            found.append(Finding(f"rule_disabled:{rule_name}", "rule_disabled", WARNING,
                                 f"The anti-affinity rule {rule_name} is disabled.", "Enable it again.", refs,
                                 "restore_rule"))
        hosts = defaultdict(list)
        for member in members:
            vm = ours.get(member)
            if vm is not None and vm.host_moid:
                hosts[vm.host_moid].append(member)
        for host_moid, together in hosts.items():
            if len(together) > 1:
                host = picture.hosts.get(host_moid)
                found.append(Finding(
                    f"anti_affinity_broken:{rule_name}:{host_moid}", "anti_affinity_broken", WARNING,
                    f"{' and '.join(together)} run on the same host ({host.name if host else host_moid}), though "
                    f"{rule_name} keeps them apart.", f"Move {together[-1]} to another host.",
                    [obj(m) for m in together], "move_vm"))
    return found


def _words(state: str) -> str:
    return {"poweredOff": "powered off", "suspended": "suspended", "poweredOn": "powered on",
            "disconnected": "disconnected", "notResponding": "not responding", "connected": "connected"}.get(state, state)


def record_changes() -> dict[int, str]:
    """Judge every deployed cloud, store each health that changed and say so in the deployment's
    event log (beat runs this every VIO_HEALTH_SECONDS). Returns {deployment id: new health}."""
    from django.utils import timezone

    from deployments.services.runs import log

    deployments = {d.pk: d for d in Deployment.objects.filter(current_revision__isnull=False).defer("secrets")}
    changed = {}
    for deployment_pk, judged in evaluate_many(deployments.values()).items():
        deployment = deployments[deployment_pk]
        if judged.status == deployment.health:
            continue
        updated = Deployment.objects.filter(pk=deployment_pk, health=deployment.health).update(
            health=judged.status, health_changed_at=timezone.now())
        if not updated:
            continue  # another judge got there first
        changed[deployment_pk] = judged.status
        run = deployment.latest_run
        if run is not None:
            words = "; ".join(f.message for f in judged.findings[:3]) + (" …" if len(judged.findings) > 3 else "")
            log(run, f"Health: {judged.label.lower()}" + (f". {words}" if words else f". {judged.reason}" if judged.reason else "."),
                level="warning" if judged.status in (DEGRADED, FAILED) else "info")
    return changed
