/* The campaign page: counters and charts, refreshed every 2 s from the stats endpoint while
   the campaign sends or still waits for delivery reports. Uses Chart.js (static/vendor). */
(function () {
  "use strict";
  var script = document.getElementById("campaign-script");
  var url = script.getAttribute("data-stats-url");
  var stats = JSON.parse(document.getElementById("campaign-stats").textContent);
  var text = JSON.parse(document.getElementById("chart-text").textContent);
  var charts = {};
  var palette = ["#2563eb", "#16a34a", "#dc2626", "#d97706", "#7c3aed", "#0891b2", "#db2777",
    "#65a30d", "#9333ea", "#ea580c", "#0d9488", "#4b5563", "#94a3b8"];
  var number = new Intl.NumberFormat();

  function makeCharts() {
    if (!window.Chart) { return; }
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.maintainAspectRatio = false;
    Chart.defaults.animation = { duration: 300 };
    charts.funnel = new Chart(document.getElementById("funnel-chart"), {
      type: "bar",
      data: { labels: stats.funnel.labels, datasets: [{ data: stats.funnel.values, backgroundColor: ["#93c5fd", "#3b82f6", "#16a34a"], borderRadius: 6 }] },
      options: { indexAxis: "y", plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } }
    });
    charts.codes = new Chart(document.getElementById("codes-chart"), {
      type: "doughnut",
      data: codesData(stats.codes),
      // The legend is the list below the canvas (renderLegend): Chart.js draws its own
      // inside the canvas's fixed height and cuts off the codes that do not fit.
      options: { plugins: { legend: { display: false } }, cutout: "55%" }
    });
    charts.timeline = new Chart(document.getElementById("timeline-chart"), {
      type: "bar",
      data: timelineData(stats.timeline),
      options: { plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } }, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } }
    });
  }

  function codesData(codes) {
    return {
      labels: codes.map(function (c) { return c.code + (c.description ? " " + c.description : ""); }),
      datasets: [{ data: codes.map(function (c) { return c.n; }), backgroundColor: codes.map(function (c, i) { return palette[i % palette.length]; }) }]
    };
  }

  function renderLegend(codes) {
    var list = document.getElementById("codes-legend");
    if (!list) { return; }
    list.innerHTML = "";
    list.hidden = !codes.length;
    codes.forEach(function (c, i) {
      var item = document.createElement("li");
      var swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = palette[i % palette.length];
      var label = document.createElement("span");
      label.textContent = c.code + (c.description ? " " + c.description : "");
      var n = document.createElement("span");
      n.className = "muted";
      n.textContent = number.format(c.n);
      item.appendChild(swatch);
      item.appendChild(label);
      item.appendChild(n);
      list.appendChild(item);
    });
  }

  function timelineData(t) {
    return {
      labels: t.labels,
      datasets: [
        { label: text.delivered, data: t.delivered, backgroundColor: "#16a34a", borderRadius: 3 },
        { label: text.failed, data: t.failed, backgroundColor: "#dc2626", borderRadius: 3 }
      ]
    };
  }

  function pct(value) { return (value % 1 === 0 ? value.toFixed(0) : value.toFixed(1)) + "%"; }

  function setText(el, value) { if (el && el.textContent !== value) { el.textContent = value; } }

  function render(s) {
    Object.keys(s.counters).forEach(function (key) {
      setText(document.querySelector('[data-counter="' + key + '"]'), number.format(s.counters[key]));
    });
    setText(document.getElementById("progress-text"), pct(s.progress));
    document.getElementById("progress-bar").style.width = s.progress + "%";
    setText(document.getElementById("delivery-rate"), s.delivery_rate === null ? "—" : pct(s.delivery_rate));
    setText(document.getElementById("cost"), s.cost);
    var badge = document.getElementById("status-badge");
    badge.className = "badge " + s.status;
    setText(badge, s.status_label);
    var reason = document.getElementById("status-reason");
    setText(reason, s.status_reason);
    reason.classList.toggle("hidden", !s.status_reason);
    // Every button the page was drawn with follows the status: one that no longer applies
    // (a draft's "Edit" once it is sent) is hidden, not left to fail when clicked.
    document.querySelectorAll("[data-action]").forEach(function (el) {
      var name = el.getAttribute("data-action");
      if (Object.prototype.hasOwnProperty.call(s.actions, name)) {
        el.classList.toggle("hidden", !s.actions[name]);
      }
    });
    document.getElementById("live-note").hidden = !s.live;
    document.getElementById("codes-empty").hidden = s.codes.length > 0;
    document.getElementById("codes-chart").parentElement.hidden = !s.codes.length;
    renderLegend(s.codes);
    document.getElementById("timeline-empty").hidden = s.timeline.labels.length > 0;
    document.getElementById("timeline-chart").parentElement.hidden = !s.timeline.labels.length;
    var tbody = document.querySelector("#codes-table tbody");
    if (s.codes.length) {
      tbody.innerHTML = "";
      s.codes.forEach(function (c) {
        var tr = document.createElement("tr");
        [c.code, c.words || "", c.description || c.status_label || "", number.format(c.n)].forEach(function (value, i) {
          var td = document.createElement("td");
          td.textContent = value;
          if (i === 0) { td.className = "mono"; }
          if (i === 3) { td.className = "num"; }
          tr.appendChild(td);
        });
        tbody.appendChild(tr);
      });
    }
    if (charts.funnel) {
      charts.funnel.data.datasets[0].data = s.funnel.values;
      charts.funnel.update();
      charts.codes.data = codesData(s.codes);
      charts.codes.update();
      charts.timeline.data = timelineData(s.timeline);
      charts.timeline.update();
    }
    document.body.setAttribute("data-campaign-status", s.status);
  }

  // The stats answer 304 while nothing changed: the page sends the version it shows.
  var etag = script.getAttribute("data-stats-etag") || "";
  var timer = null;
  function poll() {
    var headers = { Accept: "application/json" };
    if (etag) { headers["If-None-Match"] = etag; }
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: headers })
      .then(function (r) {
        if (r.status === 304) { return null; }
        if (!r.ok) { throw new Error(r.status); }
        etag = r.headers.get("ETag") || "";
        return r.json();
      })
      .then(function (s) {
        if (s) {
          stats = s;
          render(s);
        }
        schedule(stats.live ? 2000 : 0);
      })
      .catch(function () { schedule(10000); });
  }
  function schedule(ms) {
    clearTimeout(timer);
    if (ms) { timer = setTimeout(poll, document.hidden ? Math.max(ms, 10000) : ms); }
  }

  makeCharts();
  render(stats);
  if (stats.live) { schedule(2000); }
  // A page shown again (the back button, another tab that sent the campaign) asks once
  // whether anything changed: a 304 when nothing did.
  window.addEventListener("pageshow", function (e) { if (e.persisted) { poll(); } });
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && !stats.live) { poll(); }
  });
})();
