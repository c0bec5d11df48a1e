from django import template

register = template.Library()


@register.filter
def ghz(mhz) -> str:
    return f"{(mhz or 0) / 1000:.1f} GHz"


@register.filter
def gib(value) -> str:
    return f"{(value or 0) / 2**30:,.0f} GiB"


@register.inclusion_tag("inventory/_bar.html")
def usage_bar(percent, label=""):
    percent = max(0.0, min(float(percent or 0), 100.0))
    level = "err" if percent >= 90 else "warn" if percent >= 75 else "ok"
    return {"percent": percent, "level": level, "label": label}
