/* The run timeline on the deployment page, live. While the run is live it fetches the timeline
   fragment again (GET /deployments/<id>/runs/<n>/timeline/, server-rendered HTML with the SVG chart)
   every few seconds and swaps it in, keeping the chart's sideways scroll; it stops once the
   fragment says the run has ended. Without JavaScript the page shows the chart as rendered. */
(function () {
  "use strict";

  var INTERVAL = 3000; // ms between refreshes while the run is live
  var card = document.getElementById("timeline");
  if (!card || !window.fetch || !window.DOMParser) {
    return;
  }
  var state = { refreshes: 0, stopped: false, failures: 0 };
  window.vioTimeline = state; // for the curious (and the browser tests)

  function body() {
    return document.getElementById("timeline-body");
  }

  function schedule(delay) {
    window.setTimeout(refresh, delay);
  }

  function swap(html) {
    var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("timeline-body");
    var old = body();
    if (!fresh || !old) {
      return null;
    }
    var scroller = old.querySelector(".timeline-scroll");
    var left = scroller ? scroller.scrollLeft : 0;
    var node = document.importNode(fresh, true);
    old.parentNode.replaceChild(node, old);
    var newScroller = node.querySelector(".timeline-scroll");
    if (newScroller) {
      newScroller.scrollLeft = left;
    }
    return node;
  }

  function refresh() {
    fetch(card.dataset.url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (response.status === 404 || response.status === 401 || response.status === 403) {
          return null; // the deployment is gone, or the session: nothing more to show
        }
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        var node = html === null ? null : swap(html);
        state.failures = 0;
        if (!node) {
          state.stopped = true;
          return;
        }
        state.refreshes += 1;
        if (node.dataset.live === "true") {
          schedule(INTERVAL);
        } else {
          state.stopped = true;
        }
      })
      .catch(function () {
        state.failures += 1; // a restart or a network hiccup: keep trying, less often
        schedule(Math.min(INTERVAL * (state.failures + 1), 15000));
      });
  }

  var first = body();
  if (first && first.dataset.live === "true") {
    schedule(INTERVAL);
  } else {
    state.stopped = true;
  }
})();
