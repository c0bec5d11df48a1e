from django import template
from django.utils.html import format_html

register = template.Library()


@register.filter
def ghz(mhz) -> str:
    return f"{(mhz or 0) / 1000:.1f} GHz"


@register.filter
def gib(value) -> str:
    return f"{(value or 0) / 2**30:,.0f} GiB"


@register.simple_tag
def usage_bar(percent, label=""):
    """A capacity bar; a simple tag rather than an included template: pages draw hundreds."""
    percent = max(0.0, min(float(percent or 0), 100.0))
    level = "err" if percent >= 90 else "warn" if percent >= 75 else "ok"
    text = f"{label} {percent:.0f}% used"
    # SVG attributes, not a style attribute: the pages' Content-Security-Policy allows no inline style.
    return format_html('<svg class="bar" viewBox="0 0 100 10" preserveAspectRatio="none" role="img" aria-label="{}">'
                       '<title>{}</title><rect class="track" width="100" height="10"/>'
                       '<rect class="fill {}" width="{}" height="10"/></svg>', text, text, level, f"{percent:.1f}")
