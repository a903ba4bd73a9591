// Follows a queued single-skill run live (/ws/skill-runs/<id>/): its status as it changes,
// then one reload when it is finished, for the outcome the server prints. Used by the
// marketplace's run page and the admin's "Try it" page.
(function () {
  "use strict";
  const box = document.querySelector("[data-skill-run-ws]");
  if (!box || !window.AtomLive) return;
  const status = box.querySelector(".live-status");

  function show(value) {
    status.textContent = value.charAt(0).toUpperCase() + value.slice(1);
    status.className = `live-status status status-${value}`;
  }

  window.AtomLive.follow({
    ws: box.dataset.skillRunWs,
    events: box.dataset.skillRunEvents,
    onSnapshot: (snapshot) => show(snapshot.skill_run.status),
    onEvent: (event) => event.kind === "skill_run" && show(event.status),
    onEnd: () => window.location.reload(),
  });
})();
