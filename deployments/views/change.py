"""The entry of "Change configuration": the Deploy OpenStack wizard in edit mode, filled from the
deployment's current revision (secrets are not filled in: left empty, each keeps its value). Thin: the
wizard shows the steps, services.changes reviews and applies the difference."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse

from deployments.choices import RUN_ACTIVE
from deployments.models import Deployment
from deployments.services import revisions
from deployments.services.secrets import OVA_URL
from deployments.wizard import instances
from deployments.wizard.state import fragments_of
from vio_manager.access.pages import requires
from vio_manager.access.roles import OPERATOR

FIRST_STEP = "review"  # the configuration as it is, every section with its step


@requires(OPERATOR)
def change_configuration(request, pk):
    deployment = get_object_or_404(Deployment, pk=pk)
    revision = revisions.current(deployment)
    if revision is None:
        messages.error(request, f"{deployment.name} has not been deployed yet: its configuration can change once a "
                                "run has succeeded.")
        return redirect("deployment-detail", pk)
    if deployment.runs.filter(status__in=sorted(RUN_ACTIVE)).exists():
        messages.error(request, f"{deployment.name} has a run in progress: wait for it, or stop it, then change its "
                                "configuration.")
        return redirect("deployment-detail", pk)
    kept = [path for path in revisions.secrets_of(revision) if path != OVA_URL]
    extra = {"editing": deployment.pk, "revision": revision.number, "template_spec": revision.spec,
             "template_source": f"edit:{deployment.pk}:{revision.number}", "fragments": fragments_of(revision.spec),
             "kept_secrets": kept, "problems": []}
    wizard_id = instances.new(request.session, request.user, extra=extra, step=FIRST_STEP)
    return redirect(reverse("deployment-change-wizard", kwargs={"pk": deployment.pk, "wizard_id": wizard_id,
                                                                "step": FIRST_STEP}))
