/* The health card of the deployment page, live. Health changes whenever vCenter does, run or no run,
   so while the page is visible it fetches the card again (GET /deployments/<id>/health/,
   server-rendered HTML: findings and the topology SVG) every few seconds. When only the time vCenter
   last confirmed the picture moved, just that time is updated; otherwise the card is swapped in,
   keeping the picture's sideways scroll. Without JavaScript the card shows what the server rendered. */
(function () {
  "use strict";

  var INTERVAL = 3000; // ms between refreshes
  var card = document.getElementById("health");
  if (!card || !window.fetch || !window.DOMParser) {
    return;
  }
  var state = { refreshes: 0, swaps: 0, stopped: false, failures: 0 };
  window.vioHealth = state; // for the curious (and the browser tests)

  function body() {
    return document.getElementById("health-body");
  }

  function withoutTime(node) {
    var copy = node.cloneNode(true);
    var time = copy.querySelector("#health-confirmed");
    if (time) {
      time.textContent = "";
      time.removeAttribute("datetime");
    }
    return copy.innerHTML;
  }

  function update(html) {
    var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("health-body");
    var old = body();
    if (!fresh || !old) {
      return false;
    }
    if (withoutTime(fresh) === withoutTime(old)) {
      var shown = old.querySelector("#health-confirmed");
      var time = fresh.querySelector("#health-confirmed");
      if (shown && time) {
        shown.textContent = time.textContent;
        shown.setAttribute("datetime", time.getAttribute("datetime") || "");
      }
      return true;
    }
    var scroller = old.querySelector(".table-wrap");
    var left = scroller ? scroller.scrollLeft : 0;
    var node = document.importNode(fresh, true);
    old.parentNode.replaceChild(node, old);
    var newScroller = node.querySelector(".table-wrap");
    if (newScroller) {
      newScroller.scrollLeft = left;
    }
    state.swaps += 1;
    return true;
  }

  function schedule(delay) {
    window.setTimeout(refresh, delay);
  }

  function refresh() {
    if (document.hidden) {
      schedule(INTERVAL); // nobody looks: ask again later
      return;
    }
    fetch(card.dataset.url, { credentials: "same-origin", headers: { Accept: "text/html" }, cache: "no-store" })
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
        state.failures = 0;
        if (html === null || !update(html)) {
          state.stopped = true;
          return;
        }
        state.refreshes += 1;
        schedule(INTERVAL);
      })
      .catch(function () {
        state.failures += 1; // a restart or a network hiccup: keep trying, less often
        schedule(Math.min(INTERVAL * (state.failures + 1), 15000));
      });
  }

  schedule(INTERVAL);
})();
