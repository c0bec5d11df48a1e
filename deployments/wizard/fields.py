"""Pickers filled from the synced inventory, and how their options read."""

from django import forms
from django.forms.utils import flatatt
from django.utils.html import format_html
from django.utils.safestring import mark_safe

GIB = 2**30


class PickerField(forms.ChoiceField):
    """A choice among synced inventory objects. The options offered are the usable ones; any name
    is accepted, so that the spec's inventory check (the one validator) says what is wrong with a
    name that is not offered, on this field."""

    def valid_value(self, value) -> bool:
        return bool(value)


class MultiPickerField(forms.MultipleChoiceField):
    def valid_value(self, value) -> bool:
        return bool(value)


class FastCheckboxes(forms.CheckboxSelectMultiple):
    """Renders its options in one pass, with the markup _field.html gives other choice fields: a
    large vCenter offers over a thousand datastore checkboxes on one step, and a template per
    option costs ~0.4 ms."""

    renders_itself = True  # _field.html prints {{ field }} instead of looping over the options

    def option_attrs(self, value) -> str:
        return ""

    def render(self, name, value, attrs=None, renderer=None):
        base = self.build_attrs(self.attrs, attrs)
        group_id = base.pop("id", "")
        base.pop("required", None)
        common = flatatt({key: val for key, val in base.items() if val is not False})
        chosen = {str(v) for v in (value or [])}
        rows = []
        for index, (option_value, label) in enumerate(self.choices):
            option_id = f"{group_id}_{index}"
            rows.append(format_html(
                '<label class="choice" for="{}"><input type="checkbox" name="{}" value="{}" id="{}"{}{}{}> <span>{}</span></label>',
                option_id, name, option_value, option_id, common,
                mark_safe(" checked") if str(option_value) in chosen else "", self.option_attrs(option_value), label))
        if not rows:
            return mark_safe('<p class="empty">Nothing to choose from: sync the inventory, or check the earlier steps.</p>')
        return mark_safe("\n".join(rows))


class TaggedCheckboxes(FastCheckboxes):
    """Checkboxes whose options carry data-clusters="A,B" (the clusters that reach each datastore),
    so the page can show only those of the cluster chosen on the same step."""

    def __init__(self, *args, tags: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.tags = tags or {}

    def option_attrs(self, value) -> str:
        tags = self.tags.get(str(value))
        return format_html(' data-clusters="{}"', tags) if tags else ""


def offer(field: forms.ChoiceField, choices: list, current=None) -> None:
    """Set a picker's options, keeping a current value that is not among them (so it stays selected
    while its error is shown)."""
    offered = {str(value) for value, _ in _flat(choices)}
    values = current if isinstance(current, (list, tuple)) else [current]
    extra = [(v, f"{v} (not offered: see the message)") for v in values if v and str(v) not in offered]
    field.choices = list(choices) + extra


def _flat(choices):
    for value, label in choices:
        if isinstance(label, (list, tuple)):
            yield from label
        else:
            yield value, label


def gb(nbytes: int) -> str:
    return f"{nbytes / GIB:,.0f} GB"


def cluster_label(cluster) -> str:
    return (f"{cluster.name} — {cluster.host_count} hosts, {cluster.cpu_cores} cores, "
            f"{gb(cluster.memory_free_bytes)} of {gb(cluster.memory_bytes)} memory free")


def datastore_label(datastore, *, shared_by: bool = True) -> str:
    label = f"{datastore.name} — {gb(datastore.free_bytes)} free of {gb(datastore.capacity_bytes)}"
    if datastore.type:
        label += f" · {datastore.type}"
    if shared_by:
        names = datastore.usable_from_names
        label += f" · on every host of {', '.join(names)}" if names else " · on one host only"
    return label


def portgroup_label(network) -> str:
    where = f"on {network.switch.name}" if network.switch_id else "standard port group"
    return f"{network.name} — {network.vlan_display}, {where}"


def bound_value(form, name: str, many: bool = False):
    """What a picker holds now: the posted value, else its initial value (always, when it is read only)."""
    if form.is_bound and name not in getattr(form, "locked", {}):
        key = form.add_prefix(name)
        return form.data.getlist(key) if many and hasattr(form.data, "getlist") else form.data.get(key)
    return form.initial.get(name)
