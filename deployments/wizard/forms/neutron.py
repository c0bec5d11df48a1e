"""Neutron networking: DVS (VLANs on a distributed switch) or NSX for vSphere."""

from django import forms
from django.utils.timesince import timesince

from deployments.wizard.fields import PickerField, bound_value, offer, portgroup_label
from deployments.wizard.forms.base import StepForm, compact
from inventory.forms import NsxManagerForm
from inventory.models import NsxManager, NsxTransportZone
from inventory.services.nsx_checks import meets_minimum_version

MODES = [
    ("dvs", "DVS: tenant networks are VLANs on a distributed switch, through a trunk port group"),
    ("nsx", "NSX for vSphere: tenant networks are NSX logical switches, routed by NSX Edges"),
]


class NeutronForm(StepForm):
    step = "neutron"
    title = "Neutron networking"
    intro = "How OpenStack's Networking service (Neutron) builds the tenants' networks."

    mode = forms.ChoiceField(label="Networking", choices=MODES, initial="dvs", widget=forms.RadioSelect)

    def from_spec(self, spec: dict) -> dict:
        return compact({"mode": (spec.get("neutron") or {}).get("mode")})

    def fragment(self) -> dict:
        return {"neutron": compact({"mode": self.value("mode")})}


class DvsForm(StepForm):
    step = "dvs"
    title = "Distributed switch"
    intro = ("The distributed switch of the tenants' VLANs, and its port group that trunks every VLAN "
             "(0-4094, or VLAN 4095): the data network.")

    switch = PickerField(label="Distributed switch", help_text="It must reach every host of the compute clusters.")
    trunk_portgroup = PickerField(label="Trunk port group (data network)",
                                  help_text="A port group of that switch trunking VLANs 0-4094 (or VLAN 4095).")

    def setup(self):
        context = self.state.inventory()
        switches = sorted(context.switches.values(), key=lambda s: s.name)
        offer(self.fields["switch"], [("", "— choose a switch —")] + [(s.name, f"{s.name} — {len(s.host_moids)} hosts") for s in switches],
              bound_value(self, "switch"))
        groups = []
        for switch in switches:
            portgroups = [n for n in sorted(context.networks.values(), key=lambda n: (not n.is_full_trunk, n.name))
                          if n.switch_id == switch.pk and not n.uplink]
            groups.append((switch.name, [(n.name, portgroup_label(n)) for n in portgroups]))
        offer(self.fields["trunk_portgroup"], [("", "— choose a port group —")] + groups, bound_value(self, "trunk_portgroup"))
        if not self.is_bound and len(switches) == 1 and not self.initial.get("switch"):
            self.initial["switch"] = switches[0].name

    def from_spec(self, spec: dict) -> dict:
        return compact(dict((spec.get("neutron") or {}).get("dvs") or {}))

    def fragment(self) -> dict:
        return {"neutron": {"dvs": compact({"switch": self.value("switch"), "trunk_portgroup": self.value("trunk_portgroup")})}}

    def inventory_issues(self, spec) -> list:
        return self.state.inventory(spec.datacenter).check_dvs(spec.neutron.dvs, spec.compute_clusters)


class NsxForm(StepForm):
    step = "nsx"
    title = "NSX for vSphere"
    intro = ("The NSX Manager registered with this vCenter, and what Neutron uses from it. Pick a registered NSX "
             "Manager, or register it here: you will review its certificate, then its inventory is synced.")

    manager = forms.ChoiceField(label="NSX Manager", help_text="NSX for vSphere 6.1.2 or later, registered with this vCenter.",
                                error_messages={"required": "Choose an NSX Manager, or register one below."})
    resync = forms.BooleanField(label="Sync its inventory again before continuing", required=False)
    transport_zone = PickerField(label="Transport zone (VDN scope)",
                                 help_text="It must span every compute cluster.")
    edge_cluster = PickerField(label="Edge cluster", help_text="Where NSX Edges run; prepared for NSX (host preparation and VXLAN).")
    vds = PickerField(label="Distributed switch for VXLAN", help_text="A switch NSX prepared for VXLAN.")
    external_portgroup = PickerField(label="External network port group",
                                     help_text="Reached from the compute, management and edge clusters; routers' uplinks go here.")

    def setup(self):
        self.managers = list(NsxManager.objects.exclude(certificate_sha256="").select_related("vcenter").order_by("name"))
        choices = [("", "— choose an NSX Manager —")]
        for manager in self.managers:
            version = f"NSX {manager.version}" if manager.version else "version unknown"
            synced = f"synced {timesince(manager.last_synced_at)} ago" if manager.last_synced_at else "never synced"
            choices.append((str(manager.pk), f"{manager.name} ({manager.host}:{manager.port}) — {version}, {synced}"))
        self.fields["manager"].choices = choices
        if not self.is_bound and not self.initial.get("manager"):
            mine = [m for m in self.managers if self.state.vcenter and m.vcenter_id == self.state.vcenter.pk]
            if len(mine) == 1:
                self.initial["manager"] = str(mine[0].pk)
        self.chosen = next((m for m in self.managers if str(m.pk) == str(bound_value(self, "manager"))), None)
        self._pickers()

    def _pickers(self):
        context = self.state.inventory()
        manager = self.chosen
        zones = list(NsxTransportZone.objects.filter(manager=manager)) if manager else []
        names = {c.moid: c.name for c in context.clusters.values()}
        offer(self.fields["transport_zone"], [("", "— choose a transport zone —")] + [
            (z.object_id, f"{z.name or z.object_id} ({z.object_id}) — spans {', '.join(sorted(names.get(m, m) for m in z.cluster_moids)) or 'no cluster'}")
            for z in zones], bound_value(self, "transport_zone"))
        clusters = []
        for cluster in sorted(context.clusters.values(), key=lambda c: c.name):
            features = (manager.fabric if manager else {}).get(cluster.moid, {})
            ready = all((features.get(f) or {}).get("status") == "GREEN" for f in ("hostPrep", "vxlan"))
            clusters.append((cluster.name, f"{cluster.name} — {'prepared for NSX' if ready else 'not prepared for NSX'}"))
        offer(self.fields["edge_cluster"], [("", "— choose a cluster —")] + clusters, bound_value(self, "edge_cluster"))
        switches = [c.get("name") for c in (manager.vds_contexts if manager else []) if c.get("name")]
        offer(self.fields["vds"], [("", "— choose a switch —")] + [(name, name) for name in switches], bound_value(self, "vds"))
        networks = [n for n in sorted(context.networks.values(), key=lambda n: n.name) if not n.uplink]
        offer(self.fields["external_portgroup"], [("", "— choose a port group —")] + [(n.name, portgroup_label(n)) for n in networks],
              bound_value(self, "external_portgroup"))
        self.version_ok = meets_minimum_version(manager.version) if manager and manager.version else None

    @property
    def manager_fields(self) -> list:
        return [self["manager"], self["resync"]]

    @property
    def picker_fields(self) -> list:
        return [self[name] for name in ("transport_zone", "edge_cluster", "vds", "external_portgroup")]

    def from_spec(self, spec: dict) -> dict:
        nsx = (spec.get("neutron") or {}).get("nsx") or {}
        ref = nsx.get("manager") or {}
        manager = NsxManager.objects.filter(host=ref.get("host"), port=ref.get("port", 443)).first()
        return compact({"manager": str(manager.pk) if manager else None,
                        **{name: nsx.get(name) for name in ("transport_zone", "edge_cluster", "vds", "external_portgroup")}})

    def fragment(self) -> dict:
        manager = next((m for m in self.managers if str(m.pk) == str(self.value("manager"))), None)
        nsx = compact({name: self.value(name) for name in ("transport_zone", "edge_cluster", "vds", "external_portgroup")})
        if manager:
            nsx["manager"] = {"host": manager.host, "port": manager.port}
        return {"neutron": {"nsx": nsx}}

    def inventory_issues(self, spec) -> list:
        return self.state.inventory(spec.datacenter).check_nsx(spec.neutron.nsx, spec.compute_clusters)


class RegisterNsxManagerForm(NsxManagerForm):
    """Inventory's NSX Manager form, for the wizard's vCenter (chosen on an earlier step)."""

    def __init__(self, *args, vcenter=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["vcenter"].widget = forms.HiddenInput()
        if vcenter is not None:
            self.fields["vcenter"].initial = vcenter.pk
            if self.is_bound:
                self.data = self.data.copy()
                self.data[self.add_prefix("vcenter")] = str(vcenter.pk)
