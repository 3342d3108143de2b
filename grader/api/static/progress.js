// Live progress: poll the status endpoint until grading ends, then show the server-rendered result.
"use strict";
(function () {
  const live = document.getElementById("live");
  if (!live || live.dataset.finished === "true") return;
  const url = live.dataset.statusUrl;
  let delay = 1000;

  function set(id, value) {
    const el = document.getElementById(id);
    if (el) el.textContent = value;
  }

  function update(p) {
    set("state-value", p.state);
    const queue = document.getElementById("queue");
    if (queue) queue.hidden = p.queue_position === null;
    set("queue-value", p.queue_position === null ? "" : p.queue_position);
    set("done-value", p.done);
    set("total-value", p.total || "?");
    const current = document.getElementById("current");
    if (current) current.hidden = !p.current;
    set("current-value", p.current || "");
    const bar = document.getElementById("progress-bar");
    if (bar) { bar.max = p.total || 1; bar.value = p.done; }
  }

  async function poll() {
    try {
      const response = await fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } });
      if (response.ok) {
        const body = await response.json();
        set("started-value", body.timestamps.started);
        set("finished-value", body.timestamps.finished);
        if (body.finished && body.html) {
          live.innerHTML = body.html;  // server-rendered and escaped/sanitised, like the rest of the page
          live.dataset.finished = "true";
          const heading = document.getElementById("result-heading");
          if (heading) heading.focus();
          return;
        }
        update(body.progress);
        delay = 1000;
      } else {
        delay = Math.min(delay * 2, 10000);
      }
    } catch (err) {
      delay = Math.min(delay * 2, 10000);
    }
    window.setTimeout(poll, delay);
  }
  window.setTimeout(poll, 500);
})();
