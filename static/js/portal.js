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

  // Import job pages: move the progress bar without reloading; reload once the job has finished so the
  // page shows its results. Polling stops when the page is left.
  document.querySelectorAll("[data-poll-url]").forEach(function (panel) {
    if (panel.getAttribute("data-poll-done") === "true") { return; }
    var bar = panel.querySelector("progress");
    var number = function (value) { return value === null ? "counting…" : Number(value).toLocaleString("en"); };
    var poll = function () {
      fetch(panel.getAttribute("data-poll-url"), { headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (response) {
          // Signed out, or the job is gone: stop asking (a reload shows the page's own message).
          if (response.status >= 400 && response.status < 500) { window.clearInterval(timer); return null; }
          return response.ok ? response.json() : null;
        })
        .then(function (job) {
          if (!job) { return; }
          panel.querySelectorAll("[data-field]").forEach(function (el) {
            var name = el.getAttribute("data-field");
            if (!(name in job)) { return; }
            el.textContent = (name === "status" || name === "percent") ? job[name] : number(job[name]);
          });
          if (bar && job.total_rows) { bar.max = job.total_rows; bar.value = job.processed_rows; }
          if (job.status === "done" || job.status === "failed") {
            window.clearInterval(timer);
            window.location.reload();
          }
        })
        .catch(function () { /* a missed poll is retried on the next tick */ });
    };
    var timer = window.setInterval(poll, 1000);
    poll();
  });

  // The queue: "select all on this page" ticks every listing; the bulk bar counts the ticked ones, and the
  // ground field follows the chosen move (a template fills it; typing clears the template).
  document.querySelectorAll("[data-select-all]").forEach(function (master) {
    var form = document.getElementById(master.getAttribute("data-select-all"));
    if (!form) { return; }
    var boxes = function () { return form.querySelectorAll("input[name=item]"); };
    var counter = form.querySelector("[data-selected-count]");
    var show = function () {
      var ticked = Array.prototype.filter.call(boxes(), function (box) { return box.checked; }).length;
      if (counter) { counter.textContent = ticked + " selected"; }
      master.checked = ticked > 0 && ticked === boxes().length;
      master.indeterminate = ticked > 0 && ticked < boxes().length;
    };
    master.addEventListener("change", function () {
      boxes().forEach(function (box) { box.checked = master.checked; });
      show();
    });
    form.addEventListener("change", function (event) {
      if (event.target.name === "item") { show(); }
    });
    show();
  });
  document.querySelectorAll("select[data-ground-for]").forEach(function (templates) {
    var moves = document.getElementById(templates.getAttribute("data-ground-for"));
    var sync = function () {
      Array.prototype.forEach.call(templates.options, function (option) {
        var move = option.getAttribute("data-move");
        option.hidden = Boolean(move) && move !== moves.value;
      });
      var chosen = templates.options[templates.selectedIndex];
      if (chosen && chosen.hidden) { templates.value = ""; }
    };
    moves.addEventListener("change", sync);
    sync();
  });
});
