// The ops dashboard fetches its panel again every 5 seconds; the server renders it,
// so this script only swaps the HTML in.
(function () {
  const panel = document.querySelector("[data-ops-poll]");
  if (!panel) return;

  async function refresh() {
    try {
      const response = await fetch(panel.dataset.opsPoll, { headers: { Accept: "text/html" } });
      // A redirect means the session ended: stop rather than show the login form here.
      if (response.redirected) return;
      if (response.ok) panel.innerHTML = await response.text();
    } catch (error) {
      // The server may be restarting: try again on the next tick.
    }
    setTimeout(refresh, 5000);
  }
  setTimeout(refresh, 5000);
})();
