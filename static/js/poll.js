// Polls a job's (or photo's) JSON once a second and fills in [data-field] elements,
// until the JSON says it is terminal. No framework, no reload.
(function () {
  const box = document.querySelector("[data-job-poll]");
  if (!box) return;
  const url = box.dataset.jobPoll;

  function render(data) {
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
    box.dispatchEvent(new CustomEvent("job:update", { detail: data }));
  }

  async function poll() {
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const data = await response.json();
        render(data);
        if (data.terminal) return;
      }
    } catch (error) {
      // A dropped connection is not the end of the job: keep polling.
    }
    setTimeout(poll, 1000);
  }
  poll();
})();
