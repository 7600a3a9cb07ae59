// Alliance Portal: small progressive enhancements. Every page works without this file.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  // The org switcher submits as soon as another org is chosen; its button is only for no-script use.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    var form = select.form;
    form.querySelectorAll(".js-hide").forEach(function (el) { el.hidden = true; });
    select.addEventListener("change", function () {
      if (select.value) { form.submit(); }
    });
  });

  // Destructive one-button forms ask first.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });

  // Copy buttons (the one-time invitation link).
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var target = document.querySelector(button.getAttribute("data-copy"));
      if (!target) { return; }
      target.select();
      var done = function () { button.textContent = "Copied"; };
      if (navigator.clipboard) {
        navigator.clipboard.writeText(target.value).then(done, function () { document.execCommand("copy"); done(); });
      } else {
        document.execCommand("copy");
        done();
      }
    });
  });
});
