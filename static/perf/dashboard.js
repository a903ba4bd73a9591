// The perf dashboard's charts (uPlot, vendored in static/perf/vendor/uplot).
// Data comes from the admin's chart endpoints as columns: time (epoch seconds) and values.
(function () {
  "use strict";

  const root = document.getElementById("perf-dashboard-page");
  if (!root || typeof uPlot === "undefined") {
    return;
  }
  const windowQuery = new URLSearchParams({
    since: root.dataset.since,
    until: root.dataset.until,
  });
  const charts = {};

  function width(element) {
    return Math.max(320, Math.min(element.clientWidth || 900, 1100));
  }

  function message(element, text) {
    element.textContent = text;
  }

  function draw(key, element, options, data) {
    if (charts[key]) {
      charts[key].destroy();
    }
    element.textContent = "";
    // The window the x axis shows, for whoever reads the page (and its tests).
    const shown = (chart, scale) => {
      if (scale === "x") {
        element.dataset.xRange = `${chart.scales.x.min},${chart.scales.x.max}`;
      }
    };
    charts[key] = new uPlot(
      { width: width(element), height: 260, hooks: { setScale: [shown] }, ...options },
      data,
      element,
    );
  }

  // The x axis spans the window the endpoint answered for, not the samples' own extent
  // (uPlot widens a lone point to years on either side).
  function timeAxis(found) {
    return { time: true, auto: false, range: [found.since, found.until] };
  }

  function constant(value, length) {
    return new Array(length).fill(value === null || value === undefined ? null : value * 1000);
  }

  // 2500000 → "2.5M": resource axes span percentages to bytes per second.
  function compact(value) {
    const size = Math.abs(value);
    for (const [limit, suffix] of [[1e9, "G"], [1e6, "M"], [1e3, "k"]]) {
      if (size >= limit) {
        return `${+(value / limit).toFixed(1)}${suffix}`;
      }
    }
    return `${+value.toFixed(2)}`;
  }

  function milliseconds(values) {
    return values.map((value) => (value === null ? null : value * 1000));
  }

  async function fetchJson(url) {
    const response = await fetch(url, { credentials: "same-origin" });
    const body = await response.json();
    if (!response.ok) {
      throw new Error(JSON.stringify(body.detail));
    }
    return body;
  }

  async function operationChart(operation) {
    const element = document.getElementById("perf-operation-chart");
    if (!operation) {
      message(element, "No operation measured or budgeted yet.");
      return;
    }
    const query = new URLSearchParams(windowQuery);
    query.set("operation", operation);
    let found;
    try {
      found = await fetchJson(`${root.dataset.operationUrl}?${query}`);
    } catch (error) {
      message(element, `Could not load the chart: ${error.message}`);
      return;
    }
    if (found.time.length === 0) {
      message(element, `No ${operation} sample in this window.`);
      return;
    }
    const n = found.time.length;
    const baseline = found.baseline || {};
    draw(
      "operation",
      element,
      {
        title: `${operation} (ms per bucket)`,
        scales: { x: timeAxis(found) },
        series: [
          {},
          { label: "p50", stroke: "#2b7bb9", width: 1.5 },
          { label: "p95", stroke: "#e8a317", width: 1.5 },
          { label: "p99", stroke: "#c0392b", width: 1.5 },
          { label: `budget (${found.budget_statistic || "—"})`, stroke: "#555", dash: [6, 4] },
          { label: "baseline p99", stroke: "#27ae60", dash: [2, 4] },
        ],
        axes: [{}, { label: "ms", size: 60 }],
      },
      [
        found.time,
        milliseconds(found.p50),
        milliseconds(found.p95),
        milliseconds(found.p99),
        constant(found.budget, n),
        constant(baseline.p99, n),
      ],
    );
  }

  const RESOURCE_CHARTS = [
    { title: "CPU and memory (%)", fields: ["cpu_percent", "memory_percent"] },
    { title: "Load and task queue", fields: ["load_1", "queue_length", "running_tasks"] },
    { title: "Disk I/O (bytes/s)", fields: ["disk_read_rate", "disk_write_rate"] },
    { title: "Open files", fields: ["open_files"] },
  ];
  const COLOURS = ["#2b7bb9", "#c0392b", "#27ae60", "#8e44ad"];

  async function resourceCharts() {
    const container = document.getElementById("perf-resource-charts");
    let found;
    try {
      found = await fetchJson(`${root.dataset.resourcesUrl}?${windowQuery}`);
    } catch (error) {
      message(container, `Could not load the resource charts: ${error.message}`);
      return;
    }
    for (const [host, columns] of Object.entries(found.hosts)) {
      RESOURCE_CHARTS.forEach((chart, index) => {
        const title = document.createElement("div");
        title.className = "perf-chart-title";
        title.textContent = `${host}: ${chart.title}`;
        const element = document.createElement("div");
        element.className = "perf-chart";
        container.append(title, element);
        draw(
          `${host}-${index}`,
          element,
          {
            scales: { x: timeAxis(found) },
            series: [
              {},
              ...chart.fields.map((field, i) => ({ label: field, stroke: COLOURS[i] })),
            ],
            axes: [{}, { size: 60, values: (u, splits) => splits.map(compact) }],
          },
          [columns.time, ...chart.fields.map((field) => columns[field])],
        );
      });
    }
  }

  const select = document.getElementById("perf-chart-operation");
  select.addEventListener("change", () => operationChart(select.value));
  for (const link of document.querySelectorAll(".perf-chart-link")) {
    link.addEventListener("click", () => {
      select.value = link.dataset.operation;
      operationChart(select.value);
    });
  }
  select.value = root.dataset.chartOperation || select.value;
  operationChart(select.value);
  resourceCharts();
})();
