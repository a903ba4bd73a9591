// The live run page: replays the run's events from the start (so the log tail of every step
// is there too), then follows them live; colours the DAG's boxes and the steps' rows by
// status, and keeps only the last lines of each step's log, in memory and in the DOM.
(function () {
  "use strict";
  const root = document.getElementById("run-page");
  if (!root || !window.AtomLive) return;
  const maxLines = Number(root.dataset.maxLogLines || 2000);
  const logs = new Map(); // step id → {lines: [...last maxLines], total}
  const logView = document.getElementById("step-log");
  const logCount = document.getElementById("log-count");
  const logStep = document.getElementById("log-step");
  let selected = logStep.textContent.trim();
  let renderPending = false;

  function boxOf(step) {
    return root.querySelector(`#run-dag g.step[data-step="${CSS.escape(step)}"]`);
  }

  function rowOf(step) {
    return root.querySelector(`#run-steps tr[data-step="${CSS.escape(step)}"]`);
  }

  function statusShow(element, status, suffix) {
    element.textContent = status + (suffix || "");
    element.className = element.className.replace(/\bstatus-\S+/g, "").trim();
    element.classList.add("status", `status-${status}`);
  }

  function stepShow(step) {
    const box = boxOf(step.step);
    if (box) box.dataset.status = step.status;
    const row = rowOf(step.step);
    if (!row) return;
    statusShow(row.querySelector(".status"), step.status, step.is_cached ? " (cached)" : "");
    row.querySelector(".attempts").textContent = `${step.attempt} / ${row.dataset.maxAttempts}`;
    const duration = step.duration_ms;
    row.querySelector(".duration").textContent =
      duration === null || duration === undefined ? "—" : `${Math.round(duration)} ms`;
    row.querySelector(".error").textContent = step.error || "";
  }

  function runShow(run) {
    statusShow(document.getElementById("run-status"), run.status);
    const error = document.getElementById("run-error");
    error.textContent = run.error ? `${run.error}${run.error_message ? ": " + run.error_message : ""}` : "—";
    const cancel = document.getElementById("run-cancel");
    const retry = document.getElementById("run-retry");
    const finished = ["succeeded", "failed", "cancelled"].includes(run.status);
    if (cancel) cancel.disabled = finished;
    if (retry) retry.disabled = !["failed", "cancelled"].includes(run.status);
  }

  function logAdd(step, lines) {
    let log = logs.get(step);
    if (!log) {
      log = { lines: [], total: 0 };
      logs.set(step, log);
    }
    log.total += lines.length;
    for (const line of lines) log.lines.push(line);
    if (log.lines.length > maxLines) log.lines.splice(0, log.lines.length - maxLines);
    if (step === selected) logRender();
  }

  // At most one redraw a frame, however many batches arrive.
  function logRender() {
    if (renderPending) return;
    renderPending = true;
    window.requestAnimationFrame(() => {
      renderPending = false;
      const log = logs.get(selected) || { lines: [], total: 0 };
      logStep.textContent = selected;
      logView.textContent = log.lines.join("\n");
      logView.dataset.lines = String(log.lines.length);
      logCount.textContent =
        log.total > log.lines.length
          ? `the last ${log.lines.length.toLocaleString()} of ${log.total.toLocaleString()} lines`
          : `${log.total.toLocaleString()} line${log.total === 1 ? "" : "s"}`;
      logView.scrollTop = logView.scrollHeight;
    });
  }

  function select(step) {
    selected = step;
    root.querySelectorAll(".selected").forEach((element) => element.classList.remove("selected"));
    const box = boxOf(step);
    const row = rowOf(step);
    if (box) box.classList.add("selected");
    if (row) row.classList.add("selected");
    logRender();
  }

  root.querySelectorAll("#run-dag g.step").forEach((box) => {
    box.addEventListener("click", () => select(box.dataset.step));
  });
  root.querySelectorAll("#run-steps tr[data-step]").forEach((row) => {
    row.querySelector(".step-link").addEventListener("click", () => select(row.dataset.step));
    const status = row.querySelector(".status").textContent.split(" ")[0];
    const box = boxOf(row.dataset.step);
    if (box) box.dataset.status = status;
  });

  function onEvent(event) {
    if (event.kind === "run") runShow(event);
    else if (event.kind === "step") stepShow(event);
    else if (event.kind === "log") logAdd(event.step || selected, event.lines);
  }

  const live = window.AtomLive.follow({
    ws: root.dataset.ws,
    events: root.dataset.events,
    after: 0,
    onEvent,
    onRefused: (code) => {
      document.getElementById("run-action-message").textContent =
        `Live updates refused (${code}): reload to sign in again.`;
    },
  });

  async function post(url, done) {
    const message = document.getElementById("run-action-message");
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": root.dataset.csrf, Accept: "application/json" },
    });
    const body = await response.json().catch(() => ({}));
    message.textContent = response.ok ? done : `Refused: ${body.detail || response.status}`;
    if (response.ok) live.restart();
  }

  const cancel = document.getElementById("run-cancel");
  const retry = document.getElementById("run-retry");
  if (cancel) cancel.addEventListener("click", () => post(root.dataset.cancel, "Cancelling…"));
  if (retry) retry.addEventListener("click", () => post(root.dataset.retry, "Retrying…"));
  select(selected);
})();
