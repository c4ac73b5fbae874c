// The ops pages fetch each of their panels again every 5 seconds; the server renders
// them, so this script only swaps the HTML in. A panel the page left empty is fetched
// at once.
(function () {
  function poll(panel) {
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
    setTimeout(refresh, panel.childElementCount ? 5000 : 0);
  }
  document.querySelectorAll("[data-ops-poll]").forEach(poll);
})();
