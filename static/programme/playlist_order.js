// Reorder a playlist's cases in the admin by dragging a row: the rows' order numbers are renumbered
// 1, 2, 3… in their new places, and those numbers are what the form saves. Typing numbers works too.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const group = document.querySelector(".playlist-items");
  if (!group) return;
  const tbody = group.querySelector("tbody");
  let dragged = null;

  const rows = () => [...tbody.querySelectorAll("tr.form-row:not(.empty-form)")];
  const renumber = () => {
    let position = 1;
    for (const row of rows()) {
      const order = row.querySelector('input[name$="-order"]');
      const caseField = row.querySelector('select[name$="-case"]');
      if (order && caseField && caseField.value) order.value = position++;
    }
  };
  const prepare = (row) => {
    row.draggable = true;
    row.title = "Drag to move this case";
  };

  rows().forEach(prepare);
  document.addEventListener("formset:added", (event) => prepare(event.target));
  tbody.addEventListener("dragstart", (event) => {
    dragged = event.target.closest("tr.form-row");
    event.dataTransfer.effectAllowed = "move";
  });
  tbody.addEventListener("dragover", (event) => {
    if (dragged) event.preventDefault();
  });
  tbody.addEventListener("drop", (event) => {
    const target = event.target.closest("tr.form-row");
    event.preventDefault();
    if (!dragged || !target || target === dragged) return;
    const after = event.clientY > target.getBoundingClientRect().top + target.offsetHeight / 2;
    target.parentNode.insertBefore(dragged, after ? target.nextSibling : target);
    dragged = null;
    renumber();
  });
});
