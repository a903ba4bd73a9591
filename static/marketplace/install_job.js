// Follows an install job in place: status and new log lines every second, then one reload
// when it is done. Without JavaScript the page refreshes itself (<noscript> meta refresh).
(function () {
  "use strict";
  const job = document.querySelector("article.job");
  if (!job || job.dataset.finished === "true") return;
  const status = document.getElementById("job-status");
  const log = document.getElementById("job-log");
  let after = Number(job.dataset.logAfter || 0);

  async function poll() {
    const response = await fetch(`${job.dataset.api}?log_after=${after}`, {
      headers: { Accept: "application/json" },
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const data = await response.json();
    for (const line of data.log) {
      if (after === 0 && log.dataset.empty === "true") {
        log.textContent = "";
        log.dataset.empty = "false";
      }
      log.textContent += line.text + "\n";
      after = Math.max(after, line.id);
    }
    status.textContent = data.status.charAt(0).toUpperCase() + data.status.slice(1);
    status.className = `status status-${data.status}`;
    if (data.status === "succeeded" || data.status === "failed") {
      window.location.reload();
      return;
    }
    window.setTimeout(tick, 1000);
  }

  function tick() {
    poll().catch(() => window.setTimeout(tick, 3000));
  }
  window.setTimeout(tick, 1000);
})();
