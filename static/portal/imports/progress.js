// Polls the import job's status every second; reloads the page once the job has finished.
(function () {
  "use strict";
  var root = document.getElementById("import-job");
  if (!root || root.dataset.finished === "1") return;
  var bar = document.getElementById("import-progress");
  var percent = document.getElementById("import-percent");
  var state = document.getElementById("import-state");
  function poll() {
    fetch(root.dataset.statusUrl, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (s) {
        bar.style.width = s.percent + "%";
        if (bar.parentNode) bar.parentNode.setAttribute("aria-valuenow", s.percent);
        if (percent) percent.textContent = s.percent + "%";
        state.textContent = s.state_label;
        root.querySelectorAll("[data-field]").forEach(function (el) {
          if (s[el.dataset.field] !== undefined) el.textContent = s[el.dataset.field];
        });
        if (s.finished) { window.location.reload(); } else { setTimeout(poll, 1000); }
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 1000);
})();
