// Live regions: each element with data-live follows the server-sent event
// stream at that path and takes the HTML of each "update" event. Without
// this script the pages work the same, refreshed by hand or by the
// <noscript> refresh.
"use strict";
(() => {
  const status = document.getElementById("live-status");
  const say = (text) => {
    if (!status || status.textContent === text) return;
    status.textContent = text;
    status.hidden = false;
  };
  for (const region of document.querySelectorAll("[data-live]")) {
    const src = region.getAttribute("data-live");
    if (!src || !window.EventSource) continue;
    const es = new EventSource(src);
    es.addEventListener("open", () => say("Live"));
    es.addEventListener("update", (e) => {
      region.innerHTML = e.data;
      say("Live");
    });
    es.addEventListener("end", () => {
      es.close();
      say("Live updates stopped: your session ended. Reload to sign in again.");
    });
    es.addEventListener("error", () => {
      say(es.readyState === EventSource.CLOSED ? "Live updates stopped: reload the page." : "Reconnecting…");
    });
    addEventListener("pagehide", () => es.close());
  }
})();
