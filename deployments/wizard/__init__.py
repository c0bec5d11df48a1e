"""The Deploy OpenStack wizard (django-formtools): every step validates its slice of the spec.

steps     the steps in order, and the conditions of the DVS and NSX steps
forms/    one form per step, grouped; each turns its fields into its fragment of the spec
paths     the ONE mapping from a spec path to (step, form field), and how an issue reads there
state     what a wizard instance holds (fragments, template, secret ids) and the probe checks
view      the NamedUrlSessionWizardView; actions: registering connections, saving templates
instances a random id per wizard instance, namespacing its session storage
"""
