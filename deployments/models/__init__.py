from deployments.models.appliance import ApplianceUpload
from deployments.models.deployment import Deployment, DeploymentTemplate, WizardSecret
from deployments.models.revisions import SpecRevision
from deployments.models.runs import IpAllocation, Run, RunEvent, StepAttempt, StepRun

__all__ = ["ApplianceUpload", "Deployment", "DeploymentTemplate", "IpAllocation", "Run", "RunEvent", "SpecRevision", "StepAttempt",
           "StepRun", "WizardSecret"]
