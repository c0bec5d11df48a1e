// The Deploy OpenStack wizard's small conveniences; every page works without them (no inline script:
// the pages are served under a Content-Security-Policy without 'unsafe-inline').
(function () {
  "use strict";

  // A picker whose data-filters names checkboxes carrying data-clusters="A,B": only those of the chosen
  // cluster are shown (a ticked one stays, so nothing chosen is hidden).
  function filterBy(select) {
    var boxes = document.querySelectorAll(select.getAttribute("data-filters"));
    boxes.forEach(function (box) {
      var on = !select.value || box.getAttribute("data-clusters").split(",").indexOf(select.value) >= 0;
      var label = box.closest("label");
      if (label) { label.hidden = !on && !box.checked; }
    });
  }

  // Sections shown only for one choice of a radio group: data-shown-for="name=value".
  function toggleSections() {
    document.querySelectorAll("[data-shown-for]").forEach(function (section) {
      var parts = section.getAttribute("data-shown-for").split("=");
      var chosen = document.querySelector("input[name='" + parts[0] + "']:checked");
      section.hidden = !!chosen && chosen.value !== parts[1];
    });
  }

  // A change preview's file diffs: open or close them all.
  function diffToggles() {
    document.querySelectorAll("[data-toggle-details]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        var all = document.querySelectorAll(button.getAttribute("data-toggle-details"));
        var open = Array.prototype.some.call(all, function (d) { return !d.open; });
        all.forEach(function (d) { d.open = open; });
        button.textContent = open ? "Close every file" : "Open every file";
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("select[data-filters]").forEach(function (select) {
      select.addEventListener("change", function () { filterBy(select); });
      filterBy(select);
    });
    if (document.querySelector("[data-shown-for]")) {
      document.addEventListener("change", toggleSections);
      toggleSections();
    }
    diffToggles();
  });
})();
