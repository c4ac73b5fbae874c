// /demo/live/: draws the snapshot of /demo/live.json ([data-live-poll]) as four lanes and
// keeps it current. It polls once a second while the tab is visible and every 30 s while
// it is hidden; showing the tab polls at once. A job's card is found again by its `key`
// on each poll and moved to the lane its status belongs to, sliding there from where it
// was (a CSS transition on transform).
(function () {
  "use strict";
  const VISIBLE = 1000;
  const HIDDEN = 30000;
  const DONE_SHOWN = 10;
  const REQUESTS = ["pending", "scheduled", "deferred"];
  const DONE = ["finished", "failed", "canceled"];

  const root = document.querySelector("[data-live-poll]");
  if (!root) return;
  const url = root.dataset.livePoll;
  const summary = document.querySelector("[data-live-summary]");
  const workersBox = root.querySelector("[data-workers]");
  const workersEmpty = root.querySelector("[data-workers-empty]");
  const lanes = {
    requests: root.querySelector('[data-lane="requests"]'),
    running: root.querySelector('[data-lane="running"]'),
    done: root.querySelector('[data-lane="done"]'),
  };
  const cards = new Map(); // key -> element

  function clock(iso) {
    return iso ? new Date(iso).toISOString().slice(11, 19) : "";
  }

  function card(job) {
    let el = cards.get(job.key);
    if (!el) {
      el = document.createElement("div");
      el.className = "live-card live-card-new";
      el.dataset.key = job.key;
      const title = document.createElement(job.url ? "a" : "span");
      title.className = "live-card-label";
      if (job.url) title.href = job.url;
      const status = document.createElement("span");
      const meta = document.createElement("small");
      el.append(title, " ", status, meta);
      cards.set(job.key, el);
    }
    const [title, , status, meta] = el.childNodes;
    title.textContent = job.mine ? job.label + " (yours)" : job.label;
    status.className = "status status-" + job.status;
    status.textContent = job.status_label;
    const when = job.finished_at || job.started_at || job.enqueued_at || job.created_at;
    // Inside a worker's box the card needs no worker's name; in Done it says who ran it.
    const ranBy = DONE.includes(job.status) ? job.worker : "";
    // A delayed job or a retry waits for its time, not in its queue: say when that is (a
    // retry's is its enqueued_at, the time it goes back to its queue).
    const due = [job.run_at, job.enqueued_at].filter(Boolean).sort().pop();
    const time = job.status === "scheduled" && due ? "runs at " + clock(due) : clock(when);
    meta.textContent = [job.queue, ranBy, time].filter(Boolean).join(" · ");
    el.dataset.status = job.status;
    el.classList.toggle("live-card-mine", job.mine);
    return el;
  }

  const workerBoxes = new Map(); // worker name -> its box, kept from poll to poll

  function workerBox(worker) {
    let box = workerBoxes.get(worker.name);
    if (!box) {
      box = document.createElement("div");
      box.className = "live-box live-worker";
      box.dataset.worker = worker.name;
      const heading = document.createElement("h3");
      const state = document.createElement("span");
      heading.append(worker.name + " ", state);
      const queues = document.createElement("small");
      const slot = document.createElement("div");
      slot.className = "live-cards";
      box.append(heading, queues, slot);
      workerBoxes.set(worker.name, box);
    }
    const state = box.querySelector("h3 span");
    state.className = "status " + (worker.busy ? "status-running" : "status-idle");
    state.textContent = worker.busy ? "busy" : "idle";
    box.querySelector("small").textContent = "takes from " + worker.queues.join(", ");
    return box;
  }

  // Puts `children` in `container`, touching the page only when they changed, so that a
  // focused link keeps its focus.
  function show(container, children) {
    const now = container.children;
    if (now.length === children.length && children.every((el, i) => now[i] === el)) return;
    container.replaceChildren(...children);
  }

  function byTime(field, newestFirst) {
    return function (a, b) {
      const left = a[field] || a.created_at;
      const right = b[field] || b.created_at;
      return newestFirst ? right.localeCompare(left) : left.localeCompare(right);
    };
  }

  function render(data) {
    if (summary.textContent !== data.summary) summary.textContent = data.summary;

    // Where each card is now, so that a moved one can slide from there.
    const before = new Map();
    for (const [key, el] of cards) before.set(key, el.getBoundingClientRect());

    for (const queue of data.queues) {
      const box = root.querySelector('[data-queue="' + CSS.escape(queue.name) + '"]');
      if (!box) continue;
      box.querySelector('[data-field="waiting"]').textContent = queue.waiting + " waiting";
      box.querySelector('[data-field="paused"]').hidden = !queue.paused;
    }

    workersEmpty.hidden = data.workers.length > 0;
    const slots = new Map(); // job key or worker name -> the worker's card slot
    const boxes = data.workers.map(function (worker) {
      const box = workerBox(worker);
      const slot = box.querySelector(".live-cards");
      if (worker.job_key) slots.set(worker.job_key, slot);
      slots.set("worker:" + worker.name, slot);
      return box;
    });
    show(workersBox, boxes);
    for (const name of [...workerBoxes.keys()]) {
      if (!data.workers.some((worker) => worker.name === name)) workerBoxes.delete(name);
    }

    const places = new Map(); // container -> [job]
    function put(container, job) {
      if (!places.has(container)) places.set(container, []);
      places.get(container).push(job);
    }
    const done = data.jobs.filter((job) => DONE.includes(job.status));
    done.sort(byTime("finished_at", true));
    const shown = new Set(done.slice(0, DONE_SHOWN).map((job) => job.key));
    for (const job of data.jobs) {
      if (REQUESTS.includes(job.status)) put(lanes.requests, job);
      else if (DONE.includes(job.status)) {
        if (shown.has(job.key)) put(lanes.done, job);
      } else if (job.status === "queued") {
        const box = root.querySelector('[data-queue="' + CSS.escape(job.queue) + '"] .live-cards');
        put(box || lanes.requests, job);
      } else {
        put(slots.get(job.key) || slots.get("worker:" + job.worker) || lanes.running, job);
      }
    }

    const kept = new Set();
    const containers = [lanes.requests, lanes.running, lanes.done];
    containers.push(...root.querySelectorAll("[data-queue] .live-cards, [data-worker] .live-cards"));
    for (const container of containers) {
      if (!places.has(container)) places.set(container, []);
    }
    for (const [container, jobs] of places) {
      if (container === lanes.done) jobs.sort(byTime("finished_at", true));
      else jobs.sort(byTime("enqueued_at", false));
      show(
        container,
        jobs.map(function (job) {
          kept.add(job.key);
          return card(job);
        })
      );
    }
    for (const key of [...cards.keys()]) {
      if (!kept.has(key)) cards.delete(key);
    }

    // Slide each card that moved from where it was to where it is.
    for (const [key, el] of cards) {
      const was = before.get(key);
      if (!was) continue;
      el.classList.remove("live-card-new");
      const now = el.getBoundingClientRect();
      const dx = was.left - now.left;
      const dy = was.top - now.top;
      if (!dx && !dy) continue;
      el.style.transition = "none";
      el.style.transform = "translate(" + dx + "px, " + dy + "px)";
      el.getBoundingClientRect(); // apply the offset before the transition starts
      el.style.transition = "";
      el.style.transform = "";
    }
    root.dataset.updated = data.now;
  }

  let timer = null;

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(poll, document.visibilityState === "hidden" ? HIDDEN : VISIBLE);
  }

  async function poll() {
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      if (response.ok) render(await response.json());
    } catch (error) {
      // A dropped connection or a restarting server: try again at the next tick.
    }
    schedule();
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") poll();
    else schedule();
  });

  const initial = document.getElementById("live-snapshot");
  if (initial) render(JSON.parse(initial.textContent));
  schedule();
})();
