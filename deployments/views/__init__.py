"""Pages for deployments and deployment templates (the wizard is deployments.wizard)."""
