"""Checks of a spec against the synced vCenter and NSX inventory, and live lookups (DNS).

InventoryContext loads what the checks need at its first use, in a fixed number of queries that see
one snapshot (read_picture), so a sync writing at the same moment never shows the checks half of
its picture; each check_* method covers one slice of the spec, so a wizard step runs only its own."""

import socket
from dataclasses import dataclass, field
from functools import cached_property
from ipaddress import IPv4Address

from django.core.signals import request_finished, request_started
from django.db import connection, transaction
from django.dispatch import receiver

from deployments.spec.addresses import address_count, free_in_ranges
from deployments.spec.issues import ADVISORY, Issue
from deployments.spec.patterns import datastore_matches
from inventory import models as m
from inventory.services.nsx_checks import meets_minimum_version

GIB = 2**30

_request_cache: dict | None = None  # set while a request is served in this thread (see below)


@receiver(request_started)
def _start_request_cache(**_):
    global _request_cache
    _request_cache = {}


@receiver(request_finished)
def _end_request_cache(**_):
    global _request_cache
    _request_cache = None


class InventoryContext:
    def __init__(self, vcenter: m.VCenter | None, datacenter_name: str | None = None):
        self.vcenter = vcenter
        self.datacenter_name = datacenter_name

    @classmethod
    def for_spec_vcenter(cls, host: str, port: int, datacenter: str | None = None) -> "InventoryContext":
        """One context per vCenter and datacenter within a web request (a review page checks the
        spec several times); outside a request, a fresh one each time."""
        key = (host, port, datacenter)
        if _request_cache is not None and key in _request_cache:
            return _request_cache[key]
        context = cls(m.VCenter.objects.filter(host=host, port=port).first(), datacenter)
        if _request_cache is not None:
            _request_cache[key] = context
        return context

    @cached_property
    def picture(self) -> "InventoryPicture":
        """Everything the checks read of the datacenter, loaded at the first use, from one snapshot."""
        return read_picture(self.vcenter, self.datacenter_name)

    @property
    def datacenter(self) -> m.Datacenter | None:
        return self.picture.datacenter

    @property
    def clusters(self) -> dict[str, m.Cluster]:
        return self.picture.clusters

    @property
    def usable_hosts(self) -> dict[int, int]:
        """{cluster id: hosts that are connected, powered on and not in maintenance}."""
        return self.picture.usable_hosts

    @property
    def datastores(self) -> dict[str, m.Datastore]:
        return self.picture.datastores

    @property
    def networks(self) -> dict[str, m.Network]:
        return self.picture.networks

    @property
    def switches(self) -> dict[str, m.DistributedSwitch]:
        return self.picture.switches

    def moid(self, model, name: str) -> str | None:
        """The moid of one named datastore or network: what the engine needs, in one query of its
        own, without loading the picture."""
        return (model.objects.filter(vcenter=self.vcenter, datacenter__name=self.datacenter_name, name=name)
                .values_list("moid", flat=True).first())

    # --- slices -----------------------------------------------------------------------------

    def check_vcenter(self, path: str = "vcenter") -> list[Issue]:
        vc = self.vcenter
        if vc is None:
            return [Issue(f"{path}.host", "vcenter_not_registered",
                          "This vCenter is not registered: add it (and accept its certificate) first.")]
        if not vc.is_pinned:
            return [Issue(f"{path}.host", "certificate_pending", f"Accept the certificate of {vc.name} first.")]
        if vc.last_synced_at is None:
            return [Issue(f"{path}.host", "not_synced", f"The inventory of {vc.name} has not been synced yet; sync it first.")]
        if vc.is_stale:
            return [Issue(f"{path}.host", "stale_inventory",
                          f"The inventory of {vc.name} was last synced {vc.last_synced_at:%Y-%m-%d %H:%M} UTC; "
                          "sync it so the checks see today's vCenter.", ADVISORY)]
        return []

    def check_datacenter(self, path: str = "datacenter") -> list[Issue]:
        if self.datacenter is None:
            return [Issue(path, "unknown_datacenter", f"There is no datacenter '{self.datacenter_name}' in this vCenter.")]
        return []

    def cluster(self, name: str, path: str, issues: list) -> m.Cluster | None:
        cluster = self.clusters.get(name)
        if cluster is None:
            issues.append(Issue(path, "unknown_cluster", f"There is no cluster '{name}' in {self.datacenter_name}; pick one of "
                                                         f"{', '.join(sorted(self.clusters)) or 'none (sync the vCenter)'}."))
        elif not self.usable_hosts.get(cluster.pk):
            issues.append(Issue(path, "no_usable_hosts",
                                f"No host of {name} is connected, powered on and out of maintenance mode."))
            return cluster
        return cluster

    def datastore_usable(self, name: str, cluster: m.Cluster | None, path: str, issues: list) -> m.Datastore | None:
        datastore = self.datastores.get(name)
        if datastore is None:
            issues.append(Issue(path, "unknown_datastore", f"There is no datastore '{name}' in {self.datacenter_name}."))
            return None
        if not datastore.accessible or datastore.maintenance_mode != "normal":
            issues.append(Issue(path, "datastore_unavailable", f"{name} is inaccessible or in maintenance mode."))
        if cluster is not None and cluster.pk not in datastore.usable_from:
            issues.append(Issue(path, "datastore_not_on_cluster",
                                f"{name} is not mounted by every host of {cluster.name}; choose a datastore all its hosts share."))
        return datastore

    def check_management(self, cluster_name: str, datastores: list[str], path: str = "") -> list[Issue]:
        issues: list[Issue] = []
        cluster = self.cluster(cluster_name, f"{path}management_cluster", issues)
        for index, name in enumerate(datastores):
            self.datastore_usable(name, cluster, f"{path}management_datastores.{index}", issues)
        return issues

    def check_network(self, network, path: str, management_cluster: str) -> list[Issue]:
        issues = []
        portgroup = self.networks.get(network.portgroup)
        cluster = self.clusters.get(management_cluster)
        if portgroup is None:
            issues.append(Issue(f"{path}.portgroup", "unknown_portgroup", f"There is no port group '{network.portgroup}'."))
        elif portgroup.uplink:
            issues.append(uplink_issue(f"{path}.portgroup", portgroup))
        elif cluster is not None and cluster.pk not in portgroup.usable_from:
            issues.append(Issue(f"{path}.portgroup", "portgroup_not_on_cluster",
                                f"{network.portgroup} is not on every host of the management cluster {management_cluster}."))
        return issues

    def check_compute(self, compute_clusters, path: str = "compute_clusters") -> list[Issue]:
        issues: list[Issue] = []
        for index, entry in enumerate(compute_clusters):
            cluster = self.cluster(entry.cluster, f"{path}.{index}.cluster", issues)
            for ds_index, name in enumerate(entry.datastores):
                self.datastore_usable(name, cluster, f"{path}.{index}.datastores.{ds_index}", issues)
            if entry.datastore_regex and cluster is not None:
                # nova-compute's re.match, answered by RE2 in linear time (the spec refused unsafe patterns)
                if not any(cluster.pk in d.usable_from and datastore_matches(entry.datastore_regex, d.name)
                           for d in self.datastores.values()):
                    issues.append(Issue(f"{path}.{index}.datastore_regex", "regex_matches_nothing",
                                        f"No datastore shared by every host of {entry.cluster} matches {entry.datastore_regex} "
                                        "(nova-compute matches from the start of the name: begin with .* to match anywhere)."))
        return issues

    def check_glance(self, name: str, management_cluster: str, path: str = "glance_datastore") -> list[Issue]:
        issues: list[Issue] = []
        datastore = self.datastore_usable(name, self.clusters.get(management_cluster), path, issues)
        if datastore is not None and datastore.type.lower() == "vsan":
            issues.append(Issue(path, "vsan_glance",
                                f"{name} is a vSAN datastore: images uploaded to Glance must be streamOptimized VMDKs.", ADVISORY))
        return issues

    def check_dvs(self, dvs, compute_clusters, path: str = "neutron.dvs") -> list[Issue]:
        issues = []
        switch = self.switches.get(dvs.switch)
        if switch is None:
            return [Issue(f"{path}.switch", "unknown_switch", f"There is no distributed switch '{dvs.switch}'.")]
        trunk = self.networks.get(dvs.trunk_portgroup)
        if trunk is None or trunk.switch_id != switch.pk:
            issues.append(Issue(f"{path}.trunk_portgroup", "unknown_portgroup",
                                f"{dvs.trunk_portgroup} is not a port group of {dvs.switch}."))
        elif trunk.uplink:
            issues.append(uplink_issue(f"{path}.trunk_portgroup", trunk))
        elif not trunk.is_full_trunk:
            issues.append(Issue(f"{path}.trunk_portgroup", "not_a_trunk",
                                f"{dvs.trunk_portgroup} carries {trunk.vlan_display}; the data network needs a trunk of "
                                "VLANs 0-4094 (or VLAN 4095). Reconfigure it or choose another port group."))
        members = set(switch.host_moids)
        for index, entry in enumerate(compute_clusters):
            cluster = self.clusters.get(entry.cluster)
            if cluster is not None:
                hosts = self.picture.cluster_host_moids.get(cluster.pk, set())
                if not hosts <= members:
                    issues.append(Issue(f"{path}.switch", "switch_not_on_compute",
                                        f"{dvs.switch} does not reach every host of {entry.cluster}; add them to the switch."))
        return issues

    def check_nsx(self, nsx, compute_clusters, path: str = "neutron.nsx") -> list[Issue]:
        manager = m.NsxManager.objects.filter(host=nsx.manager.host, port=nsx.manager.port).first()
        if manager is None:
            return [Issue(f"{path}.manager.host", "nsx_not_registered", "This NSX Manager is not registered: add it first.")]
        if not manager.is_pinned or manager.last_synced_at is None:
            return [Issue(f"{path}.manager.host", "nsx_not_synced", f"Accept the certificate of {manager.name} and sync it first.")]
        issues = []
        if self.vcenter is not None and manager.vcenter_id != self.vcenter.pk:
            issues.append(Issue(f"{path}.manager.host", "nsx_other_vcenter", f"{manager.name} is registered with another vCenter."))
        if not meets_minimum_version(manager.version):
            issues.append(Issue(f"{path}.manager.host", "nsx_too_old",
                                f"{manager.name} runs NSX {manager.version}; VIO needs NSX for vSphere 6.1.2 or later. Upgrade NSX."))
        zone = m.NsxTransportZone.objects.filter(manager=manager, object_id=nsx.transport_zone).first()
        if zone is None:
            issues.append(Issue(f"{path}.transport_zone", "unknown_transport_zone", f"{manager.name} has no transport zone {nsx.transport_zone}."))
        else:
            for index, entry in enumerate(compute_clusters):
                cluster = self.clusters.get(entry.cluster)
                if cluster is not None and cluster.moid not in zone.cluster_moids:
                    issues.append(Issue(f"{path}.transport_zone", "zone_misses_cluster",
                                        f"The transport zone {zone.name or zone.object_id} does not span {entry.cluster}; add the cluster to it in NSX."))
        edge = self.clusters.get(nsx.edge_cluster)
        if edge is None:
            issues.append(Issue(f"{path}.edge_cluster", "unknown_cluster", f"There is no cluster '{nsx.edge_cluster}'."))
        else:
            features = manager.fabric.get(edge.moid, {})
            unprepared = [name for name in ("hostPrep", "vxlan") if (features.get(name) or {}).get("status") != "GREEN"]
            if unprepared:
                issues.append(Issue(f"{path}.edge_cluster", "edge_not_prepared",
                                    f"{nsx.edge_cluster} is not prepared for NSX ({', '.join(unprepared)} not green); prepare it in NSX."))
        vds_names = {c.get("name") for c in manager.vds_contexts} | {c.get("switch_moid") for c in manager.vds_contexts}
        switch = self.switches.get(nsx.vds)
        if nsx.vds not in vds_names and (switch is None or switch.moid not in vds_names):
            issues.append(Issue(f"{path}.vds", "vds_not_prepared", f"{nsx.vds} is not a switch NSX uses for VXLAN."))
        external = self.networks.get(nsx.external_portgroup)
        if external is None:
            issues.append(Issue(f"{path}.external_portgroup", "unknown_portgroup", f"There is no port group '{nsx.external_portgroup}'."))
        elif external.uplink:
            issues.append(uplink_issue(f"{path}.external_portgroup", external))
        return issues

    def check_capacity(self, plan, management_cluster: str, path: str = "management_cluster", topology: str = "ha",
                       running=None) -> list[Issue]:
        """Does the plan fit the management cluster's free memory and its datastores' free space?
        running: the plan the deployment runs now (a change): its VMs use their memory and disk already,
        only what the change adds must fit."""
        cluster = self.clusters.get(management_cluster)
        if cluster is None:
            return []
        issues = []
        need_gb = plan.total_memory_gb - (running.total_memory_gb if running else 0)
        if need_gb > 0 and need_gb * GIB > cluster.memory_free_bytes:
            remedy = ("Free memory or add hosts there, choose another management cluster, or choose the compact topology."
                      if topology == "ha" and running is None else
                      "Free memory or add hosts there." if running is not None else
                      "Free memory or add hosts there, or choose another management cluster.")
            what = (f"The change needs {need_gb} GB more memory" if running is not None else
                    f"The plan needs {plan.total_memory_gb} GB of memory ({len(plan.vms)} VMs)")
            issues.append(Issue(path, "not_enough_memory",
                                f"{what}; {management_cluster} has {cluster.memory_free_bytes / GIB:.0f} GB free. {remedy}"))
        if plan.total_vcpu > cluster.cpu_cores:
            issues.append(Issue(path, "cpu_overcommitted",
                                f"The plan's {plan.total_vcpu} vCPU exceed the {cluster.cpu_cores} cores of {management_cluster}.", ADVISORY))
        placed = running.disk_gb_by_datastore() if running is not None else {}
        for name, disk_gb in sorted(plan.disk_gb_by_datastore().items()):
            datastore = self.datastores.get(name)
            more = disk_gb - placed.get(name, 0)
            if datastore is not None and more > 0 and more * GIB > datastore.free_bytes:
                need = f"need {more} GB more" if running is not None else f"need {disk_gb} GB"
                issues.append(Issue("management_datastores", "not_enough_disk",
                                    f"The VMs placed on {name} {need}; it has {datastore.free_bytes / GIB:.0f} GB free."))
        return issues


def running_plan(deployment):
    """The plan a deployment runs now (its last run that succeeded in applying a revision), or None."""
    if deployment is None:
        return None
    from deployments.choices import RunKind, RunStatus
    from deployments.models import Run
    from deployments.plan import Plan

    recorded = (Run.objects.filter(deployment=deployment, status=RunStatus.SUCCEEDED).exclude(kind=RunKind.TEARDOWN)
                .exclude(plan={}).order_by("-number").values_list("plan", flat=True).first())
    return Plan.from_dict(recorded) if recorded else None


@dataclass
class InventoryPicture:
    """One datacenter's synced inventory, as the checks read it: datastores and networks carry
    `usable_from` (ids of the clusters whose every host reaches them) and `usable_from_names`."""

    datacenter: m.Datacenter | None = None
    clusters: dict[str, m.Cluster] = field(default_factory=dict)
    usable_hosts: dict[int, int] = field(default_factory=dict)
    cluster_host_moids: dict[int, set[str]] = field(default_factory=dict)  # every host, whatever its state
    datastores: dict[str, m.Datastore] = field(default_factory=dict)
    networks: dict[str, m.Network] = field(default_factory=dict)
    switches: dict[str, m.DistributedSwitch] = field(default_factory=dict)


SNAPSHOT_ATTEMPTS = 5


def read_picture(vcenter: m.VCenter | None, datacenter_name: str | None) -> InventoryPicture:
    """Read the picture in one consistent snapshot, whatever transaction the caller is in, while a
    sync may be writing a new one (it writes in place, in one transaction, and raises the
    datacenter's generation in it):
    - PostgreSQL outside a transaction: one REPEATABLE READ, READ ONLY transaction of its own;
    - inside a caller's transaction (whose isolation is the caller's: READ COMMITTED gives each
      statement a snapshot of its own), or on SQLite (whose transactions begin IMMEDIATE, taking the
      write lock): read, and read again while the datacenter's generation moved meanwhile;
    - after SNAPSHOT_ATTEMPTS moves, read under a lock that holds the writer off: the datacenter's
      row (PostgreSQL, until the caller's transaction ends), or SQLite's write lock."""
    if connection.vendor == "postgresql" and connection.get_autocommit() and not connection.in_atomic_block:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            return _read_picture(vcenter, datacenter_name)
    for _ in range(SNAPSHOT_ATTEMPTS):
        picture = _read_picture(vcenter, datacenter_name)
        datacenter = picture.datacenter
        if datacenter is None:  # one statement read it all
            return picture
        if m.Datacenter.objects.filter(pk=datacenter.pk).values_list("generation", flat=True).first() == datacenter.generation:
            return picture
    with transaction.atomic():
        return _read_picture(vcenter, datacenter_name, lock=True)


def _read_picture(vcenter, datacenter_name, lock: bool = False) -> InventoryPicture:
    """The datacenter first (its generation with it), then a fixed number of queries."""
    rows = m.Datacenter.objects.filter(vcenter=vcenter, name=datacenter_name)
    datacenter = (rows.select_for_update(no_key=True) if lock and connection.features.has_select_for_no_key_update else rows).first()
    if datacenter is None:
        return InventoryPicture()
    picture = InventoryPicture(datacenter)
    picture.clusters = {c.name: c for c in m.Cluster.objects.filter(datacenter=datacenter)}
    for host in m.Host.objects.filter(datacenter=datacenter).only("moid", "cluster_id", "connection_state", "power_state", "in_maintenance_mode"):
        if host.cluster_id:
            picture.cluster_host_moids.setdefault(host.cluster_id, set()).add(host.moid)
            if host.usable:
                picture.usable_hosts[host.cluster_id] = picture.usable_hosts.get(host.cluster_id, 0) + 1
    names = {cluster.pk: cluster.name for cluster in picture.clusters.values()}
    datastores = m.Datastore.objects.filter(datacenter=datacenter).defer("host_moids")
    picture.datastores = {d.name: d for d in _with_reach(datastores, m.Datastore.clusters.through, "datastore", datacenter, names)}
    switches = {s.pk: s for s in m.DistributedSwitch.objects.filter(datacenter=datacenter)}
    picture.switches = {s.name: s for s in switches.values()}
    networks = m.Network.objects.filter(datacenter=datacenter).defer("host_moids")
    picture.networks = {n.name: n for n in _with_reach(networks, m.Network.clusters.through, "network", datacenter, names)}
    for network in picture.networks.values():
        if network.switch_id in switches:  # the same objects as `switches` (a join would read each one's hosts again)
            network.switch = switches[network.switch_id]
    return picture


def _with_reach(rows, through, owner: str, datacenter, cluster_names: dict[int, str]) -> list:
    """Each object gets `usable_from` and `usable_from_names`, read as id pairs: a prefetch would
    build a Cluster per relation row, thousands on a large vCenter."""
    objects = list(rows)
    by_id = {obj.pk: obj for obj in objects}
    for obj in objects:
        obj.usable_from = set()
    pairs = through.objects.filter(**{f"{owner}__datacenter": datacenter}).values_list(f"{owner}_id", "cluster_id")
    for owner_id, cluster_id in pairs:
        if owner_id in by_id:  # not so only in a read that a sync's commit cut in two: read_picture reads again
            by_id[owner_id].usable_from.add(cluster_id)
    for obj in objects:
        obj.usable_from_names = sorted(cluster_names[pk] for pk in obj.usable_from if pk in cluster_names)
    return objects


def uplink_issue(path: str, portgroup) -> Issue:
    switch = f" of {portgroup.switch.name}" if getattr(portgroup, "switch_id", None) and portgroup.switch else ""
    return Issue(path, "uplink_portgroup",
                 f"{portgroup.name} is the uplink port group{switch}: it holds the hosts' physical adapters, and vCenter "
                 "does not connect a VM to it. Choose a port group for VMs.")


def resolves_to(hostname: str, address: str, path: str = "load_balancer.public_hostname") -> list[Issue]:
    """Advisory: DNS may be set up after the deployment starts."""
    try:
        found = {info[4][0] for info in socket.getaddrinfo(hostname, None, socket.AF_INET)}
    except (socket.gaierror, UnicodeError):
        return [Issue(path, "hostname_does_not_resolve",
                      f"{hostname} does not resolve yet. Add a DNS record pointing it to {address} before users sign in.", ADVISORY)]
    if address not in found:
        return [Issue(path, "hostname_other_address",
                      f"{hostname} resolves to {', '.join(sorted(found))}, not to the public VIP {address}. Fix the DNS record.", ADVISORY)]
    return []


def address_issues(spec, vcenter, deployment=None) -> list[Issue]:
    """Addresses other deployments hold: the public VIP must be free, and the ranges must still
    have enough free addresses for this plan."""
    from deployments.models import IpAllocation
    from deployments.plan import address_needs

    held = IpAllocation.objects.filter(vcenter=vcenter).select_related("deployment")
    if deployment is not None:
        held = held.exclude(deployment=deployment)
    by_network: dict[str, dict[str, str]] = {}
    for allocation in held:
        by_network.setdefault(allocation.portgroup, {})[allocation.address] = allocation.deployment.name
    issues = []
    vip = str(spec.load_balancer.public_vip)
    holder = by_network.get(spec.external_network.portgroup, {}).get(vip)
    if holder:
        issues.append(Issue("load_balancer.public_vip", "vip_in_use", f"The public VIP {vip} belongs to deployment {holder}; choose another address."))
    need_management, need_external = address_needs(spec.topology, spec.neutron.mode, len(spec.compute_clusters))
    for path, network, need in (("management_network.ip_ranges", spec.management_network, need_management),
                                ("external_network.ip_ranges", spec.external_network, need_external)):
        taken = by_network.get(network.portgroup, {})
        free = free_in_ranges(network.ip_ranges, taken)  # arithmetic: a /0 range is not counted address by address
        held = address_count(network.ip_ranges) - free
        if free < need and held:  # without any held, the ranges are too small: not_enough_addresses says so
            owners = sorted({name for address, name in taken.items()
                             if any(r.start <= IPv4Address(address) <= r.end for r in network.ip_ranges)})
            issues.append(Issue(path, "addresses_in_use",
                                f"Only {free} addresses of these ranges are free: deployment{'s' if len(owners) > 1 else ''} "
                                f"{', '.join(owners)} hold{'' if len(owners) > 1 else 's'} {held} of them; this deployment "
                                f"needs {need}. Add a range, or tear down a deployment."))
    return issues


def inventory_issues(spec, live: bool = True, deployment=None) -> list[Issue]:
    from deployments.services.appliance import upload_issues

    # The uploaded OVA is checked whatever the vCenter checks find (they stop at the first blocking one).
    return _vcenter_issues(spec, live=live, deployment=deployment) + upload_issues(spec.appliance_ova)


def _vcenter_issues(spec, live: bool = True, deployment=None) -> list[Issue]:
    from deployments.plan import build_plan

    context = InventoryContext.for_spec_vcenter(spec.vcenter.host, spec.vcenter.port, spec.datacenter)
    issues = context.check_vcenter()
    if any(i.blocking for i in issues):
        return issues
    issues += context.check_datacenter()
    if any(i.blocking for i in issues):
        return issues
    issues += context.check_management(spec.management_cluster, spec.management_datastores)
    issues += context.check_network(spec.management_network, "management_network", spec.management_cluster)
    issues += context.check_network(spec.external_network, "external_network", spec.management_cluster)
    issues += context.check_compute(spec.compute_clusters)
    issues += context.check_glance(spec.glance_datastore, spec.management_cluster)
    if spec.neutron.mode == "dvs":
        issues += context.check_dvs(spec.neutron.dvs, spec.compute_clusters)
    else:
        issues += context.check_nsx(spec.neutron.nsx, spec.compute_clusters)
    free = {name: d.free_bytes / GIB for name, d in context.datastores.items()}
    issues += context.check_capacity(build_plan(spec, free), spec.management_cluster, topology=spec.topology,
                                     running=running_plan(deployment))
    issues += address_issues(spec, context.vcenter, deployment)
    if live:
        issues += resolves_to(spec.load_balancer.public_hostname, str(spec.load_balancer.public_vip))
    return issues


# The checks whose answer depends on how big the plan is (the topology, the number of compute
# clusters, the Neutron mode), whichever step of the wizard those were given on.
SIZE_CODES = frozenset({"not_enough_addresses", "addresses_in_use", "not_enough_memory", "cpu_overcommitted",
                        "not_enough_disk"})


def size_issues(spec, deployment=None, unknown=frozenset(), context: InventoryContext | None = None,
                running=None) -> list[Issue]:
    """The checks of SIZE_CODES alone: address counts, the addresses other deployments hold, capacity
    (running: the plan `deployment` runs now, when it is known already)."""
    from deployments.plan import build_plan
    from deployments.spec.consistency import address_count_issues

    issues = address_count_issues(spec, unknown)
    if context is None:
        context = InventoryContext.for_spec_vcenter(spec.vcenter.host, spec.vcenter.port, spec.datacenter)
    if context.vcenter is None or context.datacenter is None:
        return issues
    free = {name: d.free_bytes / GIB for name, d in context.datastores.items()}
    if running is None:
        running = running_plan(deployment)
    issues += context.check_capacity(build_plan(spec, free), spec.management_cluster, topology=spec.topology,
                                     running=running)
    issues += address_issues(spec, context.vcenter, deployment)
    return [i for i in issues if i.code in SIZE_CODES]
