// ClaO: asks the browser for the position of the worker, and fills the address suggestions.
// The forms work without this script; it only saves typing.
(function () {
  "use strict";

  var OPTIONS = { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 };
  var ADDRESS = ["postal_code", "municipality", "street", "house_number", "box"];

  function fill(form, position) {
    var coords = position.coords;
    form.elements.latitude.value = coords.latitude.toFixed(6);
    form.elements.longitude.value = coords.longitude.toFixed(6);
    form.elements.accuracy.value = Math.round(coords.accuracy);
  }

  // Messages come from the page (data-msg-*), already in the worker's language.
  function reasonFor(place, error) {
    if (!error) return place.dataset.msgUnsupported;
    if (error.code === 1) return place.dataset.msgDenied;
    if (error.code === 3) return place.dataset.msgTimeout;
    return place.dataset.msgUnavailable;
  }

  function show(element, visible) {
    if (element) element.hidden = !visible;
  }

  // The place of work has one state at a time, each showing its own parts:
  //   waiting: "Finding your location..." (the browser asks, or the phone searches)
  //   located: X/Y and the way to give an address instead
  //   asking:  one line of explanation and "Share my location" (before the browser asks)
  //   free:    the address fields, with the reason when there is one
  function setupForm(form) {
    var place = document.getElementById("place");
    if (!place) return;
    var $ = function (id) { return document.getElementById(id); };
    var line = $("gps-line"), status = $("gps-status"), waiting = $("gps-waiting");
    var explain = $("gps-explain"), ask = $("gps-ask"), why = $("gps-why");
    var free = $("free-address"), freeToggle = $("free-address-toggle");
    var newAddress = place.querySelector("details.new-address");
    var canLocate = "geolocation" in navigator;
    var state = "";
    var pendingSubmit = null; // the IN/OUT button tapped while the position was awaited

    function setState(next, reason) {
      state = next;
      show(line, next === "waiting" || next === "located");
      show(waiting, next === "waiting");
      show(status, next === "located");
      show(freeToggle, next !== "free");
      show(explain, next === "asking" || (next === "free" && reason === place.dataset.msgNotShared));
      show(ask, canLocate && (next === "asking" || (next === "free" && reason !== place.dataset.msgDenied)));
      ask.disabled = false;
      show(free, next === "free");
      why.textContent = reason || "";
      show(why, next === "free" && !!reason);
    }

    function clearPosition() {
      form.elements.latitude.value = "";
      form.elements.longitude.value = "";
      form.elements.accuracy.value = "";
    }

    function located(position) {
      fill(form, position);
      var c = position.coords;
      status.querySelector(".x").textContent = c.longitude.toFixed(6);
      status.querySelector(".y").textContent = c.latitude.toFixed(6);
      status.querySelector(".accuracy").textContent = Math.round(c.accuracy);
      setState("located");
      if (pendingSubmit) {
        var button = pendingSubmit;
        pendingSubmit = null;
        releaseButtons(form);
        form.requestSubmit(button);
      }
    }

    function failed(error) {
      // Keep a position already shown (a refresh that failed); otherwise the address is needed.
      if (form.elements.latitude.value && form.elements.longitude.value) {
        setState("located");
      } else {
        setState("free", reasonFor(place, error));
      }
      if (pendingSubmit) {
        pendingSubmit = null;
        releaseButtons(form);
        focusFirst(free);
      }
    }

    function locate() {
      if (state === "free") {
        // The address fields (and their errors) stay in view while the phone searches.
        show(line, true);
        show(waiting, true);
        show(status, false);
      } else if (state !== "located") {
        setState("waiting");
      }
      navigator.geolocation.getCurrentPosition(located, failed, OPTIONS);
    }

    function toFree() {
      clearPosition();
      setState("free");
      // With saved addresses the new-address part starts folded: open it, so that the tap shows
      // where to type (the list of saved addresses stays just above).
      if (newAddress) newAddress.open = true;
      focusFirst(free);
    }

    freeToggle.addEventListener("click", toFree);
    ask.addEventListener("click", function () {
      ask.disabled = true;
      locate();
    });

    // A tap on IN/OUT while the position is on its way waits for it, then sends.
    form.addEventListener("submit", function (event) {
      if (state !== "waiting" || typedAddress(form) || !event.submitter) return;
      event.preventDefault();
      pendingSubmit = event.submitter;
      holdButtons(form, waiting.textContent);
    });

    var hasPosition = form.elements.latitude.value && form.elements.longitude.value;
    var placeErrors = place.querySelector(".error") !== null;

    function whenPermission(granted, denied, prompt) {
      if (!canLocate) {
        setState("free", reasonFor(place, null));
        return;
      }
      if (navigator.permissions && navigator.permissions.query) {
        navigator.permissions.query({ name: "geolocation" }).then(function (result) {
          if (result.state === "granted") granted();
          else if (result.state === "denied") denied();
          else prompt();
        }, prompt);
      } else {
        prompt();
      }
    }

    if (hasPosition) {
      // A form shown again (an error elsewhere, a new login) keeps its position, refreshed
      // where the browser allows it without asking.
      setState("located");
      whenPermission(locate, function () {}, function () {});
    } else if (placeErrors || typedAddress(form)) {
      // The address is what the server checked: leave it in view, with why it is needed.
      var deniedReason = place.dataset.msgDenied;
      setState("free", placeErrors ? place.dataset.msgNotShared : "");
      whenPermission(
        function () { if (placeErrors) locate(); },
        function () { setState("free", placeErrors ? deniedReason : ""); },
        function () {}
      );
    } else {
      whenPermission(locate, function () {
        setState("free", place.dataset.msgDenied);
      }, function () {
        setState("asking");
      });
    }
  }

  function typedAddress(form) {
    return ["postal_code", "municipality", "street"].some(function (name) {
      return form.elements[name] && form.elements[name].value.trim();
    });
  }

  function focusFirst(container) {
    var field = container && container.querySelector(
      "input:not([type=hidden]):not([hidden]), select"
    );
    if (field && field.offsetParent !== null) field.focus();
  }

  function holdButtons(form, label) {
    form.querySelectorAll("button[type=submit]").forEach(function (button) {
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
    });
    var status = form.querySelector(".submit-waiting");
    if (status) {
      status.textContent = label;
      status.hidden = false;
    }
  }

  function releaseButtons(form) {
    form.querySelectorAll("button[type=submit]").forEach(function (button) {
      button.disabled = false;
      button.removeAttribute("aria-busy");
    });
    var status = form.querySelector(".submit-waiting");
    if (status) status.hidden = true;
  }

  // A form that came back refused: the worker sees why at once, at the first field to correct.
  function focusFirstError(form) {
    var marked = form.querySelector(".has-error");
    if (!marked) return;
    var field = marked.querySelector(
      "[aria-invalid=true], input:not([type=hidden]):not([type=radio]), select, input[type=radio]"
    );
    // A field inside a folded part (the new address) is unfolded first.
    var details = field && field.closest("details");
    if (details) details.open = true;
    if (field && field.offsetParent !== null) {
      field.focus();
      return;
    }
    var summary = document.getElementById("form-errors");
    if (summary) {
      summary.tabIndex = -1;
      summary.focus();
    }
  }

  // A tap on a suggestion fills the fields it stands for.
  function setupSuggestions(form) {
    form.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-postal-code], button[data-street]");
      if (!button) return;
      event.preventDefault();
      var list = button.closest("ul.suggestions");
      if (button.dataset.street) {
        form.elements.street.value = button.dataset.street;
        if (form.elements.house_number) form.elements.house_number.focus();
      } else {
        form.elements.postal_code.value = button.dataset.postalCode;
        form.elements.municipality.value = button.dataset.municipality;
        form.elements.municipality_nis.value = button.dataset.nis;
        form.elements.street.focus();
      }
      if (list) list.remove();
    });
    var saved = form.elements.saved_address;
    if (saved) {
      saved.addEventListener("change", function () {
        var option = saved.options[saved.selectedIndex];
        ADDRESS.forEach(function (name) {
          if (option.dataset[name] !== undefined) form.elements[name].value = option.dataset[name];
        });
      });
    }
  }

  // A ticked employer and a typed number: the typed one is registered, and the page says so.
  function setupEmployerChoice(form) {
    var note = document.getElementById("typed-wins");
    var typed = form.elements.enterprise_number;
    if (!note || !typed) return;
    var update = function () {
      var ticked = form.querySelector("input[name=employer]:checked");
      note.hidden = !(ticked && typed.value.trim());
    };
    form.addEventListener("input", update);
    form.addEventListener("change", update);
    update();
  }

  // "Vous arrêtez de travailler ?": one tap registers the OUT with the current position.
  function setupQuickOut(form) {
    form.addEventListener("submit", function (event) {
      if (form.elements.latitude.value || !("geolocation" in navigator)) return;
      event.preventDefault();
      var button = form.querySelector("button[type=submit]");
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
      // The button says what it waits for: the position, up to 15 seconds.
      button.textContent = button.dataset.waiting || button.textContent;
      var send = function () {
        // requestSubmit keeps the button's name=value; no position sends to the OUT form.
        var hidden = document.createElement("input");
        hidden.type = "hidden";
        hidden.name = button.name;
        hidden.value = button.value;
        form.appendChild(hidden);
        form.submit();
      };
      navigator.geolocation.getCurrentPosition(function (position) {
        fill(form, position);
        send();
      }, send, OPTIONS);
    });
  }

  // The language menu returns to the page as it is now: htmx may have moved to another day
  // since the menu was drawn. (On the form, its buttons post the form itself, whose "next" is
  // the form's own address.)
  document.addEventListener("click", function (event) {
    var button = event.target.closest("form.languages button[name=language]");
    var next = button && button.form && button.form.querySelector("input[name=next]");
    if (next && button.form.matches("form.languages")) {
      next.value = window.location.pathname + window.location.search;
    }
  }, true);

  var form = document.querySelector("form.registration-form");
  if (form) {
    setupForm(form);
    setupSuggestions(form);
    setupEmployerChoice(form);
    focusFirstError(form);
    // A second tap while the first submission travels must not send a second one.
    form.addEventListener("submit", function (event) {
      if (event.defaultPrevented) return;
      setTimeout(function () {
        form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
      }, 0);
    });
  }
  var quickOut = document.getElementById("quick-out-form");
  if (quickOut) setupQuickOut(quickOut);
})();
