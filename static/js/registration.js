// ClaO: asks the browser for the position of the worker, and fills the address suggestions.
// The forms work without this script; it only saves typing.
(function () {
  "use strict";

  var OPTIONS = { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 };

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

  function setupForm(form) {
    var place = document.getElementById("place");
    if (!place) return;
    var status = document.getElementById("gps-status");
    var explain = document.getElementById("gps-explain");
    var ask = document.getElementById("gps-ask");
    var why = document.getElementById("gps-why");
    var free = document.getElementById("free-address");
    var freeToggle = document.getElementById("free-address-toggle");

    function showFree(reason) {
      explain.hidden = true;
      ask.hidden = true;
      why.textContent = reason;
      why.hidden = false;
      free.hidden = false;
    }

    function located(position) {
      fill(form, position);
      var c = position.coords;
      status.querySelector(".x").textContent = c.longitude.toFixed(6);
      status.querySelector(".y").textContent = c.latitude.toFixed(6);
      status.querySelector(".accuracy").textContent = Math.round(c.accuracy);
      status.hidden = false;
      explain.hidden = true;
      ask.hidden = true;
      why.hidden = true;
      free.hidden = true;
      freeToggle.hidden = false;
    }

    function locate() {
      ask.disabled = true;
      navigator.geolocation.getCurrentPosition(located, function (error) {
        showFree(reasonFor(place, error));
      }, OPTIONS);
    }

    freeToggle.addEventListener("click", function () {
      form.elements.latitude.value = "";
      form.elements.longitude.value = "";
      form.elements.accuracy.value = "";
      status.hidden = true;
      explain.hidden = true;
      ask.hidden = true;
      freeToggle.hidden = true;
      free.hidden = false;
      form.elements.postal_code.focus();
    });

    if (form.elements.latitude.value && form.elements.longitude.value) {
      return; // already located (a form shown again after an error keeps its position)
    }
    var typedAddress = ["postal_code", "municipality", "street"].some(function (name) {
      return form.elements[name].value;
    });
    if (typedAddress) {
      // The worker chose an address (the form came back with an error): leave it in view.
      ask.hidden = !("geolocation" in navigator);
      ask.addEventListener("click", locate);
      return;
    }
    if (!("geolocation" in navigator)) {
      showFree(reasonFor(place, null));
      return;
    }
    ask.addEventListener("click", locate);
    var prompt = function () {
      // One line of explanation before the browser's own permission question.
      explain.hidden = false;
      ask.hidden = false;
      free.hidden = true;
      why.hidden = true;
      freeToggle.hidden = false;
    };
    if (navigator.permissions && navigator.permissions.query) {
      navigator.permissions.query({ name: "geolocation" }).then(function (result) {
        if (result.state === "granted") locate();
        else if (result.state === "denied") showFree(place.dataset.msgDenied);
        else prompt();
      }, prompt);
    } else {
      prompt();
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
        ["postal_code", "municipality", "street", "house_number", "box"].forEach(function (name) {
          if (option.dataset[name] !== undefined) form.elements[name].value = option.dataset[name];
        });
      });
    }
  }

  // "Vous arrêtez de travailler ?": one tap registers the OUT with the current position.
  function setupQuickOut(form) {
    form.addEventListener("submit", function (event) {
      if (form.elements.latitude.value || !("geolocation" in navigator)) return;
      event.preventDefault();
      var button = form.querySelector("button[type=submit]");
      button.disabled = true;
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

  var form = document.querySelector("form.registration-form");
  if (form) {
    setupForm(form);
    setupSuggestions(form);
    // A second tap while the first submission travels must not send a second one.
    form.addEventListener("submit", function () {
      setTimeout(function () {
        form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
      }, 0);
    });
  }
  var quickOut = document.getElementById("quick-out-form");
  if (quickOut) setupQuickOut(quickOut);
})();
