/* A vCenter or NSX Manager page while a sync is queued or running: every 2 s the page is read
   again and its content (#endpoint: status, last sync, the inventory counts, the recent syncs)
   swapped in, until the sync has ended; then the counts are those of the finished sync. Without
   JavaScript the page refreshes itself (a <noscript> refresh) instead. */
(function () {
  "use strict";

  var INTERVAL = 2000;
  var state = { refreshes: 0, stopped: false, failures: 0 };
  window.vioEndpoint = state; // for the curious (and the browser tests)

  function current() {
    return document.getElementById("endpoint");
  }

  function refresh() {
    fetch(window.location.pathname, { credentials: "same-origin", headers: { Accept: "text/html" }, cache: "no-store" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("endpoint");
        var old = current();
        if (!fresh || !old) {
          state.stopped = true;
          return;
        }
        old.parentNode.replaceChild(document.importNode(fresh, true), old);
        state.refreshes += 1;
        state.failures = 0;
        watch();
      })
      .catch(function () {
        state.failures += 1; // a restart or a network hiccup: keep trying, less often
        if (state.failures < 30) {
          window.setTimeout(refresh, Math.min(INTERVAL * (state.failures + 1), 15000));
        }
      });
  }

  function watch() {
    var root = current();
    if (root && root.dataset.syncing === "true" && window.fetch && window.DOMParser) {
      window.setTimeout(refresh, INTERVAL);
    } else {
      state.stopped = true;
    }
  }

  watch();
})();
