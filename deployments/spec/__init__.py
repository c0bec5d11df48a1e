"""DeploymentSpec: the one typed, versioned description of a cloud, and its validation.

The wizard, the API and templates all validate through here; every problem is an Issue naming the
JSON path of the input to fix, so it lands on the right wizard field and the right API path.
"""

from deployments.spec.issues import ADVISORY, BLOCKING, Issue
from deployments.spec.model import SCHEMA_VERSION, DeploymentSpec, secret_paths
from deployments.spec.validate import parse, validate

__all__ = ["ADVISORY", "BLOCKING", "SCHEMA_VERSION", "DeploymentSpec", "Issue", "parse", "secret_paths", "validate"]
