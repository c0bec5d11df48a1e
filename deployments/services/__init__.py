"""What the wizard, the API and the commands call to validate, create and template deployments."""
