"""The wizard's step forms, one module per group of steps."""

from deployments.wizard.forms.neutron import DvsForm, NeutronForm, NsxForm, RegisterNsxManagerForm
from deployments.wizard.forms.networks import ExternalNetworkForm, LoadBalancerForm, ManagementNetworkForm
from deployments.wizard.forms.placement import ComputeForm, DatacenterForm, GlanceForm
from deployments.forms import SaveTemplateForm
from deployments.wizard.forms.review import ReviewForm
from deployments.wizard.forms.services import ApplianceForm, KeystoneForm, SyslogForm
from deployments.wizard.forms.start import StartForm, VCenterStepForm

__all__ = [
    "ApplianceForm", "ComputeForm", "DatacenterForm", "DvsForm", "ExternalNetworkForm", "GlanceForm", "KeystoneForm",
    "LoadBalancerForm", "ManagementNetworkForm", "NeutronForm", "NsxForm", "RegisterNsxManagerForm", "ReviewForm",
    "SaveTemplateForm", "StartForm", "SyslogForm", "VCenterStepForm",
]
