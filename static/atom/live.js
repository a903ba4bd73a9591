// Follows a subject's live events (docs/live-progress.md): its websocket first, reconnecting
// with ?after=<last seq> on a drop (nothing lost, nothing twice), and after repeated drops the
// HTTP events endpoint polled once a second until the subject is finished.
//
//   const live = AtomLive.follow({ws, events, after, onSnapshot, onEvent, onEnd, onRefused});
//   live.restart();   // follow again after the subject was restarted (a retried run)
//
// document.body.dataset.live tells which way it follows: websocket, polling, ended or refused.
(function () {
  "use strict";
  const REFUSED = new Set([4401, 4403, 4404]);
  const DROPS_BEFORE_POLLING = 3;
  const POLL_MS = 1000;

  function follow(options) {
    let last = options.after === undefined ? null : options.after;
    let ended = false;
    let drops = 0;
    let socket = null;
    const noop = () => {};
    const onSnapshot = options.onSnapshot || noop;
    const onEvent = options.onEvent || noop;
    const onEnd = options.onEnd || noop;
    const onRefused = options.onRefused || noop;

    function mode(name) {
      document.body.dataset.live = name;
    }

    function event(message) {
      if (last !== null && message.seq <= last) return;
      last = message.seq;
      onEvent(message);
    }

    function end() {
      ended = true;
      mode("ended");
      onEnd();
    }

    function connect() {
      const scheme = window.location.protocol === "https:" ? "wss" : "ws";
      const query = last === null ? "" : `?after=${last}`;
      socket = new WebSocket(`${scheme}://${window.location.host}${options.ws}${query}`);
      socket.onopen = () => mode("websocket");
      socket.onmessage = (received) => {
        const message = JSON.parse(received.data);
        drops = 0;
        if (message.type === "snapshot") {
          last = message.seq;
          onSnapshot(message);
        } else if (message.type === "event") {
          event(message);
        } else if (message.type === "end") {
          end();
        }
      };
      socket.onclose = (closed) => {
        socket = null;
        if (ended) return;
        if (closed.code === 4401) {
          poll(); // no session the socket accepts: the HTTP events may still be readable
          return;
        }
        if (REFUSED.has(closed.code)) {
          mode("refused");
          onRefused(closed.code);
          return;
        }
        drops += 1;
        if (drops >= DROPS_BEFORE_POLLING) {
          poll();
        } else {
          window.setTimeout(connect, 300 * drops);
        }
      };
    }

    async function poll() {
      if (ended) return;
      mode("polling");
      try {
        const response = await fetch(`${options.events}?after=${last || 0}`, {
          credentials: "same-origin",
          headers: { Accept: "application/json" },
        });
        if (response.ok) {
          const page = await response.json();
          page.items.forEach(event);
          if (page.finished) {
            end();
            return;
          }
          if (page.items.length) {
            window.setTimeout(poll, 0);
            return;
          }
        } else if ([401, 403, 404].includes(response.status)) {
          mode("refused");
          onRefused(response.status);
          return;
        }
      } catch (error) {
        // The server is away: ask again at the next tick.
      }
      window.setTimeout(poll, POLL_MS);
    }

    connect();
    return {
      restart() {
        if (!ended) return;
        ended = false;
        drops = 0;
        connect();
      },
    };
  }

  window.AtomLive = { follow };
})();
