// /demo/difference/: run the slow step inline or queued, and show the time the server
// measured around the work next to the time the browser measured around the fetch.
(function () {
  "use strict";
  var token = document.querySelector("input[name=csrfmiddlewaretoken]");
  document.querySelectorAll("[data-demo-run]").forEach(function (button) {
    var section = button.closest("section");
    button.addEventListener("click", function () {
      button.disabled = true;
      var started = performance.now();
      fetch(button.dataset.url, {
        method: "POST",
        headers: { "X-CSRFToken": token ? token.value : "" },
        credentials: "same-origin",
      })
        .then(function (response) { return response.json(); })
        .then(function (data) {
          var clientMs = performance.now() - started;
          section.querySelector("[data-field=server_ms]").textContent = data.server_ms.toFixed(1);
          section.querySelector("[data-field=client_ms]").textContent = clientMs.toFixed(1);
          var link = section.querySelector("[data-field=job_url]");
          if (link && data.job_url) {
            link.href = data.job_url;
            link.hidden = false;
          }
        })
        .finally(function () { button.disabled = false; });
    });
  });
})();
