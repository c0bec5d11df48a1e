"""Where a run's time went: its steps as segments on a time line, in lanes (one per VM in plan order,
one "Shared" lane for the steps that act on no single VM), and the critical path, the chain of
steps whose finish times made the run end when it did.

Per step, from its StepAttempt rows (one per attempt, kept after the step moves on):
- waiting: the step was ready (every dependency done) but had no slot under the concurrency limits:
  from ready_at to the first attempt's claim, and, after an attempt whose worker was lost, from the
  end of that attempt to the next claim (or, for a step that waits now, up to now);
- queued: an attempt had a slot and waited for a worker to take it (claimed_at to started_at);
- running: a worker executed the attempt (started_at to finished_at, or now), ending in the
  attempt's outcome (succeeded, failed, worker lost, stalled, ...).

Three indexed queries (the run, its steps, their attempts), whatever the run's size: the API and
the deployment page ask again every few seconds while a run is live. picture() lays the result
out for the SVG the deployment page shows (templates/deployments/_timeline.html)."""

from datetime import timedelta
from datetime import timezone as tz

from django.utils import timezone

from deployments.choices import RUN_ACTIVE, AttemptOutcome, StepStatus
from deployments.models import Run, StepAttempt, StepRun
from deployments.plan import describe

SHARED = "Shared"
WAITING, QUEUED, RUNNING = "waiting", "queued", "running"  # kinds of segment
SEGMENT_KINDS = (WAITING, QUEUED, RUNNING)
STEP_FIELDS = ("id", "run_id", "key", "kind", "target", "depends_on", "status", "ready_at", "finished_at")


class TimelineNotFound(Exception):
    pass


def _seconds(start, end) -> float:
    return round(max(0.0, (end - start).total_seconds()), 1)


def _segment(kind, start, end, attempt=None, outcome=None, ongoing=False) -> dict:
    return {"kind": kind, "attempt": attempt, "outcome": outcome, "start": start, "end": end,
            "seconds": _seconds(start, end), "ongoing": ongoing}


def _wait_start(ready_at, previous: StepAttempt | None, before=None):
    """When the wait for a slot before the next claim (at `before`, None: not claimed yet) began.
    The first attempt waits from ready_at. After a lost attempt the step is pending again at once and
    waits from that attempt's end. After any other outcome a person resumed the run (or a recheck found
    the step's objects gone): ready_at was cleared then and set again when the step was ready, so a
    ready_at older than the previous attempt's end says nothing about this wait."""
    ready = ready_at if ready_at is not None and (before is None or ready_at <= before) else None
    if previous is None:
        return ready
    ended = previous.finished_at or previous.started_at or previous.claimed_at
    if ready is not None and ready >= ended:
        return ready
    return ended if previous.outcome == AttemptOutcome.LOST else None


def _step_segments(step: StepRun, attempts: list[StepAttempt], end, live: bool) -> list[dict]:
    segments, previous = [], None
    for attempt in attempts:
        waited = _wait_start(step.ready_at, previous, attempt.claimed_at)
        if waited is not None and waited < attempt.claimed_at:
            segments.append(_segment(WAITING, waited, attempt.claimed_at))
        open_ = attempt.finished_at is None
        outcome = attempt.outcome if not open_ else AttemptOutcome.RUNNING
        stop = attempt.finished_at or end
        # Clocks of two machines (the claiming and the executing worker) may disagree a little.
        taken = max(attempt.started_at, attempt.claimed_at) if attempt.started_at else None
        segments.append(_segment(QUEUED, attempt.claimed_at, max(attempt.claimed_at, min(taken or stop, stop)),
                                 attempt.number, outcome, ongoing=open_ and taken is None and live))
        if taken is not None:
            segments.append(_segment(RUNNING, taken, max(taken, stop), attempt.number, outcome, ongoing=open_ and live))
        previous = attempt
    if step.status in (StepStatus.PENDING, StepStatus.CANCELLED) and (previous is None or previous.finished_at):
        waited = _wait_start(step.ready_at, previous)
        stop = step.finished_at if step.status == StepStatus.CANCELLED and step.finished_at else end
        if waited is not None and waited < stop:
            segments.append(_segment(WAITING, waited, stop, ongoing=live and step.status == StepStatus.PENDING))
    return segments


def _pack_rows(steps: list[dict]) -> int:
    """Give each step of a lane a row so that steps overlapping in time sit on different rows (the
    shared lane runs the OVA import beside the folders; a teardown removes four things at once)."""
    ends: list = []  # per row, the end of its last step
    started = [(step["start"], index, step) for index, step in enumerate(steps) if step["start"] is not None]
    for _, _, step in sorted(started, key=lambda item: item[:2]):  # at the same time: in the graph's order
        row = next((i for i, last in enumerate(ends) if last <= step["start"]), None)
        if row is None:
            row = len(ends)
            ends.append(step["end"])
        ends[row] = step["end"]
        step["row"] = row
    return max(1, len(ends))


def _critical_path(steps: list[dict], start) -> dict:
    """Walk back from the step that finished last through the dependency that finished last."""
    by_key = {step["key"]: step for step in steps}
    order = {step["key"]: index for index, step in enumerate(steps)}
    finished = [step for step in steps if step["end"] is not None]
    path: list[dict] = []
    current = max(finished, key=lambda s: (s["end"], order[s["key"]]), default=None)
    while current is not None and current not in path:
        path.append(current)
        before = [by_key[key] for key in current["depends_on"] if key in by_key and by_key[key]["end"] is not None]
        current = max(before, key=lambda s: (s["end"], order[s["key"]]), default=None)
    path.reverse()
    sums = {kind: round(sum(seg["seconds"] for step in path for seg in step["segments"] if seg["kind"] == kind), 1)
            for kind in SEGMENT_KINDS}
    seconds = _seconds(start, path[-1]["end"]) if path else 0.0
    for step in path:
        step["critical"] = True
    return {
        "steps": [{"key": s["key"], "label": s["label"], "seconds": _seconds(s["start"], s["end"])} for s in path],
        "seconds": seconds, "waiting_seconds": sums[WAITING], "queued_seconds": sums[QUEUED],
        "running_seconds": sums[RUNNING],
        "other_seconds": round(max(0.0, seconds - sum(sums.values())), 1),
    }


def timeline(run: Run, now=None) -> dict:
    """The run's steps as lanes of segments, the critical path and the totals (see the module's doc)."""
    now = now or timezone.now()
    live = run.status in RUN_ACTIVE
    steps = list(StepRun.objects.filter(run_id=run.pk).only(*STEP_FIELDS).order_by("id"))
    attempts: dict[int, list[StepAttempt]] = {}
    for attempt in (StepAttempt.objects.filter(step__run_id=run.pk)
                    .only("step_id", "number", "claimed_at", "started_at", "finished_at", "outcome")
                    .order_by("step_id", "number")):
        attempts.setdefault(attempt.step_id, []).append(attempt)
    end = now if live or run.finished_at is None else run.finished_at

    rows, lanes = [], {}
    for step in steps:
        segments = _step_segments(step, attempts.get(step.pk, []), end, live)
        row = {
            "key": step.key, "kind": step.kind, "target": step.target, "label": describe(step.kind, step.target),
            "status": step.status, "depends_on": list(step.depends_on), "attempts": len(attempts.get(step.pk, [])),
            "row": 0, "critical": False, "segments": segments,
            "start": segments[0]["start"] if segments else None,
            "end": max(seg["end"] for seg in segments) if segments else None,
        }
        rows.append(row)
        lanes.setdefault(step.target, []).append(row)
    starts = [row["start"] for row in rows if row["start"] is not None]
    start = min([run.started_at or run.created_at, *starts])
    end = max([end, *(row["end"] for row in rows if row["end"] is not None)])
    critical = _critical_path(rows, start)

    ordered = [("", lanes.pop(""))] if "" in lanes else []
    ordered += list(lanes.items())  # the VMs in plan order: the graph lists their steps in it
    segments = [seg for row in rows for seg in row["segments"]]

    def total(kind=None, outcome=None) -> float:
        return round(sum(seg["seconds"] for seg in segments if (kind is None or seg["kind"] == kind)
                         and (outcome is None or seg["outcome"] == outcome)), 1)

    all_attempts = [a for group in attempts.values() for a in group]
    return {
        "run": run.number, "kind": run.kind, "status": run.status, "live": live, "start": start, "end": end,
        "lanes": [{"name": target or SHARED, "vm": target, "rows": _pack_rows(steps_of), "steps": steps_of}
                  for target, steps_of in ordered],
        "critical_path": critical,
        "totals": {
            "wall_seconds": _seconds(start, end), "waiting_seconds": total(WAITING), "queued_seconds": total(QUEUED),
            "running_seconds": total(RUNNING), "lost_seconds": total(outcome=AttemptOutcome.LOST),
            "attempts": len(all_attempts),
            "lost_attempts": sum(1 for a in all_attempts if a.outcome == AttemptOutcome.LOST),
        },
    }


def run_of(deployment_id: int, number: int) -> Run:
    """The deployment's run with this number, without its spec (TimelineNotFound if there is none)."""
    run = Run.objects.filter(deployment_id=deployment_id, number=number).defer("spec").first()
    if run is None:
        raise TimelineNotFound(f"Deployment {deployment_id} has no run {number}.")
    return run


# --- the picture ------------------------------------------------------------------------------
# Geometry for templates/deployments/_timeline.html, which draws it as SVG (the template escapes
# every name). Widths in px: a label column for the lanes, then the time axis.

LABEL_W, PLOT_W, PAD_R, AXIS_H, PAD_B = 184, 970, 24, 24, 6  # 1178 wide: the card at the widest page
ROW_H, LANE_PAD = 18, 4
BAR_H = {RUNNING: 12, QUEUED: 8, WAITING: 6}  # thinner: no work was being done
MIN_BAR_W = 2
LABEL_CHARS = 24  # what fits the label column at 12 px
TICK_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
SHORT = {"preflight": "pre-flight", "nsx_checks": "NSX checks", "import_ova": "import OVA", "folders": "folders",
         "clone": "clone", "customize": "customize", "power_on": "power on", "wait_guest": "guest",
         "anti_affinity": "anti-affinity", "render_bundle": "render", "configure": "kolla-ansible",
         "validate": "validate", "remove_rules": "rules", "remove_vms": "delete VMs", "remove_pool": "pool",
         "remove_folder": "folder", "remove_template": "template", "remove_files": "files",
         "verify_removed": "verify", "release_addresses": "addresses"}
LEGEND = (("seg seg-waiting", "waiting for a slot"), ("seg seg-queued", "queued for a worker"),
          ("seg seg-running o-running", "running now"), ("seg seg-running o-succeeded", "succeeded"),
          ("seg seg-running o-skipped", "skipped"), ("seg seg-running o-failed", "failed"),
          ("seg seg-running o-lost", "worker lost"), ("seg seg-running o-stalled", "stalled"),
          ("seg seg-running o-cancelled", "cancelled"), ("retry-mark", "attempt retried"),
          ("critical-outline", "critical path"))


def human(seconds: float) -> str:
    """12.5 s, 3 min 07 s, 1 h 02 min."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = int(round(seconds))
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def clock(value) -> str:
    return value.astimezone(tz.utc).strftime("%H:%M:%S")


def _tick_label(seconds: int) -> str:
    if seconds == 0:
        return "0"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if secs:
        return f"{seconds} s" if seconds < 60 else f"{hours * 60 + minutes}:{secs:02d}"
    if hours:
        return f"{hours} h" + (f" {minutes:02d}" if minutes else "")
    return f"{minutes} min"


def _ticks(span: float) -> list[tuple[int, str]]:
    step = next((s for s in TICK_STEPS if span / s <= 10), TICK_STEPS[-1])
    return [(k * step, _tick_label(k * step)) for k in range(int(span // step) + 1)]


def _titled(step: dict, segment: dict) -> str:
    times = f"{clock(segment['start'])}–{clock(segment['end'])} UTC, {human(segment['seconds'])}"
    if segment["ongoing"]:
        times += " so far"
    if segment["kind"] == WAITING:
        text = f"{step['label']}: waiting for a slot, {times}"
    else:
        doing = "queued for a worker" if segment["kind"] == QUEUED else "running"
        text = (f"{step['label']}, attempt {segment['attempt']} of {step['attempts']}: {doing}, {times}; "
                f"{AttemptOutcome(segment['outcome']).label.lower() if not segment['ongoing'] else 'in progress'}")
    return text + (" (on the critical path)" if step["critical"] else "")


def picture(data: dict) -> dict:
    """Where everything of timeline(run) goes in the SVG, with its hover text and the summary lines."""
    start, span = data["start"], max(1.0, (data["end"] - data["start"]).total_seconds())

    def x(moment) -> float:
        return round(LABEL_W + (moment - start).total_seconds() / span * PLOT_W, 1)

    lanes, bars, outlines, texts, retries, centres = [], [], [], [], [], {}
    y = AXIS_H
    for index, lane in enumerate(data["lanes"]):
        height = lane["rows"] * ROW_H + 2 * LANE_PAD
        name = lane["name"]
        lanes.append({"name": name, "short": name if len(name) <= LABEL_CHARS else name[:LABEL_CHARS - 1] + "…",
                      "y": y, "height": height, "text_y": y + height / 2 + 4, "odd": index % 2 == 1,
                      "critical": any(step["critical"] for step in lane["steps"])})
        for step in lane["steps"]:
            middle = y + LANE_PAD + step["row"] * ROW_H + ROW_H / 2
            for segment in step["segments"]:
                left, width = x(segment["start"]), x(segment["end"]) - x(segment["start"])
                if segment["kind"] == QUEUED and segment["attempt"] > 1:  # a retry starts here
                    tip = round(middle - BAR_H[RUNNING] / 2, 1)
                    retries.append({"points": f"{left - 4},{tip - 5} {left + 4},{tip - 5} {left},{tip}",
                                    "step": step["key"], "attempt": segment["attempt"]})
                if segment["kind"] != RUNNING and width < 1:
                    continue
                height_of = BAR_H[segment["kind"]]
                classes = f"seg seg-{segment['kind']}" + (f" o-{segment['outcome']}" if segment["outcome"] else "")
                bars.append({"x": left, "y": middle - height_of / 2, "w": round(max(width, MIN_BAR_W), 1),
                             "h": height_of, "cls": classes + (" ongoing" if segment["ongoing"] else ""),
                             "title": _titled(step, segment), "step": step["key"]})
            if step["start"] is None:
                continue
            left, right = x(step["start"]), x(step["end"])
            centres[step["key"]] = (left, right, middle)
            if step["critical"]:
                outlines.append({"x": left - 2, "y": middle - BAR_H[RUNNING] / 2 - 2,
                                 "w": round(max(right - left, MIN_BAR_W) + 4, 1), "h": BAR_H[RUNNING] + 4,
                                 "step": step["key"]})
            runs = [s for s in step["segments"] if s["kind"] == RUNNING]
            label = SHORT.get(step["kind"], step["kind"].replace("_", " "))
            if runs and x(runs[-1]["end"]) - x(runs[-1]["start"]) >= len(label) * 6.5 + 6:
                texts.append({"x": x(runs[-1]["start"]) + 3, "y": middle + 4, "text": label})
        y += height
    path = [step["key"] for step in data["critical_path"]["steps"]]
    links = [{"x1": centres[a][1], "y1": centres[a][2], "x2": centres[b][0], "y2": centres[b][2]}
             for a, b in zip(path, path[1:]) if a in centres and b in centres]
    height = y + PAD_B
    critical = data["critical_path"]
    return {
        "width": LABEL_W + PLOT_W + PAD_R, "height": height, "label_w": LABEL_W, "axis_h": AXIS_H,
        "plot_right": LABEL_W + PLOT_W,
        "ticks": [{"x": round(LABEL_W + s / span * PLOT_W, 1), "label": text} for s, text in _ticks(span)],
        "lanes": lanes, "bars": bars, "outlines": outlines, "links": links, "texts": texts, "retries": retries,
        "now_x": x(data["end"]) if data["live"] else None,
        "legend": LEGEND,
        "start_clock": clock(data["start"]), "end_clock": clock(data["end"]),
        "wall": human(data["totals"]["wall_seconds"]),
        "waiting": human(data["totals"]["waiting_seconds"]), "lost": human(data["totals"]["lost_seconds"]),
        "critical": {"steps": [dict(step, human=human(step["seconds"])) for step in critical["steps"]],
                     "seconds": human(critical["seconds"]), "waiting": human(critical["waiting_seconds"]),
                     "queued": human(critical["queued_seconds"]), "running": human(critical["running_seconds"]),
                     "other": human(critical["other_seconds"])},
    }


def page_context(run: Run) -> dict:
    """What templates/deployments/_timeline.html draws."""
    data = timeline(run)
    return {"timeline": data, "picture": picture(data)}
