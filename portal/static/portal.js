/* Partner Portal: small enhancements on top of pages that work without JavaScript.
 * A file of its own: the Content-Security-Policy allows no inline script.
 *
 * 1. The header menu (docs/rules.md screen 15a): on a narrow screen the links and
 *    "Log out" fold behind one button with aria-expanded. Without this script the
 *    button stays hidden and the menu stays open.
 * 2. After an htmx swap (docs/rules.md screen 15c): focus comes back to the control
 *    that triggered it (htmx itself refocuses an element with the same id; when that
 *    control is now disabled, its data-focus-fallback takes the focus), and the text
 *    of a swapped element's data-announce goes to the page's live region #live-status.
 * 3. A page answering a POST that must not be sent again on reload (the new API token
 *    on the account page) names its own address in data-replace-url: the address bar
 *    shows it, and a reload is a plain GET of it.
 */
(function () {
  "use strict";

  function setUpMenu() {
    var button = document.getElementById("menu-button");
    var header = button && button.closest(".topbar");
    if (!header) {
      return;
    }
    function setOpen(open) {
      button.setAttribute("aria-expanded", open ? "true" : "false");
      header.classList.toggle("menu-open", open);
    }
    button.hidden = false;
    header.classList.add("menu-ready");
    button.addEventListener("click", function () {
      setOpen(button.getAttribute("aria-expanded") !== "true");
    });
    header.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && button.getAttribute("aria-expanded") === "true") {
        setOpen(false);
        button.focus();
      }
    });
  }

  var lastFocused = null;

  document.addEventListener("htmx:beforeRequest", function () {
    var active = document.activeElement;
    lastFocused = active && active !== document.body && active.id ? active.id : null;
  });

  document.addEventListener("htmx:afterSettle", function () {
    var active = document.activeElement;
    if (lastFocused && (!active || active === document.body)) {
      var control = document.getElementById(lastFocused);
      if (control && control.disabled && control.dataset.focusFallback) {
        control = document.getElementById(control.dataset.focusFallback);
      }
      if (control && !control.disabled) {
        control.focus({preventScroll: true});
      }
    }
    lastFocused = null;

    var source = document.querySelector("[data-announce]");
    var region = document.getElementById("live-status");
    if (source && region) {
      var text = source.getAttribute("data-announce");
      source.removeAttribute("data-announce");
      // Emptied first, so the same sentence twice in a row is still heard.
      region.textContent = "";
      window.setTimeout(function () {
        region.textContent = text;
      }, 50);
    }
  });

  function replaceUrl() {
    var source = document.querySelector("[data-replace-url]");
    if (source && window.history && window.history.replaceState) {
      window.history.replaceState(null, "", source.getAttribute("data-replace-url"));
    }
  }

  function setUp() {
    setUpMenu();
    replaceUrl();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
}());
