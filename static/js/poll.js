// Keeps a job page ([data-job-poll]) or the My jobs list ([data-jobs-poll]) current
// without a reload; the list also gains a row for each job created after it loaded.
// It polls the JSON once a second while a job is moving, every 10 s once it has ended
// (staff may requeue it, and the page then follows it again), and every 30 s while the
// tab is hidden; showing the tab polls at once. It never stops.
// Countdowns ([data-countdown], an ISO time) tick every second.
(function () {
  const ACTIVE = 1000;
  const ENDED = 10000;
  const HIDDEN = 30000;

  function seconds(value) {
    return value === null || value === undefined ? null : Number(value).toFixed(3) + " s";
  }

  function clock(iso) {
    return new Date(iso).toISOString().slice(11, 19);
  }

  function tickCountdowns() {
    for (const el of document.querySelectorAll("[data-countdown]")) {
      const at = el.dataset.countdown;
      if (!at) {
        el.hidden = true;
        continue;
      }
      const left = Math.max(0, Math.round((new Date(at) - Date.now()) / 1000));
      const verb = el.dataset.countdownKind || "Runs";
      el.hidden = false;
      el.textContent = left > 0 ? verb + " in " + left + "s (at " + clock(at) + " UTC)" : verb + " now";
    }
  }

  function renderJob(box, data) {
    for (const el of box.querySelectorAll("[data-field]")) {
      const value = data[el.dataset.field];
      if (value === undefined) continue;
      if (el.tagName === "PROGRESS") el.value = value;
      else el.textContent = value;
      if (el.dataset.field === "error") el.hidden = !value;
      if (el.dataset.field === "status_label") el.className = "status status-" + data.status;
    }
    const waiting = box.querySelector(".waiting");
    if (waiting) waiting.hidden = data.status !== "pending";
    const story = data.story;
    if (story) {
      const timeline = box.querySelector('[data-story="timeline"]');
      if (timeline) {
        timeline.replaceChildren(
          ...story.timeline.map(function (entry) {
            const li = document.createElement("li");
            const time = document.createElement("time");
            time.dateTime = entry.at;
            time.textContent = clock(entry.at);
            li.append(time, " " + entry.text);
            return li;
          })
        );
      }
      const texts = {
        waited: seconds(story.waited) || "–",
        ran: seconds(story.ran) || "–",
        worker: story.worker || "–",
        result: data.status === "finished" ? "Finished" : data.status === "failed" ? "Failed" : "Not yet",
      };
      if (story.request_seconds !== null) texts.request_seconds = seconds(story.request_seconds);
      for (const [key, text] of Object.entries(texts)) {
        const el = box.querySelector('[data-story="' + key + '"]');
        if (el) el.textContent = text;
      }
      const countdown = box.querySelector("[data-countdown]");
      if (countdown) {
        countdown.dataset.countdown = story.run_at || story.next_attempt_at || "";
        countdown.dataset.countdownKind = story.run_at ? "Runs" : "Retrying";
      }
      tickCountdowns();
    }
    box.dispatchEvent(new CustomEvent("job:update", { detail: data }));
  }

  function fillRow(row, job) {
    for (const el of row.querySelectorAll("[data-field]")) {
      const value = job[el.dataset.field];
      if (value === undefined) continue;
      if (el.tagName === "PROGRESS") el.value = value;
      else el.textContent = value;
      if (el.dataset.field === "status_label") el.className = "status status-" + job.status;
    }
  }

  // A job the page has not seen yet (it was created after the page loaded) gets a row
  // made from the page's <template data-job-row>, above the rows already there: the
  // JSON lists the newest first, like the page.
  function addRow(box, job, before) {
    const template = document.querySelector("template[data-job-row]");
    if (!template) return;
    const row = template.content.firstElementChild.cloneNode(true);
    row.dataset.jobId = job.id;
    row.querySelector("[data-link]").href = job.url;
    row.querySelector("progress").setAttribute("aria-label", "Progress of " + job.label);
    fillRow(row, job);
    box.querySelector("tbody").insertBefore(row, before);
  }

  function renderList(box, data) {
    const tbody = box.querySelector("tbody");
    const first = tbody.firstElementChild;
    for (const job of data.jobs) {
      const row = box.querySelector('[data-job-id="' + job.id + '"]');
      if (row) fillRow(row, job);
      else addRow(box, job, first);
    }
    if (data.jobs.length) {
      box.hidden = false;
      const empty = document.querySelector("[data-jobs-empty]");
      if (empty) empty.hidden = true;
    }
    return data.jobs.every(function (job) {
      return job.terminal;
    });
  }

  function follow(box, url, render) {
    let timer = null;
    let ended = false;

    function schedule() {
      clearTimeout(timer);
      const delay = document.visibilityState === "hidden" ? HIDDEN : ended ? ENDED : ACTIVE;
      timer = setTimeout(poll, delay);
    }

    async function poll() {
      try {
        const response = await fetch(url, { headers: { Accept: "application/json" } });
        if (response.ok) ended = render(box, await response.json());
      } catch (error) {
        // A dropped connection is not the end of the job: keep polling.
      }
      schedule();
    }

    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") poll();
      else schedule();
    });
    poll();
  }

  const jobBox = document.querySelector("[data-job-poll]");
  if (jobBox) {
    follow(jobBox, jobBox.dataset.jobPoll, function (box, data) {
      renderJob(box, data);
      return Boolean(data.terminal);
    });
  }
  const listBox = document.querySelector("[data-jobs-poll]");
  if (listBox) follow(listBox, listBox.dataset.jobsPoll, renderList);
  tickCountdowns();
  setInterval(tickCountdowns, 1000);
})();
