// The dashboard's bulk selection: "全选本页" ticks every row shown (rows loaded later by htmx
// included) and a live count says how many are ticked. Without this script the form still
// works: tick rows one by one and submit.
(function () {
  "use strict";

  function boxes() {
    return Array.prototype.slice.call(
      document.querySelectorAll('input[type="checkbox"][name="ids"][form="bulk-form"]')
    );
  }

  function refresh() {
    var all = document.getElementById("bulk-all");
    var count = document.getElementById("bulk-count");
    if (!all) return;
    var rows = boxes();
    var ticked = rows.filter(function (box) { return box.checked; }).length;
    all.checked = rows.length > 0 && ticked === rows.length;
    all.indeterminate = ticked > 0 && ticked < rows.length;
    if (count) count.textContent = ticked ? "已选 " + ticked + " 篇" : "";
  }

  function start() {
    var all = document.getElementById("bulk-all");
    if (!all) return;
    all.parentNode.hidden = false;
    all.addEventListener("change", function () {
      boxes().forEach(function (box) { box.checked = all.checked; });
      refresh();
    });
    document.addEventListener("change", function (event) {
      if (event.target.name === "ids") refresh();
    });
    // Rows added by "加载更多" or replaced by a single clear/restore arrive unticked.
    document.body.addEventListener("htmx:afterSettle", refresh);
    refresh();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
