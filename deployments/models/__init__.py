from deployments.models.appliance import ApplianceUpload
from deployments.models.deployment import Deployment, DeploymentTemplate, WizardSecret
from deployments.models.runs import IpAllocation, Run, RunEvent, StepRun

__all__ = ["ApplianceUpload", "Deployment", "DeploymentTemplate", "IpAllocation", "Run", "RunEvent", "StepRun",
           "WizardSecret"]
