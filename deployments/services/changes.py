"""Changing a deployed cloud: the spec is edited, the difference is reviewed, and the engine applies
only that difference in a change run. One service for the wizard in edit mode, the API and the
command line: `propose` says what would happen (field diff, VMs added and removed, configuration
files and services changed, addresses taken and released, the checks), `apply` records the revision
and starts the run. Rollback is applying an earlier revision's spec the same way."""

import difflib
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction

from deployments.choices import RUN_ACTIVE, DeploymentStatus, RunKind, RunStatus
from deployments.models import Deployment, Run
from deployments.plan import Plan, build_plan, change_graph, describe, roles
from deployments.services import revisions
from deployments.services.launch import NeedsAcknowledgement, SpecInvalid, check, warning_key
from deployments.services.secrets import OVA_URL, dump_with_secrets, merge_secrets, split_secrets
from deployments.spec import Issue

# What a running cloud cannot change, and why (shown read only in the wizard's edit mode).
IMMUTABLE = {
    "name": "it names every VM and the cloud's endpoints",
    "vcenter": "the cloud's VMs live in this vCenter",
    "datacenter": "the cloud's VMs live in this datacenter",
    "management_cluster": "the control plane's VMs run on this cluster",
    "topology": "HA and compact clouds are built differently",
    "neutron.mode": "Neutron's networks are built on it",
    "neutron.nsx.manager": "NSX holds the cloud's networks",
    "management_network.portgroup": "every VM's management address is on it",
}
# Generated files and the kolla-ansible services they configure.
FILE_SERVICES = {"config/nova/": "nova", "config/glance/": "glance", "config/cinder/": "cinder",
                 "config/neutron/": "neutron", "config/keystone/": "keystone"}
GLOBALS_SERVICES = {"nova_": "nova", "vmware_vcenter": "nova", "glance_": "glance", "cinder_": "cinder",
                    "neutron_": "neutron", "keystone_": "keystone", "enable_keystone": "keystone",
                    "syslog_": "common", "enable_fluentd": "common", "openstack_release": "all"}


class ChangeRefused(Exception):
    """Not now: another run is active, or the deployment has never been deployed."""


@dataclass
class Proposal:
    spec: object
    public: dict
    secrets: dict
    blocking: list
    advisory: list
    changes: list
    old_plan: Plan
    new_plan: Plan
    added: list = field(default_factory=list)
    removed: list = field(default_factory=list)
    files: dict = field(default_factory=dict)  # path -> unified diff (secrets masked)
    services: list = field(default_factory=list)
    steps: list = field(default_factory=list)

    @property
    def addresses(self) -> dict:
        old, new = _addresses(self.old_plan), _addresses(self.new_plan)
        return {"taken": sorted(set(new) - set(old)), "released": sorted(set(old) - set(new))}

    def as_dict(self) -> dict:
        return {
            "changes": self.changes,
            "vms_added": [_vm(vm) for vm in self.added],
            "vms_removed": [_vm(vm) for vm in self.removed],
            "files": [{"path": path, "diff": text} for path, text in sorted(self.files.items())],
            "services": self.services,
            "addresses": self.addresses,
            "steps": [{"key": s.key, "label": describe(s.kind, s.target)} for s in self.steps],
            "issues": [i.as_dict() for i in self.blocking + self.advisory],
        }


def _vm(vm) -> dict:
    return {"name": vm.name, "role": vm.role, "cluster": vm.cluster, "management_ip": vm.management_ip}


def _addresses(plan: Plan) -> list[str]:
    found = [vm.management_ip for vm in plan.vms] + [vm.external_ip for vm in plan.vms if vm.external_ip]
    return [a for a in found + [plan.internal_vip] if a]


# --- what the deployment runs now ----------------------------------------------------------------


def current_plan(deployment: Deployment) -> Plan:
    """The plan of the last run that succeeded in applying a revision (its VMs, names, addresses)."""
    run = (deployment.runs.filter(status=RunStatus.SUCCEEDED).exclude(kind=RunKind.TEARDOWN).exclude(plan={})
           .order_by("-number").first())
    if run is None:
        raise ChangeRefused(f"{deployment.name} has not been deployed yet: change its spec by deploying again.")
    return Plan.from_dict(run.plan)


def _can_change(deployment: Deployment) -> None:
    if deployment.runs.filter(status__in=sorted(RUN_ACTIVE)).exists():
        raise ChangeRefused(f"{deployment.name} has a run in progress: wait for it, or stop it, then change.")
    if deployment.current_revision is None:
        raise ChangeRefused(f"{deployment.name} has not been deployed yet: change its spec by deploying again.")


# --- the proposal --------------------------------------------------------------------------------


def propose(deployment: Deployment, data: dict) -> Proposal:
    """What applying `data` (a spec; a secret left out keeps its current value) would do."""
    from deployments.spec.inventory_checks import GIB, InventoryContext

    deployment.refresh_from_db()  # its current revision and status as they are now
    _can_change(deployment)
    now = revisions.current(deployment)
    old_secrets = revisions.secrets_of(now)
    given_public, given_secrets = split_secrets(data)
    kept = dict(old_secrets)
    if revisions.flatten(given_public).get(OVA_URL) != revisions.flatten(now.spec).get(OVA_URL):
        kept.pop(OVA_URL, None)  # a new OVA URL: the old one's credentials do not come with it
    data = merge_secrets(given_public, {**kept, **given_secrets})
    spec, blocking, advisory = check(data, live=False, deployment=deployment)
    if spec is None:
        raise SpecInvalid(blocking)
    public, secrets = split_secrets(dump_with_secrets(spec))
    blocking += _immutable(now.spec, public)
    old_plan = current_plan(deployment)
    context = InventoryContext.for_spec_vcenter(spec.vcenter.host, spec.vcenter.port, spec.datacenter)
    free = {name: d.free_bytes / GIB for name, d in context.datastores.items()} if context.datacenter else None
    from deployments.services.addresses import taken

    new_plan = build_plan(spec, free, keep=old_plan,
                          taken_management=taken(deployment.vcenter, spec.management_network.portgroup, deployment),
                          taken_external=taken(deployment.vcenter, spec.external_network.portgroup, deployment))
    blocking += _addresses_kept(spec, old_plan, new_plan) + _addresses_found(new_plan)
    names_before = {vm.name for vm in old_plan.vms}
    names_after = {vm.name for vm in new_plan.vms}
    added = [vm for vm in new_plan.vms if vm.name not in names_before]
    removed = [vm for vm in old_plan.vms if vm.name not in names_after]
    advisory += _removals_checked(deployment, removed)
    files = _bundle_diff(deployment, revisions.current(deployment).spec, old_secrets, old_plan, public, secrets, new_plan)
    services = _services(files)
    kept_apart = {role.key for role in vars(roles).values() if isinstance(role, roles.Role) and role.anti_affinity}
    anti_affinity = any(vm.role in kept_apart for vm in added + removed)
    steps = change_graph(new_plan, added, removed, anti_affinity)
    changes = revisions.diff(now.spec, old_secrets, public, secrets)
    return Proposal(spec, public, secrets, blocking, advisory, changes, old_plan, new_plan, added, removed, files,
                    services, steps)


def _immutable(old: dict, new: dict) -> list[Issue]:
    before, after = revisions.flatten(old), revisions.flatten(new)
    issues = []
    for path, why in IMMUTABLE.items():
        old_values = {k: v for k, v in before.items() if k == path or k.startswith(path + ".")}
        new_values = {k: v for k, v in after.items() if k == path or k.startswith(path + ".")}
        if old_values != new_values:
            issues.append(Issue(path, "immutable", f"This cannot change on a running cloud: {why}. "
                                                  "Put it back as it was, or deploy a new cloud."))
    return issues


def _addresses_kept(spec, old_plan: Plan, new_plan: Plan) -> list[Issue]:
    """A range may shrink, but not so far as to cut an address a VM that stays is using."""
    from ipaddress import IPv4Address

    def inside(address, ranges) -> bool:
        value = IPv4Address(address)
        return any(r.start <= value <= r.end for r in ranges)

    staying = {vm.name for vm in new_plan.vms}
    issues = []
    for vm in old_plan.vms:
        if vm.name not in staying:
            continue
        if vm.management_ip and not inside(vm.management_ip, spec.management_network.ip_ranges):
            issues.append(Issue("management_network.ip_ranges", "address_in_use",
                                f"{vm.management_ip} is used by {vm.name}: keep it inside the ranges."))
        if vm.external_ip and not inside(vm.external_ip, spec.external_network.ip_ranges):
            issues.append(Issue("external_network.ip_ranges", "address_in_use",
                                f"{vm.external_ip} is used by {vm.name}: keep it inside the ranges."))
    if old_plan.internal_vip and not inside(old_plan.internal_vip, spec.management_network.ip_ranges):
        issues.append(Issue("management_network.ip_ranges", "address_in_use",
                            f"{old_plan.internal_vip} is the internal VIP: keep it inside the ranges."))
    return issues


def _addresses_found(plan: Plan) -> list[Issue]:
    short = [vm.name for vm in plan.vms if not vm.management_ip]
    if not short:
        return []
    return [Issue("management_network.ip_ranges", "addresses_exhausted",
                  f"The ranges have no free address for {', '.join(short)}: other deployments hold the rest. "
                  "Extend the ranges.")]


def _removals_checked(deployment: Deployment, removed: list) -> list[Issue]:
    """Removing a compute cluster that still runs instances would strand them: on real hosts that is
    asked of Nova; on simulated hosts there is no Nova to ask, and the review says so."""
    clusters = [vm.cluster for vm in removed if vm.cluster]
    if not clusters:
        return []
    if settings.VIO_SIMULATED_HOSTS:
        return [Issue("compute_clusters", "instances_not_checked",
                      f"Removing {', '.join(clusters)}: its instances are not checked on simulated hosts; make sure "
                      "none runs there.", severity="advisory")]
    return []


def _bundle_diff(deployment, old_public, old_secrets, old_plan, new_public, new_secrets, new_plan) -> dict[str, str]:
    """The generated files that change, as unified diffs, with every secret masked (the same
    placeholders on both sides: only a changed secret shows, as a changed placeholder)."""
    from deployments.engine.kolla import facts_from_inventory, render_bundle
    from deployments.engine.kolla.facts import KollaBundleError
    from deployments.spec import DeploymentSpec

    def bundle(public, secrets, plan):
        masked = {path: revisions.SECRET_BEFORE if secrets.get(path) == old_secrets.get(path) else revisions.SECRET_AFTER
                  for path in secrets}
        spec = DeploymentSpec.model_validate(merge_secrets(public, masked))
        facts = facts_from_inventory(spec, deployment.vcenter_id, nsx_manager_id=_nsx_id(spec),
                                     vcenter_ca_pem="(the vCenter certificate)")
        return render_bundle(spec, plan, facts, {"master_key": "preview", "vmware_vcenter_host_password": "(secret)",
                                                 "vmware_nsxv_password": "(secret)"})

    try:
        before, after = bundle(old_public, old_secrets, old_plan), bundle(new_public, new_secrets, new_plan)
    except KollaBundleError as exc:
        return {"(bundle)": f"The configuration cannot be rendered: {exc}"}
    files = {}
    for path in sorted(set(before) | set(after)):
        old, new = before.get(path, ""), after.get(path, "")
        if old != new:
            files[path] = "".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True),
                                                       f"now/{path}", f"after/{path}"))
    return files


def _nsx_id(spec):
    if spec.neutron.mode != "nsx":
        return None
    from inventory.models import NsxManager

    nsx = spec.neutron.nsx
    return NsxManager.objects.filter(host=nsx.manager.host, port=nsx.manager.port).values_list("pk", flat=True).first()


def _services(files: dict[str, str]) -> list[str]:
    """The kolla-ansible services to reconfigure for these changed files."""
    found = set()
    for path, text in files.items():
        found |= {service for prefix, service in FILE_SERVICES.items() if path.startswith(prefix)}
        if path in ("globals.yml", "passwords.yml"):
            keys = {line[1:].split(":", 1)[0].strip() for line in text.splitlines()
                    if line[:1] in "+-" and not line.startswith(("+++", "---")) and ":" in line}
            found |= {service for prefix, service in GLOBALS_SERVICES.items() for key in keys if key.startswith(prefix)}
            if path == "passwords.yml" and keys:
                found.add("keystone")  # the admin password lives there
    return sorted(found - {"all"}) if "all" not in found else ["all"]


# --- applying it ---------------------------------------------------------------------------------


def apply(deployment: Deployment, data: dict, *, user=None, note: str = "",
          acknowledged: set[str] | frozenset = frozenset()) -> Run:
    """Record the new revision and start the change run that applies only the difference. Blocking
    issues refuse (SpecInvalid); advisories must be acknowledged (NeedsAcknowledgement)."""
    from deployments.engine import dispatch
    from deployments.services.addresses import plan_with_addresses
    from deployments.services.runs import start_run

    proposal = propose(deployment, data)
    if proposal.blocking:
        raise SpecInvalid(proposal.blocking)
    pending = [i for i in proposal.advisory if warning_key(i) not in acknowledged]
    if pending:
        raise NeedsAcknowledgement(pending)
    with transaction.atomic():
        locked = Deployment.objects.select_for_update().get(pk=deployment.pk)
        _can_change(locked)
        revision = revisions.record(locked, proposal.public, proposal.secrets, user=user, note=note)
        plan = plan_with_addresses(locked, proposal.spec, keep=proposal.old_plan)
        change = {"added": [vm.name for vm in proposal.added], "removed": [vm.name for vm in proposal.removed],
                  "services": proposal.services, "from_revision": locked.current_revision}
        run = start_run(locked, proposal.spec, RunKind.CHANGE, revision, plan=plan, graph=proposal.steps, change=change)
        Deployment.objects.filter(pk=locked.pk).update(status=DeploymentStatus.QUEUED)
        dispatch.advance(run.pk)
    return run


def rollback_data(deployment: Deployment, number: int) -> dict:
    """The spec of an earlier revision, with its secrets: what applying it as a change needs."""
    revision = deployment.revisions.filter(number=number).first()
    if revision is None:
        raise ChangeRefused(f"{deployment.name} has no revision {number}.")
    return merge_secrets(revision.spec, revisions.secrets_of(revision))

