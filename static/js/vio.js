/* Behaviour shared by every page, as a file (the Content-Security-Policy allows no inline script
   and no on* attribute):
   - the navigation collapses behind a "Menu" button on a narrow screen;
   - the link of the current section is marked (aria-current);
   - a form with data-confirm="question" asks before it is sent;
   - a link or button with data-dialog="id" opens that <dialog> (a confirmation that says what will
     happen) instead of going to its confirmation page; without JavaScript the link still leads to
     that page, so every action works without this file. */
(function () {
  "use strict";

  var root = document.documentElement;
  root.classList.add("js");

  // --- navigation ------------------------------------------------------------------------------
  var toggle = document.getElementById("nav-toggle");
  var menu = document.getElementById("site-nav");
  if (toggle && menu) {
    toggle.hidden = false;
    document.getElementById("topbar").classList.add("collapsible");
    toggle.addEventListener("click", function () {
      var open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      menu.classList.toggle("open", open);
    });
  }
  var best = null;
  Array.prototype.forEach.call(document.querySelectorAll(".main-nav a, .logout a"), function (link) {
    var path = link.getAttribute("href");
    var here = window.location.pathname;
    var matches = path === "/" ? here === "/" : here.indexOf(path) === 0;
    if (matches && (!best || path.length > best.getAttribute("href").length)) {
      best = link;
    }
  });
  if (best) {
    best.setAttribute("aria-current", "page");
  }

  // --- confirmations ---------------------------------------------------------------------------
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  document.addEventListener("click", function (event) {
    var opener = event.target.closest ? event.target.closest("[data-dialog]") : null;
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-dialog"));
      if (dialog && typeof dialog.showModal === "function") {
        event.preventDefault();
        dialog.showModal();
        var first = dialog.querySelector("[autofocus], button");
        if (first) {
          first.focus();
        }
      }
      return;
    }
    var closer = event.target.closest ? event.target.closest("[data-close-dialog]") : null;
    if (closer) {
      var open = closer.closest("dialog");
      if (open) {
        event.preventDefault();
        open.close();
      }
    }
  });
})();
