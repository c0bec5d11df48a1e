/* The deployment page, live. While the run is live it polls the API's status snapshot
   (GET /api/v1/deployments/<id>/status/?since=<cursor>) and updates the page in place: progress,
   each step, the VMs, the action buttons, and the new events on top of the log. It stops once the
   run has ended. Without JavaScript the page is complete as the server rendered it.
   Each poll sends the ETag of the last answer (If-None-Match): while nothing has changed the server
   answers 304 with no body, and the page keeps what it shows, a running step's duration counting
   on from the last answer by this browser's clock.
   Statuses are shown with one mapping (data-status-display, from deployments/views/summary.py) on the
   list, the page and here. Confirming "Stop deployment" shows "Stopping" at once, before the server
   answers; "Show older events" pages back through the events API (since/limit) to the first event. */
(function () {
  "use strict";

  var INTERVAL = 1200; // ms between polls while the run is live
  var root = document.getElementById("deployment");
  if (!root || !window.fetch) {
    return;
  }
  var state = { since: Number(root.dataset.since || 0), run: root.dataset.run, polls: 0, stopped: false, failures: 0,
    notModified: 0, etag: null, etagUrl: null };
  var last = null; // the last answer, and when it came: { data: ..., at: ms }
  var DISPLAY = {};
  try {
    DISPLAY = JSON.parse(root.dataset.statusDisplay || "{}");
  } catch (ignored) {
    DISPLAY = {};
  }
  window.vioDeployment = state; // for the curious (and the browser tests)

  function byId(id) {
    return document.getElementById(id);
  }

  function setText(node, text) {
    if (node && node.textContent !== text) {
      node.textContent = text;
    }
  }

  function setHidden(node, hidden) {
    if (node) {
      node.hidden = hidden;
    }
  }

  function clock(iso) {
    return iso ? new Date(iso).toISOString().substring(11, 19) : ""; // HH:MM:SS, UTC like the server
  }

  function seconds(value) {
    return value === null || value === undefined ? "" : value.toFixed(1) + " s";
  }

  function display(status) {
    var shown = DISPLAY[status];
    return shown ? { cls: shown[0], label: shown[1] } : { cls: "neutral", label: String(status).replace(/_/g, " ") };
  }

  function setBadge(node, status) {
    if (!node) {
      return;
    }
    var shown = display(status);
    node.className = "badge " + shown.cls;
    node.dataset.status = status;
    setText(node, shown.label);
  }

  function cell(row, tag, text, className) {
    var node = document.createElement(tag);
    node.textContent = text;
    if (className) {
      node.className = className;
    }
    row.appendChild(node);
    return node;
  }

  function updateSummary(data) {
    var run = data.run;
    setBadge(byId("deployment-status"), data.deployment.status);
    setHidden(byId("retry-form"), !(run && run.can_retry));
    setHidden(byId("cancel-form"), !(run && run.can_cancel));
    setHidden(byId("teardown-form"), !data.deployment.can_tear_down);
    if (!run) {
      return;
    }
    setText(byId("progress"), Math.round(run.progress) + "%");
    var bar = byId("progress-bar");
    if (bar) {
      bar.value = run.progress;
    }
    var error = byId("run-error");
    setText(error, run.error);
    setHidden(error, !run.error);
  }

  function updateSteps(data, elapsed) {
    var table = byId("steps");
    if (!table) {
      return;
    }
    var rows = {};
    Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
      rows[row.dataset.key] = row;
    });
    var retryTemplate = byId("retry-step-form");
    data.steps.forEach(function (step) {
      var row = rows[step.key];
      if (!row) {
        return;
      }
      setBadge(row.querySelector(".step-status .badge"), step.status);
      setText(row.querySelector(".step-attempt"), String(step.attempt));
      setText(row.querySelector(".step-started"), clock(step.started_at));
      setText(row.querySelector(".step-finished"), clock(step.finished_at));
      var counting = step.status === "running" && step.duration !== null && step.duration !== undefined;
      setText(row.querySelector(".step-duration"), seconds(counting ? step.duration + elapsed : step.duration));
      var detail = row.querySelector(".step-detail");
      var wantRetry = Boolean(step.error && step.status === "failed" && data.run && data.run.can_retry);
      var shown = detail.dataset.shown || "";
      var key = [step.error, (step.output && step.output.skipped) || "", wantRetry, step.waiting_for || "",
        step.waiting_since || ""].join("\u0000");
      if (shown === key) {
        return; // unchanged: leave the cell (and a focused retry button) alone
      }
      detail.dataset.shown = key;
      detail.textContent = "";
      if (step.error) {
        cell(detail, "span", step.error, "field-error");
        if (wantRetry && retryTemplate) {
          detail.appendChild(retryTemplate.content.cloneNode(true));
        }
      } else if (step.output && step.output.skipped) {
        detail.textContent = step.output.skipped;
      } else if (step.waiting_for) {
        cell(detail, "span", "Waiting for " + step.waiting_for + " since " + clock(step.waiting_since), "waiting");
      }
    });
  }

  function updateVms(data) {
    var table = byId("vms");
    if (!table) {
      return;
    }
    var body = document.createElement("tbody");
    data.vms.forEach(function (vm) {
      var row = document.createElement("tr");
      row.dataset.name = vm.name;
      cell(row, "td", vm.name);
      cell(row, "td", vm.role_label || vm.role);
      cell(row, "td", vm.management_ip || "—");
      cell(row, "td", vm.external_ip || "—");
      cell(row, "td", vm.guest_ip || "—", "vm-guest-ip");
      cell(row, "td", vm.power_state || "—", "vm-power");
      var status = cell(row, "td", vm.status, "vm-status");
      if (vm.error) {
        status.appendChild(document.createTextNode(" "));
        cell(status, "span", vm.error, "field-error");
      }
      cell(cell(row, "td", ""), "code", vm.moid || "—");
      body.appendChild(row);
    });
    if (!data.vms.length) {
      var empty = document.createElement("tr");
      empty.className = "empty";
      cell(empty, "td", "No VM in this run.").colSpan = 8;
      body.appendChild(empty);
    }
    table.replaceChild(body, table.tBodies[0]);
  }

  function addEvents(data) {
    var list = byId("events");
    if (!list) {
      return;
    }
    data.events.forEach(function (event) {
      if (event.sequence <= state.since) {
        return; // already shown
      }
      var item = document.createElement("li");
      item.className = "level-" + event.level;
      item.dataset.sequence = event.sequence;
      var time = cell(item, "time", clock(event.created_at));
      time.dateTime = event.created_at;
      item.appendChild(document.createTextNode(" " + event.message));
      list.insertBefore(item, list.firstChild); // newest first
      state.since = event.sequence;
    });
    state.since = Math.max(state.since, data.next_since);
  }

  function stop(note) {
    state.stopped = true;
    setText(byId("live-note"), note || "");
  }

  function schedule(delay) {
    window.setTimeout(poll, delay);
  }

  function apply(data) {
    if (data.run && String(data.run.number) !== String(state.run)) {
      window.location.reload(); // another run started: its steps are other rows
      return false;
    }
    last = { data: data, at: Date.now() };
    updateSummary(data);
    updateSteps(data, 0);
    updateVms(data);
    addEvents(data);
    return true;
  }

  function unchanged() {
    // 304: what the page shows still holds; only the running steps' durations move on.
    if (last) {
      updateSteps(last.data, (Date.now() - last.at) / 1000);
    }
    state.notModified += 1;
    state.failures = 0;
    setText(byId("live-note"), "updating");
    schedule(INTERVAL);
  }

  function poll() {
    var url = root.dataset.statusUrl + "?since=" + encodeURIComponent(state.since) + "&limit=200";
    var headers = { Accept: "application/json" };
    if (state.etag && state.etagUrl === url) {
      headers["If-None-Match"] = state.etag;
    }
    fetch(url, { credentials: "same-origin", headers: headers, cache: "no-store" })
      .then(function (response) {
        if (response.status === 304) {
          unchanged();
          return null;
        }
        if (response.status === 404) {
          stop("This deployment no longer exists: it was torn down and deleted.");
          return null;
        }
        if (response.status === 401 || response.status === 403) {
          stop("Live updates stopped: sign in again and reload the page.");
          return null;
        }
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        state.etag = response.headers.get("ETag");
        state.etagUrl = url;
        return response.json();
      })
      .then(function (data) {
        if (!data || !apply(data)) {
          return;
        }
        state.polls += 1;
        state.failures = 0;
        setText(byId("live-note"), data.live ? "updating" : "");
        if (data.has_more) {
          schedule(0);
        } else if (data.live) {
          schedule(INTERVAL);
        } else {
          stop("");
        }
      })
      .catch(function () {
        // The server restarting or the network hiccuping: keep trying, less often.
        state.failures += 1;
        setText(byId("live-note"), "reconnecting…");
        schedule(Math.min(INTERVAL * (state.failures + 1), 10000));
      });
  }

  // --- "Stop deployment": feedback at once -----------------------------------------------------
  var stopForm = byId("stop-confirm-form");
  if (stopForm) {
    stopForm.addEventListener("submit", function () {
      setBadge(byId("deployment-status"), "cancelling"); // "Stopping": the server sets the same
      setText(byId("live-note"), "stop requested…");
      var button = byId("stop-confirm");
      if (button) {
        window.setTimeout(function () { button.disabled = true; }, 0); // after the form took its value
      }
      var cancel = byId("cancel");
      if (cancel) {
        cancel.disabled = true;
      }
    });
  }

  // --- older events ----------------------------------------------------------------------------
  var PAGE = 100;
  var older = byId("older-events");
  var oldest = older ? Number(older.dataset.oldest || 0) : 0;

  function olderEvents() {
    var before = oldest - 1; // the events with a sequence below the oldest shown
    var since = Math.max(0, before - PAGE);
    var url = older.dataset.url + "&since=" + since + "&limit=" + Math.max(1, before - since);
    older.disabled = true;
    setText(byId("older-note"), "loading…");
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        var list = byId("events");
        data.events.filter(function (event) {
          return event.sequence < oldest;
        }).reverse().forEach(function (event) { // newest first: older ones go at the end
          var item = document.createElement("li");
          item.className = "level-" + event.level;
          item.dataset.sequence = event.sequence;
          var time = cell(item, "time", clock(event.created_at));
          time.dateTime = event.created_at;
          item.appendChild(document.createTextNode(" " + event.message));
          list.appendChild(item);
        });
        oldest = since + 1;
        older.dataset.oldest = oldest;
        older.disabled = false;
        older.hidden = oldest <= 1;
        setText(byId("older-note"), oldest <= 1 ? "This is the run's first event." : "");
      })
      .catch(function () {
        older.disabled = false;
        setText(byId("older-note"), "Could not load older events: try again.");
      });
  }

  if (older && oldest > 1) {
    older.hidden = false;
    older.addEventListener("click", olderEvents);
  }

  if (root.dataset.live === "true") {
    schedule(INTERVAL);
  } else {
    state.stopped = true;
  }
})();
