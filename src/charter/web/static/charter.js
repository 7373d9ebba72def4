/* Charter console: the only script besides htmx. Loaded from 'self' (CSP: no inline script). */
(function () {
  "use strict";
  // Small screens: the navigation collapses behind the Menu button (without script it stays open).
  document.documentElement.classList.add("js");
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest(".menu-toggle") : null;
    if (!button) { return; }
    var menu = document.getElementById(button.getAttribute("aria-controls"));
    var open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", open ? "true" : "false");
    if (menu) { menu.classList.toggle("open", open); }
  });
  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }
  // Every htmx request carries the session's CSRF token as a header (forms also carry it as a field).
  document.addEventListener("htmx:configRequest", function (event) {
    var token = csrfToken();
    if (token) { event.detail.headers["X-CSRF-Token"] = token; }
  });
  // After htmx replaces a region that asks for it, move keyboard focus there (screen readers follow).
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (target && target.hasAttribute("data-focus-after-swap")) {
      target.setAttribute("tabindex", "-1");
      target.focus();
    }
  });
  // Error answers (4xx/5xx) from htmx requests are shown in the alert area rather than dropped.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if (status >= 400 && !event.detail.shouldSwap) {
      var alerts = document.getElementById("alerts");
      if (alerts) {
        var div = document.createElement("div");
        div.className = "alert error";
        div.setAttribute("role", "alert");
        div.textContent = "The request failed (HTTP " + status + "). Reload the page and try again.";
        alerts.replaceChildren(div);
      }
    }
  });
})();
