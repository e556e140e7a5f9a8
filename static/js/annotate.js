// Admin: draw an arrow by dragging on the image. The drag fills a new annotation row with
// fractions of the image's width and height (tail where the drag starts, tip where it ends).
"use strict";

function addRow() {
  const link = document.querySelector("#annotations-group .add-row a");
  if (link) link.click();
  const rows = document.querySelectorAll("#annotations-group tr.form-row:not(.empty-form)");
  return rows[rows.length - 1];
}

function setField(row, name, value) {
  const input = row.querySelector(`[name$="-${name}"]`);
  if (input) input.value = value;
}

function fraction(event, image) {
  const box = image.getBoundingClientRect();
  const x = Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
  const y = Math.min(1, Math.max(0, (event.clientY - box.top) / box.height));
  return [x.toFixed(4), y.toFixed(4)];
}

window.addEventListener("load", () => {
  const board = document.querySelector(".drawing-board");
  if (!board) return;
  const image = board.querySelector("img");
  let start = null;
  image.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    start = fraction(event, image);
  });
  image.addEventListener("pointerup", (event) => {
    if (!start) return;
    const end = fraction(event, image);
    const row = addRow();
    if (row) {
      setField(row, "kind", "arrow");
      setField(row, "frame", "1"); // frames count from 1 in the form (imaging/annotation_forms.py)
      setField(row, "tail_x", start[0]);
      setField(row, "tail_y", start[1]);
      setField(row, "x", end[0]);
      setField(row, "y", end[1]);
    }
    start = null;
  });
});
