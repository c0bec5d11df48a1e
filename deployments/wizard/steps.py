"""The steps of the Deploy OpenStack wizard, in order, and when the conditional ones apply."""

from deployments.wizard import forms as f

STEPS = [
    ("start", f.StartForm),
    ("vcenter", f.VCenterStepForm),
    ("datacenter", f.DatacenterForm),
    ("management_network", f.ManagementNetworkForm),
    ("external_network", f.ExternalNetworkForm),
    ("load_balancer", f.LoadBalancerForm),
    ("compute", f.ComputeForm),
    ("glance", f.GlanceForm),
    ("neutron", f.NeutronForm),
    ("dvs", f.DvsForm),
    ("nsx", f.NsxForm),
    ("keystone", f.KeystoneForm),
    ("syslog", f.SyslogForm),
    ("appliance", f.ApplianceForm),
    ("review", f.ReviewForm),
]
for _name, _form in STEPS:
    assert _form.step == _name, f"{_form.__name__}.step should be {_name!r}"


def neutron_mode(wizard) -> str:
    """The mode of the Neutron step as stored (raw, so no form is validated to decide), else the
    template's, else DVS."""
    data = wizard.storage.get_step_data("neutron")
    mode = data.get("neutron-mode") if data else None
    if not mode:
        template = wizard.storage.extra_data.get("template_spec") or {}
        mode = (template.get("neutron") or {}).get("mode")
    return mode if mode in ("dvs", "nsx") else "dvs"


def uses_dvs(wizard) -> bool:
    return neutron_mode(wizard) == "dvs"


def uses_nsx(wizard) -> bool:
    return neutron_mode(wizard) == "nsx"


CONDITIONS = {"dvs": uses_dvs, "nsx": uses_nsx}
