// Polls a photo's JSON (or a batch's, {"photos": [...]}) once a second and updates each
// [data-photo] card: stage, progress, and the thumbnail once the photo is ready.
(function () {
  const box = document.querySelector("[data-photos-poll]");
  if (!box) return;
  const url = box.dataset.photosPoll;

  function render(photo) {
    const card = box.querySelector(`[data-photo="${photo.id}"]`);
    if (!card) return;
    card.querySelector("[data-field=stage]").textContent = photo.stage;
    card.querySelector("[data-field=progress]").value = photo.progress;
    card.dataset.status = photo.status;
    const thumb = card.querySelector("[data-field=thumb]");
    if (photo.variants.thumb && thumb.hidden) {
      thumb.src = photo.variants.thumb;
      thumb.hidden = false;
    }
    const list = box.querySelector("[data-field=variants]");
    if (list && !list.children.length) {
      for (const [name, href] of Object.entries(photo.variants)) {
        const item = document.createElement("li");
        item.innerHTML = `<a href="${href}">${name}</a>`;
        list.append(item);
      }
    }
    for (const job of photo.jobs) {
      const label = box.querySelector(`[data-job="${job.id}"]`);
      if (label) label.textContent = job.status_label;
    }
  }

  async function poll() {
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const data = await response.json();
        const photos = data.photos || [data];
        photos.forEach(render);
        for (const el of document.querySelectorAll("[data-show-when]")) {
          el.hidden = !photos.some((photo) => photo.status === el.dataset.showWhen);
        }
        if (photos.every((photo) => photo.terminal)) return;
      }
    } catch (error) {
      // Keep polling through a dropped connection.
    }
    setTimeout(poll, 1000);
  }
  poll();
})();
