/* The inventory pages, live. Every few seconds this polls the vCenter's liveness (GET
   /api/v1/vcenters/<id>/inventory/live/: a few bytes, two indexed queries) and updates the "live" /
   "not live" badge. When the picture's generation moved (a watcher stored a change, or a sync ran)
   it reads this page again and swaps each [data-live-region] in, so what a person watches follows
   vCenter without a reload. A file, not an inline script: the Content-Security-Policy allows none.
   Without JavaScript the page shows the picture as rendered. */
(function () {
  "use strict";

  var INTERVAL = 3000; // ms between polls
  var badge = document.getElementById("liveness");
  if (!badge || !window.fetch || !window.DOMParser) {
    return;
  }
  var state = { polls: 0, swaps: 0, generation: null, live: null, failures: 0 };
  window.vioInventoryLive = state; // for the curious (and the browser tests)

  function ago(iso) {
    if (!iso) {
      return "never";
    }
    var seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    return seconds < 90 ? seconds + " s ago" : Math.round(seconds / 60) + " min ago";
  }

  function show(live) {
    var mark = document.getElementById("live-badge");
    var note = document.getElementById("live-note");
    if (mark) {
      mark.textContent = live.is_live ? "live" : "not live";
      mark.className = "badge " + (live.is_live ? "ok" : "warn");
    }
    if (note) {
      note.textContent = live.is_live
        ? "confirmed by vCenter " + ago(live.confirmed_at) + "; live since " + live.live_since
        : "last synced " + ago(live.last_synced_at) + (live.last_gap ? "; watcher: " + live.last_gap : "");
    }
    state.live = live.is_live;
  }

  function swapRegions() {
    return fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(response.status);
        }
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        var regions = document.querySelectorAll("[data-live-region]");
        for (var i = 0; i < regions.length; i++) {
          var replacement = regions[i].id && fresh.getElementById(regions[i].id);
          if (replacement) {
            regions[i].replaceWith(document.importNode(replacement, true));
          }
        }
        state.swaps += 1;
      });
  }

  function poll() {
    fetch(badge.getAttribute("data-live-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(response.status);
        }
        return response.json();
      })
      .then(function (live) {
        state.polls += 1;
        state.failures = 0;
        show(live);
        var moved = live.generation !== state.generation; // the first poll too: a change may have landed since this page was made
        state.generation = live.generation;
        return moved ? swapRegions() : null;
      })
      .catch(function () {
        state.failures += 1;
      })
      .then(function () {
        // Back off while the appliance does not answer; never give up on a page someone watches.
        window.setTimeout(poll, INTERVAL * Math.min(10, 1 + state.failures));
      });
  }

  window.setTimeout(poll, INTERVAL);
})();
