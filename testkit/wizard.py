"""The Deploy OpenStack wizard driven through Django's test client: one wizard instance, the answers
of each step that give a spec, a walk through them and the finish. The HTTP tests and
benchmarks/wizard_steps.py drive the wizard with these same answers."""

import re


class Wizard:
    """One wizard instance driven through the test client: a new deployment, or (changing=a deployment)
    the wizard in edit mode, which opens on its review."""

    def __init__(self, client, query: str = "", *, changing=None):
        entry = f"/deployments/{changing.pk}/change/" if changing is not None else "/deployments/new/" + query
        response = client.get(entry)
        assert response.status_code == 302, response.status_code
        pattern = rf"^(/deployments/{changing.pk}/change/)([0-9a-f]+)/review/$" if changing is not None else \
            r"^(/deployments/new/)([0-9a-f]+)/start/"
        match = re.match(pattern, response["Location"])
        assert match, response["Location"]
        self.client, self.base, self.id, self.entry = client, match.group(1), match.group(2), response["Location"]

    def url(self, step: str) -> str:
        return f"{self.base}{self.id}/{step}/"

    def get(self, step: str):
        response = self.client.get(self.url(step))
        assert response.status_code == 200, (step, response.status_code, response.get("Location"))
        return response

    def post(self, step: str, data: dict, files: dict | None = None, raw: dict | None = None):
        payload = {f"{step}-{key}": value for key, value in data.items() if value is not None}
        payload[f"deploy_{self.id}-current_step"] = step
        payload.update(raw or {})
        payload.update(files or {})
        return self.client.post(self.url(step), payload)

    def next(self, step: str, data: dict, **kwargs) -> str:
        """Post a step that must be accepted; the name of the step it leads to."""
        response = self.post(step, data, **kwargs)
        if response.status_code != 302:
            form = response.context["form"]
            raise AssertionError(f"{step} was refused: {form.errors.as_data()}")
        return response["Location"].rstrip("/").rsplit("/", 1)[-1]

    def errors(self, step: str, data: dict, **kwargs) -> dict:
        response = self.post(step, data, **kwargs)
        assert response.status_code == 200, f"{step} was accepted: {response.get('Location')}"
        return {name: " ".join(errors) for name, errors in response.context["form"].errors.items()}

    def shown(self, step: str) -> dict:
        """What the step's page shows in its fields (stored, or filled in): what leaving it as is posts."""
        form = self.get(step).context["form"]
        data = {}
        for name, field in form.fields.items():
            if field.disabled:
                continue
            value = form[name].value()
            if value in (None, False, "", []):
                continue
            data[name] = "on" if value is True else value
        return data

    def goto(self, step: str, target: str, data: dict | None = None):
        """Leave `step` for `target` through the step list (or Back, or a link of the review), posting
        what the step shows unless `data` says otherwise; the response (a redirect to `target`)."""
        response = self.post(step, self.shown(step) if data is None else data, raw={"wizard_goto_step": target})
        assert response.status_code == 302 and response["Location"] == self.url(target), response.get("Location")
        return response

    def compute_row(self, cluster: str) -> int:
        form = self.get("compute").context["form"]
        return next(index for index, row in enumerate(form.rows) if row["cluster"].name == cluster)


def steps_for(spec: dict, vcenter, wizard: Wizard, nsx_manager=None) -> list[tuple[str, dict]]:
    """The answers of each step that give `spec`; the compute step's answer is the string
    "compute" (its rows depend on the inventory: compute_answer() fills it in)."""
    def network(net):
        return {"portgroup": net["portgroup"], "netmask": net["netmask"], "gateway": net["gateway"],
                "ip_ranges": "\n".join(f"{r['start']}-{r['end']}" for r in net["ip_ranges"]),
                "dns_servers": ", ".join(net["dns_servers"])}

    answers = [
        ("start", {"name": spec["name"], "source": "new"}),
        ("vcenter", {"vcenter": vcenter.pk}),
        ("datacenter", {"datacenter": spec["datacenter"], "topology": spec["topology"],
                        "management_cluster": spec["management_cluster"], "management_datastores": spec["management_datastores"]}),
        ("management_network", network(spec["management_network"])),
        ("external_network", network(spec["external_network"])),
        ("load_balancer", spec["load_balancer"]),
        ("compute", "compute"),
        ("glance", {"datastore": spec["glance_datastore"]}),
        ("neutron", {"mode": spec["neutron"]["mode"]}),
    ]
    if spec["neutron"]["mode"] == "dvs":
        answers.append(("dvs", spec["neutron"]["dvs"]))
    else:
        nsx = dict(spec["neutron"]["nsx"])
        nsx["manager"] = nsx_manager.pk
        answers.append(("nsx", nsx))
    answers += [
        ("keystone", {"admin_user": "admin", "admin_password": spec["keystone"]["admin_password"], "admin_project": "admin",
                      "backend": "sql"}),
        ("syslog", spec["syslog"]),
        ("appliance", {"url": spec["appliance_ova"]["url"]}),
    ]
    return answers


def compute_answer(spec: dict, form) -> dict:
    """The compute step's answer for `spec`, given the step's form (its rows, one per cluster)."""
    data = {}
    for entry in spec["compute_clusters"]:
        row = next(index for index, row in enumerate(form.rows) if row["cluster"].name == entry["cluster"])
        data[f"use_{row}"] = "on"
        if entry.get("datastores"):
            data[f"datastores_{row}"] = entry["datastores"]
        if entry.get("datastore_regex"):
            data[f"regex_{row}"] = entry["datastore_regex"]
    return data


def walk(wizard: Wizard, spec: dict, vcenter, *, until: str | None = None, nsx_manager=None) -> None:
    """Post every step (up to, not including, `until`) with the answers giving `spec`."""
    for step, data in steps_for(spec, vcenter, wizard, nsx_manager):
        if step == until:
            return
        if data == "compute":
            data = compute_answer(spec, wizard.get("compute").context["form"])
        wizard.next(step, data)


def acknowledgements(review) -> dict:
    """Every advisory warning of the review step's response, acknowledged."""
    return {name: "on" for name in review.context["form"].fields if name.startswith("ack_")}


def finish(wizard: Wizard):
    """Acknowledge every warning on the review step, deploy, follow to the deployment page."""
    response = wizard.post("review", acknowledgements(wizard.get("review")))
    assert response.status_code == 302 and response["Location"].endswith("/done/"), response.get("Location")
    return wizard.client.get(response["Location"])


def browser_client(page):
    """A test client signed in as the browser `page` is (its session cookie): steps walked through it
    are the browser's, and a browser test starts where the test needs it, without typing every step."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    cookie = next(c for c in page.context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME)
    client.cookies[settings.SESSION_COOKIE_NAME] = cookie["value"]
    return client
