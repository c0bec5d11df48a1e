"""A deployed cloud as OpenStack itself sees it, through openstacksdk. check_cloud validates a new cloud (the
validate step): a Keystone token for the admin, then Nova's hypervisor list, in which every compute cluster
of the spec must appear. observe_cloud is health's look at a running one: nova-compute services, hypervisors,
Neutron agents and the catalog's public endpoints.

Where Keystone is comes from the rendered kolla-ansible bundle (globals.yml), as kolla-ansible 2025.1 builds
keystone_public_url: {public_protocol}://{kolla_external_fqdn}:{keystone_public_port}, public_protocol https
when kolla_enable_tls_external. With TLS, the CA is the one kolla generated into the bundle
(certificates/ca/root.crt), else the system's (a certificate the administrator gave, from a public CA).

Nova's vmware driver names each node "<cluster moid>.<vCenter instanceUuid>" (nova/virt/vmwareapi/driver.py,
_create_nodename), which is what hypervisor_hostname shows.
"""

import contextlib
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import yaml

TRUE = {"yes", "true", "on", "1"}
DEFAULT_PORT = 5000


class CloudCheckFailed(Exception):
    """The cloud does not answer as it should; the message says what to look at."""


@dataclass(frozen=True)
class KeystoneEndpoint:
    url: str  # the auth URL, .../v3
    verify: bool | str  # True (system CAs) or the path of the CA bundle
    vip: str = ""  # the public VIP, for the messages


def _yes(value) -> bool:
    return str(value).strip().lower() in TRUE


def keystone_endpoint(bundle_dir) -> KeystoneEndpoint:
    """The public Keystone URL the bundle's kolla-ansible configuration serves."""
    bundle_dir = Path(bundle_dir)
    settings = yaml.safe_load((bundle_dir / "globals.yml").read_text()) or {}
    vip = str(settings.get("kolla_external_vip_address") or settings.get("kolla_internal_vip_address") or "")
    host = str(settings.get("kolla_external_fqdn") or vip)
    same_vip = vip == str(settings.get("kolla_internal_vip_address") or vip)
    if "kolla_enable_tls_external" in settings:
        tls = _yes(settings["kolla_enable_tls_external"])
    else:  # kolla's default: like the internal side when both share one VIP, else no
        tls = same_vip and _yes(settings.get("kolla_enable_tls_internal", "no"))
    if _yes(settings.get("haproxy_single_external_frontend", "no")):
        port = settings.get("haproxy_single_external_frontend_public_port") or (443 if tls else 80)
    else:
        port = settings.get("keystone_public_port") or settings.get("keystone_public_listen_port") or DEFAULT_PORT
    verify: bool | str = True
    root = bundle_dir / "certificates" / "ca" / "root.crt"
    if tls and root.exists():
        verify = str(root)
    address = f"[{host}]" if ":" in host else host
    return KeystoneEndpoint(url=f"{'https' if tls else 'http'}://{address}:{port}/v3", verify=verify, vip=vip)


def _cause(exc: BaseException):
    """openstacksdk's authorize() re-raises keystoneauth's errors as SDKException: the original is its context."""
    return exc.__cause__ or exc.__context__ or exc


@contextlib.contextmanager
def _connected(endpoint: KeystoneEndpoint, *, username: str, password: str, project: str, domain: str,
               timeout: float):
    """An openstacksdk connection holding a token for the admin; CloudCheckFailed in words otherwise."""
    import openstack
    from keystoneauth1 import exceptions as ks

    host = urlsplit(endpoint.url).hostname or ""
    try:
        socket.getaddrinfo(host, None)
    except (socket.gaierror, UnicodeError):
        raise CloudCheckFailed(f"{host} does not resolve: add a DNS record pointing it to the public VIP {endpoint.vip}, "
                               "then retry.") from None
    conn = openstack.connect(
        load_yaml_config=False, load_envvars=False, auth_type="password", app_name="vio-manager",
        auth={"auth_url": endpoint.url, "username": username, "password": password, "project_name": project,
              "user_domain_name": domain, "project_domain_name": domain},
        verify=endpoint.verify, api_timeout=timeout, connect_retries=1, status_code_retries=0,
    )
    try:
        try:
            conn.authorize()
        except Exception as exc:
            raise CloudCheckFailed(_auth_problem(_cause(exc), endpoint, username, project, ks)) from None
        yield conn
    finally:
        conn.close()


def check_cloud(endpoint: KeystoneEndpoint, *, username: str, password: str, project: str,
                clusters: dict[str, str], vcenter_uuid: str = "", domain: str = "Default",
                timeout: float = 30) -> dict:
    """{"keystone": url, "hypervisors": [names]}; CloudCheckFailed with what to fix otherwise.
    clusters: compute cluster name -> its moid (domain-c…)."""
    with _connected(endpoint, username=username, password=password, project=project, domain=domain,
                    timeout=timeout) as conn:
        try:
            hypervisors = list(conn.compute.hypervisors(details=True))
        except Exception as exc:
            cause = _cause(exc)
            raise CloudCheckFailed(f"Keystone gave a token, but Nova's hypervisor list failed: {cause}. Check that "
                                   "nova-api runs on the controllers and that its public endpoint is reachable "
                                   "from this appliance.") from None
    names = sorted(h.name or "" for h in hypervisors)
    if not names:
        raise CloudCheckFailed("Nova lists no hypervisors yet: nova-compute has not registered any vCenter cluster. "
                               "Check the nova_compute containers' logs on the compute VMs (vCenter address, "
                               "user, password and CA) and retry this step in a few minutes.")
    missing = [name for name, moid in sorted(clusters.items()) if not any(_serves(n, moid, vcenter_uuid) for n in names)]
    if missing:
        raise CloudCheckFailed(f"Nova lists the hypervisors {', '.join(names)}, but none for the compute cluster(s) "
                               f"{', '.join(f'{n} ({clusters[n]})' for n in missing)}: check the nova_compute "
                               "container of their compute VM and retry this step.")
    return {"keystone": endpoint.url, "hypervisors": names}


def _problem(kind: str, key: str, severity: str, message: str, advice: str, objects: list) -> dict:
    """One thing OpenStack itself reports wrong, in the fields of a health finding."""
    return {"id": f"{kind}:{key}", "kind": kind, "severity": severity, "message": message, "advice": advice,
            "objects": objects}


def observe_cloud(endpoint: KeystoneEndpoint, *, username: str, password: str, project: str,
                  clusters: dict[str, str], vcenter_uuid: str = "", domain: str = "Default",
                  timeout: float = 10) -> dict:
    """OpenStack's own view of a running cloud, for health: each compute cluster has its hypervisor and an
    enabled nova-compute service that is up, every Neutron agent is alive, every public endpoint of the
    catalog answers. {"keystone", "summary", "problems": [finding fields]}; CloudCheckFailed when not even
    a token can be had (the message says what to look at)."""
    with _connected(endpoint, username=username, password=password, project=project, domain=domain,
                    timeout=timeout) as conn:
        catalog = conn.session.auth.get_access(conn.session).service_catalog.catalog or []
        types = {entry.get("type") for entry in catalog}
        problems: list[dict] = []
        services = hypervisors = agents = ()
        try:
            services = list(conn.compute.services(binary="nova-compute"))
            hypervisors = list(conn.compute.hypervisors(details=True))
        except Exception as exc:
            problems.append(_problem("nova_api_failing", "nova", "error",
                                     f"Nova's API did not answer its service and hypervisor lists: {_cause(exc)}.",
                                     "Check the nova_api containers on the controllers and the load balancer.", []))
        else:
            problems += _compute_problems(services, hypervisors, clusters, vcenter_uuid)
        if "network" in types:
            try:
                agents = list(conn.network.agents())
            except Exception as exc:
                problems.append(_problem("neutron_api_failing", "neutron", "error",
                                         f"Neutron's API did not answer its agent list: {_cause(exc)}.",
                                         "Check the neutron_server containers on the controllers.", []))
        for agent in agents:
            if agent.is_alive is False:
                where = f"{agent.binary or agent.agent_type} on {agent.host}"
                problems.append(_problem(
                    "neutron_agent_down", where, "error" if agent.is_admin_state_up else "warning",
                    f"The Neutron agent {where} has not reported since {agent.last_heartbeat_at or 'it started'}.",
                    f"Check its container on {agent.host} (docker ps, its log); it reports again once it runs.",
                    [{"type": "NeutronAgent", "name": where, "moid": ""}]))
        endpoints = _public_endpoints(catalog)
        for name, url in endpoints:
            trouble = _not_answering(url, endpoint.verify, timeout)
            if trouble:
                problems.append(_problem(
                    "endpoint_down", name, "error", f"The public endpoint of {name} ({url}) does not answer: {trouble}.",
                    f"Check the {name} containers on the controllers and haproxy on the load balancers.",
                    [{"type": "Endpoint", "name": name, "moid": ""}]))
    summary = {"compute_services": len(services), "hypervisors": len(hypervisors), "agents": len(agents),
               "endpoints": len(endpoints)}
    return {"keystone": endpoint.url, "summary": summary, "problems": problems}


def _compute_problems(services, hypervisors, clusters: dict[str, str], vcenter_uuid: str) -> list[dict]:
    problems = []
    by_host = {s.host: s for s in services}
    for cluster, moid in sorted(clusters.items()):
        ref = [{"type": "ClusterComputeResource", "name": cluster, "moid": moid}]
        hypervisor = next((h for h in hypervisors if _serves(h.name or "", moid, vcenter_uuid)), None)
        if hypervisor is None:
            problems.append(_problem(
                "hypervisor_missing", cluster, "error", f"Nova lists no hypervisor for the compute cluster {cluster}.",
                "Check the nova_compute container of its compute VM (vCenter address, user, password and CA).", ref))
            continue
        host = (hypervisor.service_details or {}).get("host", "")
        service = by_host.get(host)
        if service is None:
            continue  # the hypervisor names no service this listing has: nothing to judge
        where = f"nova-compute on {host}"
        ref = ref + [{"type": "NovaService", "name": where, "moid": ""}]
        if service.state != "up":
            problems.append(_problem(
                "nova_compute_down", cluster, "error",
                f"{where}, which serves the compute cluster {cluster}, is down (last report {service.updated_at or 'never'}).",
                f"Check the nova_compute container on {host}: new instances cannot be placed on {cluster} until it "
                "reports again.", ref))
        elif service.status != "enabled":
            reason = f" ({service.disabled_reason})" if service.disabled_reason else ""
            problems.append(_problem(
                "nova_compute_disabled", cluster, "warning",
                f"{where}, which serves the compute cluster {cluster}, is disabled{reason}.",
                f"Enable it when the work is done: openstack compute service set --enable {host} nova-compute.", ref))
    return problems


def _public_endpoints(catalog: list) -> list[tuple[str, str]]:
    found = []
    for entry in catalog:
        for item in entry.get("endpoints") or []:
            if item.get("interface") == "public" and item.get("url"):
                found.append((entry.get("name") or entry.get("type") or "?", item["url"]))
    return sorted(found)


def _not_answering(url: str, verify, timeout: float) -> str:
    """Why url does not answer ("" when it does: any HTTP answer below 500, redirects not followed)."""
    import requests

    try:
        answer = requests.get(url, timeout=timeout, verify=verify, allow_redirects=False)
    except requests.RequestException as exc:
        return exc.__class__.__name__
    return f"HTTP {answer.status_code}" if answer.status_code >= 500 else ""


def _serves(hypervisor: str, moid: str, vcenter_uuid: str) -> bool:
    if vcenter_uuid:
        return hypervisor.lower() == f"{moid}.{vcenter_uuid}".lower()
    return hypervisor.startswith(f"{moid}.")


def _auth_problem(cause, endpoint: KeystoneEndpoint, username: str, project: str, ks) -> str:
    url = endpoint.url
    if isinstance(cause, ks.Unauthorized):
        return (f"Keystone at {url} refused the admin user '{username}' of project '{project}' (HTTP 401): the "
                "password is not the one the cloud was deployed with. Correct the admin password of the deployment, "
                "or reset it in Keystone, then retry this step.")
    if isinstance(cause, ks.SSLError):
        return (f"The certificate of {url} is not trusted ({cause}). With kolla's own certificates the bundle's "
                "certificates/ca/root.crt must be the CA that signed it; with your own, it must come from a CA this "
                "appliance trusts.")
    if isinstance(cause, (ks.ConnectFailure, ks.ConnectTimeout, ks.DiscoveryFailure)):
        return (f"Keystone at {url} cannot be reached ({cause.__class__.__name__}): check that the load balancer VMs "
                f"are running and hold the public VIP {endpoint.vip}, that haproxy and keystone run, and that this "
                "appliance can reach that address.")
    if isinstance(cause, ks.HttpError):
        return f"Keystone at {url} answered HTTP {cause.http_status}: {cause.message}. Check the keystone containers."
    return f"Getting a token from Keystone at {url} failed: {cause}"
