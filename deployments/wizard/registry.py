"""The wizard's step forms by step name, filled as each form class is defined (StepForm's
__init_subclass__): what paths and the review read a step's title and labels from, without importing
the forms (which import them)."""

FORMS: dict[str, type] = {}


def form_for(step: str):
    """The form class of a step, or None."""
    return FORMS.get(step)
