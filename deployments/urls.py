from django.urls import path

from deployments.views import change, deployments, templates
from deployments.views import health as health_views
from deployments.views import timeline as timeline_views
from deployments.wizard.view import DeployWizard

wizard = DeployWizard.as_view(url_name="deployment-wizard", done_step_name="done")
change_wizard = DeployWizard.as_view(url_name="deployment-change-wizard", done_step_name="done")

urlpatterns = [
    path("deployments/", deployments.deployment_list, name="deployment-list"),
    path("deployments/new/", deployments.new_wizard, name="deployment-new"),
    path("deployments/new/<slug:wizard_id>/<slug:step>/", wizard, name="deployment-wizard"),
    path("deployments/<int:pk>/", deployments.deployment_detail, name="deployment-detail"),
    path("deployments/<int:pk>/change/", change.change_configuration, name="deployment-change"),
    path("deployments/<int:pk>/change/<slug:wizard_id>/<slug:step>/", change_wizard, name="deployment-change-wizard"),
    path("deployments/<int:pk>/retry/", deployments.deployment_retry, name="deployment-retry"),
    path("deployments/<int:pk>/teardown/", deployments.deployment_teardown, name="deployment-teardown"),
    path("deployments/<int:pk>/cancel/", deployments.deployment_cancel, name="deployment-cancel"),
    path("deployments/<int:pk>/save-template/", deployments.deployment_save_template, name="deployment-save-template"),
    path("deployments/<int:pk>/health/", health_views.health_card, name="deployment-health"),
    path("deployments/<int:pk>/repair/", health_views.repair, name="deployment-repair"),
    path("deployments/<int:pk>/runs/<int:number>/timeline/", timeline_views.run_timeline, name="deployment-run-timeline"),
    path("templates/", templates.template_list, name="template-list"),
    path("templates/upload/", templates.template_upload, name="template-upload"),
    path("templates/<int:pk>/", templates.template_detail, name="template-detail"),
    path("templates/<int:pk>/download/", templates.template_download, name="template-download"),
    path("templates/<int:pk>/delete/", templates.template_delete, name="template-delete"),
]
