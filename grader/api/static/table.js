// Sortable, filterable table of the latest submission per student (keyboard: the headers are buttons).
"use strict";
(function () {
  const table = document.getElementById("latest");
  if (!table) return;
  const body = table.tBodies[0];
  const filter = document.getElementById("filter");
  const stateFilter = document.getElementById("state-filter");
  const shown = document.getElementById("shown");
  const rows = Array.from(body.rows).filter(function (r) { return r.dataset.state; });

  function cellValue(row, key, numeric) {
    const cell = row.cells[key];
    const raw = cell.dataset.value !== undefined ? cell.dataset.value : cell.textContent.trim();
    return numeric ? Number(raw) : raw.toLowerCase();
  }

  table.querySelectorAll("th button").forEach(function (button) {
    button.addEventListener("click", function () {
      const th = button.parentElement;
      const ascending = th.getAttribute("aria-sort") !== "ascending";
      table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      const key = Number(button.dataset.key);
      const numeric = button.dataset.type === "number";
      rows.sort(function (a, b) {
        const x = cellValue(a, key, numeric), y = cellValue(b, key, numeric);
        return (x < y ? -1 : x > y ? 1 : 0) * (ascending ? 1 : -1);
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });

  function apply() {
    const text = filter.value.trim().toLowerCase();
    const state = stateFilter.value;
    let count = 0;
    rows.forEach(function (r) {
      const ok = (!text || r.textContent.toLowerCase().includes(text)) && (!state || r.dataset.state === state);
      r.hidden = !ok;
      if (ok) count++;
    });
    shown.textContent = (text || state) ? count + " of " + rows.length + " shown" : "";
  }
  filter.addEventListener("input", apply);
  stateFilter.addEventListener("change", apply);
})();
