"""{% run_timeline deployment_id run_number %}: the run timeline drawn into a page (the deployment
page), the same fragment views.timeline serves for the page to fetch again while the run is live."""

from django import template

from deployments.services import timeline

register = template.Library()


@register.inclusion_tag("deployments/_timeline.html")
def run_timeline(deployment_id, number):
    return timeline.page_context(timeline.run_of(deployment_id, number))
