from deployments.models.deployment import Deployment, DeploymentTemplate, WizardSecret

__all__ = ["Deployment", "DeploymentTemplate", "WizardSecret"]
