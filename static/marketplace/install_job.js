// Follows an install job live (/ws/installs/<id>/): its status and log lines as they happen,
// replayed from its first event so the log is whole (the last 2,000 lines kept), then one
// reload when it is done, for the finished job's facts. Without JavaScript the page refreshes
// itself (<noscript> meta refresh).
(function () {
  "use strict";
  const job = document.querySelector("article.job");
  if (!job || job.dataset.finished === "true" || !window.AtomLive) return;
  const status = document.getElementById("job-status");
  const log = document.getElementById("job-log");
  const maxLines = 2000;
  let lines = [];
  let started = false;
  let renderPending = false;

  function render() {
    if (renderPending) return;
    renderPending = true;
    window.requestAnimationFrame(() => {
      renderPending = false;
      log.textContent = lines.length ? lines.join("\n") + "\n" : "(nothing yet)";
      log.dataset.lines = String(lines.length);
    });
  }

  window.AtomLive.follow({
    ws: job.dataset.ws,
    events: job.dataset.events,
    after: 0,
    onEvent(event) {
      if (event.kind === "log") {
        if (!started) {
          started = true; // the replay rebuilds the log the server printed
          lines = [];
        }
        lines.push(...event.lines);
        if (lines.length > maxLines) lines.splice(0, lines.length - maxLines);
        render();
      } else if (event.kind === "install") {
        status.textContent = event.status.charAt(0).toUpperCase() + event.status.slice(1);
        status.className = `status status-${event.status}`;
      }
    },
    onEnd() {
      window.location.reload();
    },
  });
})();
