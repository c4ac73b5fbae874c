// Polls photo JSON and updates each [data-photo] card: stage, progress, and its image once
// the photo is ready. The box's URL answers with one photo (the detail page), or with
// {"photos": [...]} (a batch; or the gallery, which asks only for the cards not yet ready,
// as ?photo=<id>&photo=<id>). Once a second while something is processing; every 10 s when
// everything has ended or the tab is hidden, so a photo that staff retry is picked up again.
(function () {
  const box = document.querySelector("[data-photos-poll]");
  if (!box) return;
  const ACTIVE = 1000;
  const IDLE = 10000;

  function url() {
    if (!("pollUnready" in box.dataset)) return box.dataset.photosPoll;
    const ids = [...box.querySelectorAll("[data-photo]")]
      .filter((card) => card.dataset.status !== "ready")
      .map((card) => "photo=" + encodeURIComponent(card.dataset.photo));
    return ids.length ? box.dataset.photosPoll + "?" + ids.join("&") : null;
  }

  function render(photo) {
    const card = box.querySelector(`[data-photo="${photo.id}"]`);
    if (!card) return;
    card.querySelector("[data-field=stage]").textContent = photo.stage;
    const progress = card.querySelector("[data-field=progress]");
    progress.value = photo.progress;
    progress.hidden = photo.status === "ready";
    card.dataset.status = photo.status;
    const image = card.querySelector("[data-field=thumb]");
    const src = photo.variants[image.dataset.variant || "thumb"];
    if (src && image.hidden) {
      image.src = src;
      image.hidden = false;
      const placeholder = card.querySelector("[data-field=placeholder]");
      if (placeholder) placeholder.hidden = true;
      image.parentElement.removeAttribute("aria-hidden");
      image.parentElement.removeAttribute("tabindex");
    } else if (!src) {
      const placeholder = card.querySelector("[data-field=placeholder]");
      if (placeholder) placeholder.textContent = photo.status === "failed" ? "Failed" : "Processing";
    }
    const list = box.querySelector("[data-field=variants]");
    if (list && !list.children.length) {
      for (const [name, href] of Object.entries(photo.variants)) {
        const item = document.createElement("li");
        const link = document.createElement("a");
        link.href = href;
        link.textContent = name;
        item.append(link);
        list.append(item);
      }
    }
    for (const job of photo.jobs) {
      const label = box.querySelector(`[data-job="${job.id}"]`);
      if (label) label.textContent = job.status_label;
    }
  }

  let timer = null;
  async function poll() {
    timer = null;
    const target = url();
    if (!target) return; // every card in the gallery is ready: nothing left to follow
    let delay = ACTIVE;
    try {
      const response = await fetch(target, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const data = await response.json();
        const photos = data.photos || [data];
        photos.forEach(render);
        for (const el of document.querySelectorAll("[data-show-when]")) {
          el.hidden = !photos.some((photo) => photo.status === el.dataset.showWhen);
        }
        if (photos.every((photo) => photo.terminal)) delay = IDLE;
      }
    } catch (error) {
      // Keep polling through a dropped connection.
    }
    if (document.hidden) delay = IDLE;
    timer = setTimeout(poll, delay);
  }

  // Coming back to the tab polls at once instead of waiting out the hidden-tab delay.
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && timer !== null) {
      clearTimeout(timer);
      poll();
    }
  });
  poll();
})();
