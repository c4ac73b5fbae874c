// Live countdowns: an element with data-countdown="<ISO date>" and aria-live shows the
// time left in its <time datetime> child ("29 min", then seconds in the last minute).
// The text changes only when the words do, so a screen reader hears it once a minute.
(function () {
  "use strict";
  function left(ms) {
    var s = Math.max(0, Math.ceil(ms / 1000));
    if (s >= 3600) return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
    if (s >= 60) return Math.ceil(s / 60) + " min";
    return s + " s";
  }
  document.querySelectorAll("[data-countdown]").forEach(function (el) {
    var due = Date.parse(el.getAttribute("data-countdown"));
    var time = el.querySelector("time");
    if (isNaN(due) || !time) return;
    function tick() {
      var words = left(due - Date.now());
      if (time.textContent !== words) time.textContent = words;
    }
    tick();
    setInterval(tick, 1000);
  });
})();
