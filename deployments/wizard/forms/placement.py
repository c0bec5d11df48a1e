"""Where OpenStack goes: datacenter, topology, management cluster and datastores; the Nova compute
clusters and their datastores; the Glance datastore."""

from django import forms

from deployments.plan import build_plan
from deployments.wizard.fields import (
    GIB, FastCheckboxes, MultiPickerField, PickerField, TaggedCheckboxes, bound_value, cluster_label, datastore_label, offer,
)
from deployments.wizard.forms.base import StepForm, compact
from inventory.models import Datacenter

TOPOLOGIES = [
    ("ha", "High availability: 2 controllers, 3 database nodes, 2 load balancers…"),
    ("compact", "Compact: one VM runs every OpenStack service (labs and trials)"),
]


def estimate(topology: str, mode: str, clusters: int) -> dict:
    """What the plan of this size takes (deployments/plan's roles: the review's totals are the same sums)."""
    from deployments.plan import roles_for

    roles = roles_for(topology, mode, clusters)
    return {"vcpu": sum(r.vcpu * n for r, n in roles), "memory_gb": sum(r.memory_gb * n for r, n in roles),
            "disk_gb": sum(r.disk_gb * n for r, n in roles), "vms": sum(n for _, n in roles)}


def estimate_text(topology: str, mode: str, clusters: int) -> str:
    found = estimate(topology, mode, clusters)
    return (f"about {found['vcpu']} vCPU, {found['memory_gb']} GB RAM, {found['disk_gb']} GB disk with "
            f"{clusters} compute cluster{'s' if clusters != 1 else ''}"
            f"{' and DVS' if mode == 'dvs' else ' and NSX'}")


class DatacenterForm(StepForm):
    step = "datacenter"
    title = "Management cluster"
    intro = "The cluster and datastores where OpenStack's own VMs run: controllers, database, message queue, load balancers."

    datacenter = PickerField(label="Datacenter", help_text="The vCenter datacenter that holds the clusters below.")
    topology = forms.ChoiceField(label="Topology", choices=TOPOLOGIES, initial="ha", widget=forms.RadioSelect)
    management_cluster = PickerField(label="Management cluster",
                                     help_text="In the HA topology it must not be a compute cluster.")
    management_datastores = MultiPickerField(
        label="Datastores for the OpenStack VMs", widget=TaggedCheckboxes,
        help_text="Shared by every host of the management cluster; each VM goes to the one with the most free space.")

    def setup(self):
        _, mode, clusters = self.state.known_size()
        self.fields["topology"].choices = [(key, f"{label} ({estimate_text(key, mode, clusters)})")
                                           for key, label in TOPOLOGIES]
        datacenters = list(Datacenter.objects.filter(vcenter=self.state.vcenter).order_by("name"))
        self.several_datacenters = len(datacenters) > 1
        offer(self.fields["datacenter"], [(d.name, d.name) for d in datacenters], bound_value(self, "datacenter"))
        if not self.is_bound and not self.initial.get("datacenter") and datacenters:
            self.initial["datacenter"] = datacenters[0].name
        context = self.state.inventory(bound_value(self, "datacenter") or None)
        clusters = sorted(context.clusters.values(), key=lambda c: c.name)
        offer(self.fields["management_cluster"], [("", "— choose a cluster —")] + [(c.name, cluster_label(c)) for c in clusters],
              bound_value(self, "management_cluster"))
        shared = [d for d in sorted(context.datastores.values(), key=lambda d: d.name) if d.usable_from]
        offer(self.fields["management_datastores"], [(d.name, datastore_label(d)) for d in shared],
              bound_value(self, "management_datastores", many=True))
        self.fields["management_datastores"].widget.tags = {d.name: ",".join(d.usable_from_names) for d in shared}
        # static/js/wizard.js offers only the datastores every host of the chosen cluster mounts.
        self.fields["management_cluster"].widget.attrs["data-filters"] = (
            f"#field-{self.add_prefix('management_datastores')} input[data-clusters]")

    def from_spec(self, spec: dict) -> dict:
        return compact({name: spec.get(name) for name in ("datacenter", "topology", "management_cluster", "management_datastores")})

    def fragment(self) -> dict:
        return compact({
            "datacenter": self.value("datacenter"),
            "topology": self.value("topology"),
            "management_cluster": self.value("management_cluster"),
            "management_datastores": list(self.value("management_datastores", [])),
        })

    def inventory_issues(self, spec) -> list:
        context = self.state.inventory(spec.datacenter)
        issues = context.check_datacenter()
        if issues:
            return issues
        issues = context.check_management(spec.management_cluster, spec.management_datastores)
        free = {name: d.free_bytes / GIB for name, d in context.datastores.items()}
        # The probe's plan is the smallest the later steps allow (one compute cluster, no DHCP VMs): what
        # they add is checked, and reported, on those steps (spanning.py).
        return issues + context.check_capacity(build_plan(spec, free), spec.management_cluster, topology=spec.topology,
                                               running=self.state.running)


class ComputeForm(StepForm):
    """One row per cluster of the datacenter: use it for Nova, and which of its datastores."""

    step = "compute"
    title = "Compute clusters"
    intro = ("The clusters where Nova runs the instances (one nova-compute VM each), and the datastores it places "
             "them on: choose datastores, or give a regular expression their names match.")

    def _clusters(self):
        if not hasattr(self, "_cluster_list"):
            context = self.state.inventory()
            self._cluster_list = sorted(context.clusters.values(), key=lambda c: c.name)
        return self._cluster_list

    def setup(self):
        management = self.state.management_cluster
        datastores = sorted(self.state.inventory().datastores.values(), key=lambda d: d.name)
        self.rows = []
        for index, cluster in enumerate(self._clusters()):
            use, stores, regex = f"use_{index}", f"datastores_{index}", f"regex_{index}"
            note = " (the management cluster)" if cluster.name == management else ""
            self.fields[use] = forms.BooleanField(label=f"Use {cluster.name} for Nova{note}", required=False,
                                                  help_text=cluster_label(cluster))
            usable = [d for d in datastores if cluster.pk in d.usable_from]
            self.fields[stores] = MultiPickerField(label=f"Datastores of {cluster.name}", required=False,
                                                   widget=FastCheckboxes,
                                                   help_text="Only datastores every host of the cluster mounts are offered.")
            offer(self.fields[stores], [(d.name, datastore_label(d, shared_by=False)) for d in usable],
                  bound_value(self, stores, many=True))
            self.fields[regex] = forms.CharField(label=f"Or: a regular expression for {cluster.name}'s datastores",
                                                 required=False, help_text="Instead of choosing: e.g. ^vio-compute-")
            self.rows.append({"cluster": cluster, "use": use, "datastores": stores, "regex": regex})

    def from_spec(self, spec: dict) -> dict:
        initial = {}
        names = [c.name for c in self._clusters()]
        for entry in spec.get("compute_clusters") or []:
            if entry.get("cluster") in names:
                index = names.index(entry["cluster"])
                initial[f"use_{index}"] = True
                initial[f"datastores_{index}"] = entry.get("datastores", [])
                initial[f"regex_{index}"] = entry.get("datastore_regex", "")
        return initial

    @property
    def bound_rows(self) -> list[dict]:
        return [{"cluster": row["cluster"], "use": self[row["use"]], "datastores": self[row["datastores"]],
                 "regex": self[row["regex"]]} for row in self.rows]

    def selected_rows(self) -> list[dict]:
        return [row for row in self.rows if self.value(row["use"])]

    def row_for_index(self, index: int) -> int | None:
        selected = self.selected_rows()
        return self.rows.index(selected[index]) if index < len(selected) else None

    def fragment(self) -> dict:
        entries = []
        for row in self.selected_rows():
            entry = {"cluster": row["cluster"].name, "datastores": list(self.value(row["datastores"], []))}
            if self.value(row["regex"]):
                entry["datastore_regex"] = self.value(row["regex"])
            entries.append(entry)
        return {"compute_clusters": entries}

    def inventory_issues(self, spec) -> list:
        return self.state.inventory(spec.datacenter).check_compute(spec.compute_clusters)


class GlanceForm(StepForm):
    step = "glance"
    title = "Glance datastore"
    intro = "The datastore where the Image service (Glance) keeps images."

    datastore = PickerField(label="Glance datastore",
                            help_text="Only datastores every host of the management cluster mounts are offered.")

    def setup(self):
        context = self.state.inventory()
        cluster = context.clusters.get(self.state.management_cluster or "")
        usable = [d for d in sorted(context.datastores.values(), key=lambda d: d.name)
                  if cluster is not None and cluster.pk in d.usable_from]
        offer(self.fields["datastore"], [("", "— choose a datastore —")] + [(d.name, datastore_label(d, shared_by=False)) for d in usable],
              bound_value(self, "datastore"))

    def from_spec(self, spec: dict) -> dict:
        return compact({"datastore": spec.get("glance_datastore")})

    def fragment(self) -> dict:
        return compact({"glance_datastore": self.value("datastore")})

    def inventory_issues(self, spec) -> list:
        return self.state.inventory(spec.datacenter).check_glance(spec.glance_datastore, spec.management_cluster)
