// ClaO, employer space: a tap on an address suggestion fills the fields it stands for.
// Without JavaScript the fields are typed by hand; the server checks them the same way.
(function () {
  "use strict";
  document.querySelectorAll("form.address-form").forEach(function (form) {
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
  });
})();
