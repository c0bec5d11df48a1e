"""Playbooks run through ansible-runner in a detached process that outlives the Celery task starting it: a
kolla-ansible deploy takes 30 minutes or more, a task takes seconds.

    handle = start(bundle_dir, stages, inventory=..., arguments=[...], timeout=...)   # returns at once
    state, events, error = poll(handle)   # cheap; advances handle["offset"]: keep the handle (checkpoint)
    cancel(handle)                         # the runner's cancel_callback stops ansible within a second

The process is `python -m deployments.engine.ansible <directory>`. It imports no Django and gets no secret from
its environment (the worker's keys and database URL stay out of ansible's env and artifacts). Its private data
directory, <bundle>/runner/<n>/ (0700, beside passwords.yml), holds:
  plan.json      what to run: stages (playbook + arguments), inventory, common arguments, deadline
  lock           flock-ed by the driver while it lives: a free lock means the driver is gone
  status.json    running (stage), then succeeded, failed (with the error) or cancelled
  events.jsonl   one line per event worth showing (plays, tasks, failures, per-stage recaps): task names,
                 hosts, statuses and failure messages scrubbed of every value in the secrets file; never vars
  cancel         made by cancel()
  output.log     what ansible printed, scrubbed the same way (ansible-runner's raw stdout is not written)
  artifacts/<stage>/  ansible-runner's own status and rc; its full job_events are not written
"""

import fcntl
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml

RUNNING, SUCCEEDED, FAILED, CANCELLED = "running", "succeeded", "failed", "cancelled"
TERMINAL = frozenset({SUCCEEDED, FAILED, CANCELLED})
MESSAGE_LIMIT = 600  # characters of a failure message kept
PROJECT_ROOT = Path(__file__).resolve().parents[2]
# What the detached process may inherit from the worker's environment; nothing else (no keys, no URLs).
INHERITED_ENV = ("HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "USER", "LOGNAME", "SSH_AUTH_SOCK", "TZ")


# === kolla-ansible: what `kolla-ansible bootstrap-servers`, `prechecks` and `deploy` run ======================


def kolla_stages(share: Path) -> list[dict]:
    """kolla_ansible.cli.commands: BootstrapServers runs kolla-host.yml, Prechecks and Deploy run site.yml,
    each with its kolla_action (share: <venv>/share/kolla-ansible)."""
    playbooks = share / "ansible"
    return [
        {"name": "bootstrap-servers", "playbook": str(playbooks / "kolla-host.yml"),
         "arguments": ["-e", "kolla_action=bootstrap-servers", "-e", "ansible_python_interpreter=auto_silent"]},
        {"name": "prechecks", "playbook": str(playbooks / "site.yml"), "arguments": ["-e", "kolla_action=precheck"]},
        {"name": "deploy", "playbook": str(playbooks / "site.yml"), "arguments": ["-e", "kolla_action=deploy"]},
    ]


def kolla_change_stages(share: Path, hosts: list[str], services: list[str]) -> list[dict]:
    """What a change runs: `bootstrap-servers` and `deploy` limited to the new hosts (`--limit`, as
    kolla-ansible's own -l), then `reconfigure` of the services whose configuration changed (`--tags`)."""
    playbooks, stages = share / "ansible", []
    if hosts:
        limit = ["--limit", ",".join(sorted(hosts))]
        stages += [
            {"name": "bootstrap-servers", "playbook": str(playbooks / "kolla-host.yml"),
             "arguments": ["-e", "kolla_action=bootstrap-servers", "-e", "ansible_python_interpreter=auto_silent", *limit]},
            {"name": "deploy", "playbook": str(playbooks / "site.yml"), "arguments": ["-e", "kolla_action=deploy", *limit]},
        ]
    if services:
        stages.append({"name": "reconfigure", "playbook": str(playbooks / "site.yml"),
                       "arguments": ["-e", "kolla_action=reconfigure", "--tags", ",".join(sorted(services))]})
    return stages


def kolla_arguments(bundle_dir: Path) -> list[str]:
    """kolla_ansible.ansible.build_args for a config dir: globals.yml, passwords.yml, globals.d/*, CONFIG_DIR."""
    bundle_dir = Path(bundle_dir).resolve()
    arguments = ["-e", f"@{bundle_dir / 'globals.yml'}", "-e", f"@{bundle_dir / 'passwords.yml'}"]
    extra = bundle_dir / "globals.d"
    if extra.is_dir():
        for path in sorted(extra.iterdir()):
            if path.suffix in (".yml", ".yaml", ".json") and path.is_file():
                arguments += ["-e", f"@{path}"]
    return arguments + ["-e", f"CONFIG_DIR={bundle_dir}"]


# === the caller's side: start, poll, cancel =================================================================


def start(bundle_dir, stages: list[dict], *, inventory, arguments: list[str] = (), timeout: float,
          secrets_file=None, env: dict | None = None) -> dict:
    """Start the stages in order in a detached process; the handle (JSON-able) is all poll/cancel need."""
    root = Path(bundle_dir) / "runner"
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    number = 1 + max((int(p.name) for p in root.iterdir() if p.name.isdigit()), default=0)
    directory = root / str(number)
    directory.mkdir(mode=0o700)
    plan = {"stages": stages, "inventory": str(inventory), "arguments": list(arguments), "timeout": timeout,
            "deadline": time.time() + timeout, "secrets_file": str(secrets_file) if secrets_file else "",
            "env": dict(env or {})}
    _write_json(directory / "plan.json", plan)
    _write_json(directory / "status.json", {"state": RUNNING, "stage": "", "error": ""})
    with open(directory / "driver.log", "ab") as log:
        launcher = subprocess.run([sys.executable, "-m", "deployments.engine.ansible", str(directory)],
                                  cwd=directory, env=_clean_env(), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                  timeout=60)
    if launcher.returncode != 0:
        raise RuntimeError(f"the ansible-runner driver did not start (exit {launcher.returncode}); see {directory}/driver.log")
    pid = int((directory / "driver.pid").read_text())
    return {"directory": str(directory), "pid": pid, "offset": 0, "secrets_file": plan["secrets_file"],
            "stages": [stage["name"] for stage in stages]}


def poll(handle: dict) -> tuple[str, list[dict], str]:
    """(state, the events since the last poll, error). Moves handle["offset"] past the events returned."""
    directory = Path(handle["directory"])
    # The status first: the driver writes every event before its final status, so none is missed.
    status = _read_json(directory / "status.json")
    events = _read_events(directory / "events.jsonl", handle)
    if status.get("state", RUNNING) == RUNNING and not _alive(directory):
        status = _read_json(directory / "status.json")  # it may have finished between the two reads
        events += _read_events(directory / "events.jsonl", handle)
        if status.get("state", RUNNING) == RUNNING:
            status = {"state": FAILED, "error": "the ansible-runner process ended without a result (killed, or the "
                                                f"appliance restarted); its log is {directory}/driver.log"}
    state, error = status.get("state", RUNNING), status.get("error", "")
    scrub = _Scrubber.from_file(handle.get("secrets_file"))
    return state, [scrub.record(event) for event in events], scrub(error)


def cancel(handle: dict, wait: float = 0.0) -> bool:
    """Ask the driver to stop ansible (the runner's cancel_callback sees the request within a second). With
    wait, wait that long for it to end, then terminate it. True when the driver has ended."""
    directory = Path(handle["directory"])
    (directory / "cancel").touch()
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if not _alive(directory):
            return True
        time.sleep(0.2)
    if wait and _alive(directory):
        try:
            os.kill(handle["pid"], signal.SIGTERM)  # the driver turns SIGTERM into the same cancellation
        except ProcessLookupError:
            pass
    return not _alive(directory)


def describe(events: list[dict], state: dict, *, label: str = "ansible", every: float = 15.0,
             now: float | None = None) -> list[tuple[str, str]]:
    """(level, message) lines for a run's event log: stages, plays and failures always; task names at most one
    per `every` seconds. `state` (JSON-able) carries the throttle between calls."""
    now = time.time() if now is None else now
    lines = []
    for event in events:
        kind, stage = event.get("type"), event.get("stage", "")
        if kind == "stage":
            level = "error" if event.get("state") in (FAILED, "timeout") else "info"
            lines.append((level, f"{label} {stage}: {event.get('state')}."))
        elif kind == "play":
            lines.append(("info", f"{stage}: play {event.get('name')}"))
        elif kind == "task":
            state["tasks"] = state.get("tasks", 0) + 1
            if now - state.get("last", 0) >= every:
                lines.append(("info", f"{stage}: task {event.get('task')} ({state['tasks']} tasks so far)"))
                state["last"] = now
        elif kind in ("failed", "unreachable") and not event.get("ignored"):
            what = "unreachable" if kind == "unreachable" else "failed"
            lines.append(("error", f"{stage}: task {event.get('task')} {what} on {event.get('host')}: {event.get('msg')}"))
        elif kind == "recap":
            hosts = "; ".join(f"{host} ok={c.get('ok', 0)} changed={c.get('changed', 0)} failed={c.get('failures', 0)} "
                              f"unreachable={c.get('dark', 0)}" for host, c in sorted(event.get("hosts", {}).items()))
            lines.append(("info", f"{stage} recap: {hosts or 'no hosts'}"))
    return lines


def _clean_env() -> dict:
    env = {name: os.environ[name] for name in INHERITED_ENV if name in os.environ}
    env.update({name: value for name, value in os.environ.items() if name.startswith("ANSIBLE_")})
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"])
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    return env


def _alive(directory: Path) -> bool:
    try:
        with open(directory / "lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(lock, fcntl.LOCK_UN)
            return False
    except BlockingIOError:
        return True
    except FileNotFoundError:  # the directory itself is gone (torn down)
        return False


def _read_events(path: Path, handle: dict) -> list[dict]:
    """Whole lines after handle["offset"] (a line still being written waits for the next poll)."""
    try:
        with open(path, "rb") as stream:
            stream.seek(handle.get("offset", 0))
            data = stream.read()
    except FileNotFoundError:
        return []
    complete = data[: data.rfind(b"\n") + 1]
    handle["offset"] = handle.get("offset", 0) + len(complete)
    return [json.loads(line) for line in complete.splitlines() if line.strip()]


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def _write_json(path: Path, data: dict) -> None:
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(data))
    os.chmod(partial, 0o600)
    os.replace(partial, path)


class _Scrubber:
    """Replaces every secret value (strings of passwords.yml, nested ones and lines of multi-line ones too)."""

    def __init__(self, values):
        self.values = sorted({v for v in values if len(v) >= 4}, key=len, reverse=True)

    @classmethod
    def from_file(cls, path) -> "_Scrubber":
        if not path or not Path(path).exists():
            return cls([])
        values = []

        def collect(value):
            if isinstance(value, dict):
                for item in value.values():
                    collect(item)
            elif isinstance(value, list):
                for item in value:
                    collect(item)
            elif value is not None and not isinstance(value, bool):
                text = str(value)
                values.append(text)
                values.extend(line.strip() for line in text.splitlines() if len(line.strip()) >= 16)

        collect(yaml.safe_load(Path(path).read_text()) or {})
        return cls(values)

    def __call__(self, text):
        if not isinstance(text, str):
            return text
        for value in self.values:
            text = text.replace(value, "********")
        return text

    def record(self, event: dict) -> dict:
        return {key: self(value) if isinstance(value, str) else value for key, value in event.items()}


# === the detached driver ======================================================================================


def _failure_message(result) -> str:
    """The readable part of a failed task's result: msg, else stderr, else the reason; items of a loop too."""
    if not isinstance(result, dict):
        return str(result or "")
    for item in result.get("results") or []:
        if isinstance(item, dict) and (item.get("failed") or item.get("unreachable")):
            found = _failure_message(item)
            if found:
                return found
    for key in ("msg", "stderr", "reason", "censored", "module_stderr", "exception"):
        value = result.get(key)
        if value:
            return str(value).strip()
    return f"exit code {result['rc']}" if "rc" in result else ""


class _EventWriter:
    """The runner's event_handler: appends the readable part of each event to events.jsonl and tells
    ansible-runner not to write the full event (it carries module arguments and results)."""

    def __init__(self, directory: Path, scrub: _Scrubber):
        self.path, self.output, self.scrub = directory / "events.jsonl", directory / "output.log", scrub
        self.stage, self.sequence = "", 0
        for path in (self.path, self.output):
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        self.last_failure = ""
        self.lock = threading.Lock()

    def write(self, record: dict) -> None:
        with self.lock:
            self.sequence += 1
            record = self.scrub.record({"seq": self.sequence, "stage": self.stage, "time": time.time(), **record})
            with open(self.path, "a", encoding="utf-8") as stream:
                stream.write(json.dumps(record) + "\n")

    def __call__(self, event: dict) -> bool:
        kind, data = event.get("event", ""), event.get("event_data") or {}
        if event.get("stdout"):
            with self.lock, open(self.output, "a", encoding="utf-8") as stream:
                stream.write(self.scrub(event["stdout"]) + "\n")
        if kind == "playbook_on_play_start":
            self.write({"type": "play", "name": data.get("play") or data.get("name") or ""})
        elif kind == "playbook_on_task_start":
            self.write({"type": "task", "task": data.get("task") or ""})
        elif kind in ("runner_on_failed", "runner_on_unreachable"):
            ignored = bool(data.get("ignore_errors"))
            msg = self.scrub(_failure_message(data.get("res")))[:MESSAGE_LIMIT]
            record = {"type": "unreachable" if kind == "runner_on_unreachable" else "failed", "task": data.get("task", ""),
                      "host": data.get("host", ""), "msg": msg, "ignored": ignored}
            self.write(record)
            if not ignored:
                verb = "could not reach" if record["type"] == "unreachable" else "failed on"
                self.last_failure = f"task '{record['task']}' {verb} {record['host']}: {msg}"
        elif kind == "playbook_on_stats":
            hosts: dict[str, dict] = {}
            for counter in ("ok", "changed", "failures", "dark", "skipped"):
                for host, count in (data.get(counter) or {}).items():
                    hosts.setdefault(host, {})[counter] = count
            self.write({"type": "recap", "hosts": hosts})
        return False


def _run(directory: Path, cancelled: threading.Event) -> dict:
    import ansible_runner

    plan = _read_json(directory / "plan.json")
    scrub = _Scrubber.from_file(plan.get("secrets_file"))
    writer = _EventWriter(directory, scrub)
    requested = lambda: cancelled.is_set() or (directory / "cancel").exists()  # noqa: E731
    for stage in plan["stages"]:
        writer.stage = stage["name"]
        if requested():
            writer.write({"type": "stage", "state": CANCELLED})
            return {"state": CANCELLED, "stage": stage["name"], "error": f"cancelled before {stage['name']}"}
        remaining = plan["deadline"] - time.time()
        if remaining <= 0:
            return {"state": FAILED, "stage": stage["name"],
                    "error": f"did not finish within {plan['timeout']:.0f} s (before {stage['name']})"}
        _write_json(directory / "status.json", {"state": RUNNING, "stage": stage["name"], "error": ""})
        writer.write({"type": "stage", "state": "started"})
        runner = ansible_runner.run(
            private_data_dir=str(directory), ident=stage["name"], playbook=stage["playbook"],
            inventory=plan["inventory"], cmdline=shlex.join(plan["arguments"] + stage.get("arguments", [])),
            envvars=plan.get("env") or {}, quiet=True, cancel_callback=requested, event_handler=writer,
            timeout=max(int(remaining), 1), rotate_artifacts=0,
            settings={"pexpect_timeout": 1, "suppress_ansible_output": True, "suppress_output_file": True},
        )
        if runner.status == "successful":
            writer.write({"type": "stage", "state": SUCCEEDED})
            continue
        if runner.status == "canceled":
            writer.write({"type": "stage", "state": CANCELLED})
            return {"state": CANCELLED, "stage": stage["name"], "error": f"cancelled during {stage['name']}"}
        if runner.status == "timeout":
            writer.write({"type": "stage", "state": "timeout"})
            return {"state": FAILED, "stage": stage["name"],
                    "error": f"{stage['name']} did not finish within {plan['timeout']:.0f} s: it was stopped"}
        writer.write({"type": "stage", "state": FAILED})
        error = writer.last_failure or f"ansible-playbook ended with exit code {runner.rc}: {_tail(directory)}"
        return {"state": FAILED, "stage": stage["name"], "error": scrub(f"{stage['name']}: {error}")}
    return {"state": SUCCEEDED, "stage": "", "error": ""}


def _tail(directory: Path, lines: int = 4) -> str:
    """The last lines ansible printed (a syntax error, a missing file: no task failed)."""
    try:
        text = (directory / "output.log").read_text(errors="replace")
    except OSError:
        return "no output"
    kept = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
    return " / ".join(kept)[-MESSAGE_LIMIT:] or "no output"


def main(argv: list[str]) -> int:
    directory = Path(argv[0]).resolve()
    lock = open(directory / "lock", "a")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print(f"a driver already runs in {directory}", file=sys.stderr)
        return 1
    child = os.fork()
    if child:  # the launcher returns; the child (holding the lock) is adopted by init, which reaps it
        (directory / "driver.pid").write_text(str(child))
        os._exit(0)
    os.setsid()
    cancelled = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: cancelled.set())
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        result = _run(directory, cancelled)
    except Exception as exc:  # recorded, so poll() reports it instead of a vanished process
        import traceback

        traceback.print_exc()
        result = {"state": FAILED, "stage": "", "error": f"the ansible-runner driver failed: {exc.__class__.__name__}: {exc}"}
    _write_json(directory / "status.json", result)
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
