"""Wizard instances of a session: each has a random id that namespaces its formtools storage, so
two tabs never share data. A session keeps its last few instances; older ones are dropped together
with the passwords they had typed."""

import secrets

from deployments.models import WizardSecret

SESSION_KEY = "deploy_wizards"
KEEP = 10
ID_LENGTH = 12


def storage_prefix(wizard_id: str) -> str:
    return f"deploy_{wizard_id}"


def storage_key(wizard_id: str) -> str:
    return f"wizard_{storage_prefix(wizard_id)}"  # formtools' BaseStorage names it so


def known(session, wizard_id: str) -> bool:
    return wizard_id in session.get(SESSION_KEY, [])


def new(session, user, *, extra: dict | None = None, step: str | None = None) -> str:
    """A new instance; `extra` and `step` start its storage (editing: the revision it starts from)."""
    wizard_id = secrets.token_hex(ID_LENGTH // 2)
    ids = [*session.get(SESSION_KEY, []), wizard_id]
    while len(ids) > KEEP:
        _drop(session, ids.pop(0), user)
    session[SESSION_KEY] = ids
    if extra is not None or step is not None:  # formtools' SessionStorage layout
        session[storage_key(wizard_id)] = {"step": step, "step_data": {}, "step_files": {}, "extra_data": extra or {}}
    return wizard_id


def editing(session, wizard_id: str) -> int | None:
    """The deployment an instance edits (None: it deploys a new one)."""
    return ((session.get(storage_key(wizard_id)) or {}).get("extra_data") or {}).get("editing")


def forget(session, wizard_id: str) -> None:
    session[SESSION_KEY] = [i for i in session.get(SESSION_KEY, []) if i != wizard_id]
    session.pop(storage_key(wizard_id), None)


def _drop(session, wizard_id: str, user) -> None:
    data = session.pop(storage_key(wizard_id), None) or {}
    ids = ((data.get("extra_data") or {}).get("secret_ids") or {}).values()
    if ids:
        WizardSecret.objects.filter(owner=user, pk__in=list(ids)).delete()
