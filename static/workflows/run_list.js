// The admin's workflow-run list: each queued or running run on the page follows its
// websocket (/ws/runs/<id>/), so its status cell changes without a reload.
(function () {
  "use strict";
  if (!window.AtomLive) return;
  const ACTIVE = new Set(["queued", "running"]);
  const MAX_FOLLOWED = 25;
  const rows = [...document.querySelectorAll("#result_list tbody tr")].filter((row) => {
    const status = row.querySelector("td.field-status");
    return status && ACTIVE.has(status.textContent.trim().toLowerCase());
  });

  rows.slice(0, MAX_FOLLOWED).forEach((row) => {
    const link = row.querySelector("th.field-id a, td.field-id a");
    const id = link && link.textContent.trim();
    if (!id || !/^\d+$/.test(id)) return;
    const cell = row.querySelector("td.field-status");
    const show = (status) => {
      cell.textContent = status.charAt(0).toUpperCase() + status.slice(1);
      row.dataset.status = status;
    };
    window.AtomLive.follow({
      ws: `/ws/runs/${id}/`,
      events: `/api/workflow-runs/${id}/events`,
      onSnapshot: (snapshot) => show(snapshot.run.status),
      onEvent: (event) => event.kind === "run" && show(event.status),
    });
  });
})();
