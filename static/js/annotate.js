// The admin's drawing board: arrows and labels drawn on the image itself, on any frame.
//
// The rows of the arrow table below the board (the admin's AnnotationInline) stay the only thing
// the page saves, with the form's own validation: the board reads every row to draw the current
// frame's arrows, and a drag creates, moves or deletes rows. Typing in the table redraws the board.
// Coordinates are fractions of the image's width and height, as the viewer reads them; frames are
// stored from 0 and shown (and typed in the table) from 1.
//
// Other scripts add layers of their own (quiz's lesion targets, static/js/lesion_targets.js) without
// this file knowing them: each pushes onto window.drawingBoardPlugins a function that is given the board
// and returns an object with any of render(overlay, width, height), called after the board has drawn its
// arrows, and pointerDown(event, point), which returns true when the layer takes that press; the layer
// is then sent the press's pointerMove(event, point) and pointerUp(event, point).
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const MIN_DRAG = 0.02; // a shorter drag, as a fraction of the image, is a click
const HANDLE_RADIUS = 7; // pixels on screen
const MARKER_ID = "board-arrowhead";

function clamp(value) {
  return Math.min(1, Math.max(0, value));
}

function svgElement(name, attributes) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  return element;
}

function number(row, name) {
  const input = row.querySelector(`[name$="-${name}"]`);
  if (!input || input.value.trim() === "") return null;
  const value = Number(input.value);
  return Number.isFinite(value) ? value : null;
}

function setField(row, name, value) {
  const input = row.querySelector(`[name$="-${name}"]`);
  if (input) input.value = value;
}

// One arrow or label as its table row holds it (or, on a read-only page, as the server sent it).
function noteOfRow(row) {
  const frameNumber = number(row, "frame");
  const kindInput = row.querySelector('[name$="-kind"]');
  const deleted = row.querySelector('[name$="-DELETE"]');
  const textInput = row.querySelector('[name$="-text"]');
  return {
    row,
    kind: kindInput ? kindInput.value : "arrow",
    frame: frameNumber === null ? null : frameNumber - 1,
    x: number(row, "x"),
    y: number(row, "y"),
    tailX: number(row, "tail_x"),
    tailY: number(row, "tail_y"),
    text: textInput ? textInput.value : "",
    deleted: Boolean(deleted && deleted.checked),
  };
}

function drawable(note) {
  if (note.deleted || note.x === null || note.y === null) return false;
  return note.kind !== "arrow" || (note.tailX !== null && note.tailY !== null);
}

class DrawingBoard {
  constructor(root) {
    this.root = root;
    this.stage = root.querySelector(".board-stage");
    this.image = root.querySelector(".board-image");
    this.overlay = root.querySelector(".board-overlay");
    this.labelBox = root.querySelector(".board-label");
    this.labelInput = root.querySelector(".board-label-text");
    this.slider = root.querySelector(".board-slider");
    this.frameNumber = root.querySelector(".board-frame-number");
    this.framesWithNotes = root.querySelector(".board-frames-with-notes");
    this.frameUrls = JSON.parse(root.dataset.frameUrls);
    this.stored = JSON.parse(root.dataset.annotations);
    this.group = document.getElementById("annotations-group");
    this.editable = "editable" in root.dataset && Boolean(this.group);
    this.frame = 0;
    this.selected = null; // the selected note's table row
    this.drag = null;
    this.unsaved = false; // rows changed by the board since the page was loaded
    this.plugins = [];

    this.image.addEventListener("load", () => {
      this.fitStage();
      this.render();
    });
    this.fitStage();
    new ResizeObserver(() => this.render()).observe(this.image);
    this.bindFrames();
    if (this.editable) this.bindEditing();
    this.plugins = (window.drawingBoardPlugins || []).map((make) => make(this));
    this.render();
    // Leaving the page (the next image, the case) before saving would lose the arrows drawn.
    window.addEventListener("beforeunload", (event) => {
      if (this.unsaved) event.preventDefault();
    });
    this.root.closest("form")?.addEventListener("submit", () => {
      this.unsaved = false;
    });
  }

  fitStage() {
    // The stage keeps the image's proportions (CSS --aspect), every frame at the same size.
    const aspect = this.image.naturalWidth / this.image.naturalHeight;
    if (aspect) this.stage.style.setProperty("--aspect", String(aspect));
  }

  // Rows and notes.

  rows() {
    return [...this.group.querySelectorAll("tr.form-row")].filter(
      (row) => !row.classList.contains("empty-form") && row.querySelector('[name$="-x"]'),
    );
  }

  notes() {
    if (!this.editable) {
      return this.stored.map((note) => ({ ...note, row: null, deleted: false }));
    }
    return this.rows().map(noteOfRow);
  }

  addRow() {
    this.unsaved = true;
    const link = this.group.querySelector(".add-row a");
    if (!link) return null;
    link.click(); // the admin's inlines.js appends a row from the empty form
    const rows = this.rows();
    return rows[rows.length - 1];
  }

  deleteRow(row) {
    this.unsaved = true;
    const checkbox = row.querySelector('[name$="-DELETE"]');
    if (checkbox) {
      checkbox.checked = true; // a saved row: deleted when the page is saved
    } else {
      row.querySelector(".inline-deletelink")?.click(); // a new row: the admin removes it
    }
    if (this.selected === row) this.select(null);
    this.render();
  }

  select(row) {
    if (this.selected) this.selected.classList.remove("board-selected");
    this.selected = row;
    if (row) row.classList.add("board-selected");
  }

  // Frames.

  // One frame on; past the first or last frame of this image, the series' previous or next image
  // (a series of single-frame images is walked image by image; leaving asks about unsaved arrows).
  step(by) {
    const target = this.frame + by;
    const beyond = target < 0 ? ".board-previous-image" : target >= this.frameUrls.length ? ".board-next-image" : null;
    const link = beyond && this.root.querySelector(beyond);
    if (link) {
      window.location.assign(link.href);
    } else {
      this.showFrame(target);
    }
  }

  bindFrames() {
    const count = this.frameUrls.length;
    this.stage.addEventListener(
      "wheel",
      (event) => {
        if (count < 2) return; // nothing to scroll through: the page scrolls
        event.preventDefault();
        this.showFrame(this.frame + Math.sign(event.deltaY));
      },
      { passive: false },
    );
    this.stage.addEventListener("keydown", (event) => {
      if (event.target !== this.stage) return;
      const steps = { ArrowUp: -1, ArrowLeft: -1, PageUp: -1, ArrowDown: 1, ArrowRight: 1, PageDown: 1 };
      if (event.key in steps) {
        this.step(steps[event.key]);
      } else if (event.key === "Home") {
        this.showFrame(0);
      } else if (event.key === "End") {
        this.showFrame(count - 1);
      } else if ((event.key === "Delete" || event.key === "Backspace") && this.selected) {
        this.deleteRow(this.selected);
      } else if (event.key === "Escape") {
        this.select(null);
        this.render();
      } else {
        return;
      }
      event.preventDefault();
    });
    if (this.slider) {
      this.slider.addEventListener("input", () => this.showFrame(Number(this.slider.value) - 1));
      this.root.querySelector(".board-previous").addEventListener("click", () => this.showFrame(this.frame - 1));
      this.root.querySelector(".board-next").addEventListener("click", () => this.showFrame(this.frame + 1));
    }
    this.framesWithNotes.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-frame]");
      if (button) this.showFrame(Number(button.dataset.frame));
    });
  }

  showFrame(index) {
    const count = this.frameUrls.length;
    const frame = Math.min(count - 1, Math.max(0, index));
    if (frame === this.frame) return;
    this.frame = frame;
    this.image.src = this.frameUrls[frame];
    this.image.alt = `Frame ${frame + 1} of the image`;
    if (this.slider) this.slider.value = String(frame + 1);
    if (this.frameNumber) this.frameNumber.textContent = `Frame ${frame + 1} of ${count}`;
    if (this.selected && noteOfRow(this.selected).frame !== frame) this.select(null);
    this.render();
  }

  // Editing.

  tool() {
    const checked = this.root.querySelector('input[name="board-tool"]:checked');
    return checked ? checked.value : "arrow";
  }

  point(event) {
    const box = this.image.getBoundingClientRect();
    return { x: clamp((event.clientX - box.left) / box.width), y: clamp((event.clientY - box.top) / box.height) };
  }

  bindEditing() {
    this.overlay.addEventListener("pointerdown", (event) => this.pointerDown(event));
    this.overlay.addEventListener("pointermove", (event) => this.pointerMove(event));
    this.overlay.addEventListener("pointerup", (event) => this.pointerUp(event));
    this.overlay.addEventListener("pointercancel", () => {
      this.drag = null;
      this.render();
    });
    this.labelInput.addEventListener("input", () => {
      if (!this.selected) return;
      setField(this.selected, "text", this.labelInput.value);
      this.unsaved = true;
      this.render({ keepLabelBox: true });
    });
    this.labelInput.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault(); // Enter would submit the whole form
        this.stage.focus({ preventScroll: true });
      }
    });
    this.root.querySelector(".board-delete").addEventListener("click", () => {
      if (this.selected) this.deleteRow(this.selected);
      this.stage.focus({ preventScroll: true });
    });
    // The table is the source of truth: typing there redraws, and focusing a row selects it.
    for (const type of ["input", "change"]) this.group.addEventListener(type, () => this.drag || this.render());
    document.addEventListener("formset:removed", () => this.render());
    this.group.addEventListener("focusin", (event) => {
      const row = event.target.closest("tr.form-row");
      if (!row || row === this.selected || !this.rows().includes(row)) return;
      const note = noteOfRow(row);
      this.select(row);
      if (note.frame !== null && note.frame !== this.frame) {
        this.showFrame(note.frame);
      } else {
        this.render();
      }
    });
  }

  pointerDown(event) {
    if (event.button !== 0) return;
    event.preventDefault();
    this.stage.focus({ preventScroll: true });
    const start = this.point(event);
    const plugin = this.plugins.find((layer) => layer.pointerDown && layer.pointerDown(event, start));
    if (plugin) {
      this.select(null);
      this.drag = { mode: "plugin", plugin };
      this.overlay.setPointerCapture(event.pointerId);
      this.render();
      return;
    }
    const handle = event.target.closest("[data-end]");
    const shaft = event.target.closest("[data-row]");
    if (handle && this.selected) {
      this.drag = { mode: handle.dataset.end, start };
    } else if (shaft) {
      const row = this.rows()[Number(shaft.dataset.row)];
      this.select(row);
      this.drag = { mode: "move", start, origin: noteOfRow(row) };
    } else if (this.tool() === "label") {
      const row = this.newRow("label", start, null);
      if (!row) return;
      this.select(row);
      this.drag = { mode: "tip", start };
    } else {
      this.select(null);
      this.drag = { mode: "new", start, end: start };
    }
    this.overlay.setPointerCapture(event.pointerId);
    this.render();
  }

  pointerMove(event) {
    if (!this.drag) return;
    if (this.drag.mode !== "new") this.unsaved = true;
    const here = this.point(event);
    if (this.drag.mode === "plugin") {
      this.drag.plugin.pointerMove?.(event, here);
      this.render();
      return;
    }
    const row = this.selected;
    if (this.drag.mode === "new") {
      this.drag.end = here;
    } else if (this.drag.mode === "tip") {
      setField(row, "x", here.x.toFixed(4));
      setField(row, "y", here.y.toFixed(4));
    } else if (this.drag.mode === "tail") {
      setField(row, "tail_x", here.x.toFixed(4));
      setField(row, "tail_y", here.y.toFixed(4));
    } else if (this.drag.mode === "move") {
      this.moveWhole(row, this.drag.origin, here.x - this.drag.start.x, here.y - this.drag.start.y);
    }
    this.render();
  }

  moveWhole(row, origin, dx, dy) {
    // The whole arrow moves by the same amount, stopped at the image's edges.
    const xs = [origin.x, origin.tailX].filter((value) => value !== null);
    const ys = [origin.y, origin.tailY].filter((value) => value !== null);
    const shiftX = Math.min(1 - Math.max(...xs), Math.max(-Math.min(...xs), dx));
    const shiftY = Math.min(1 - Math.max(...ys), Math.max(-Math.min(...ys), dy));
    setField(row, "x", (origin.x + shiftX).toFixed(4));
    setField(row, "y", (origin.y + shiftY).toFixed(4));
    if (origin.tailX !== null) {
      setField(row, "tail_x", (origin.tailX + shiftX).toFixed(4));
      setField(row, "tail_y", (origin.tailY + shiftY).toFixed(4));
    }
  }

  pointerUp(event) {
    const drag = this.drag;
    if (!drag) return;
    this.drag = null;
    if (this.overlay.hasPointerCapture(event.pointerId)) this.overlay.releasePointerCapture(event.pointerId);
    if (drag.mode === "plugin") {
      drag.plugin.pointerUp?.(event, this.point(event));
      this.render();
      return;
    }
    if (drag.mode === "new") {
      const length = Math.hypot(drag.end.x - drag.start.x, drag.end.y - drag.start.y);
      if (length >= MIN_DRAG) this.select(this.newRow("arrow", drag.end, drag.start));
    }
    this.render();
    if (this.selected && (drag.mode === "new" || this.tool() === "label")) this.labelInput.focus();
  }

  newRow(kind, tip, tail) {
    const row = this.addRow();
    if (!row) return null;
    setField(row, "kind", kind);
    setField(row, "frame", String(this.frame + 1));
    setField(row, "x", tip.x.toFixed(4));
    setField(row, "y", tip.y.toFixed(4));
    setField(row, "tail_x", tail ? tail.x.toFixed(4) : "");
    setField(row, "tail_y", tail ? tail.y.toFixed(4) : "");
    return row;
  }

  // Drawing.

  render({ keepLabelBox = false } = {}) {
    const width = this.image.clientWidth;
    const height = this.image.clientHeight;
    const overlay = this.overlay;
    overlay.replaceChildren();
    if (!width || !height) return;
    overlay.setAttribute("viewBox", `0 0 ${width} ${height}`);
    const marker = svgElement("marker", {
      id: MARKER_ID, viewBox: "0 0 10 10", refX: "8", refY: "5", markerWidth: "4", markerHeight: "4",
      orient: "auto-start-reverse",
    });
    marker.append(svgElement("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "board-arrowhead" }));
    const defs = svgElement("defs", {});
    defs.append(marker);
    overlay.append(defs);

    const notes = this.notes();
    const fontSize = Math.max(13, Math.max(width, height) / 22);
    notes.forEach((note, index) => {
      if (!drawable(note) || note.frame !== this.frame) return;
      const selected = note.row !== null && note.row === this.selected;
      const anchor = note.kind === "arrow" ? { x: note.tailX, y: note.tailY } : { x: note.x, y: note.y };
      const group = svgElement("g", { class: selected ? "board-note selected" : "board-note" });
      if (note.kind === "arrow") {
        const ends = { x1: note.tailX * width, y1: note.tailY * height, x2: note.x * width, y2: note.y * height };
        group.append(svgElement("line", { ...ends, class: "board-arrow", "marker-end": `url(#${MARKER_ID})` }));
        if (this.editable) group.append(svgElement("line", { ...ends, class: "board-shaft", "data-row": index }));
      }
      if (note.text && !(selected && this.editable)) {
        const text = svgElement("text", {
          x: anchor.x * width, y: anchor.y * height, "font-size": fontSize, class: "board-text",
        });
        if (this.editable) text.dataset.row = index;
        text.textContent = note.text;
        group.append(text);
      }
      if (note.kind === "label" && this.editable) {
        group.append(svgElement("circle", {
          cx: note.x * width, cy: note.y * height, r: HANDLE_RADIUS / 2, class: "board-anchor", "data-row": index,
        }));
      }
      if (selected) {
        group.append(svgElement("circle", {
          cx: note.x * width, cy: note.y * height, r: HANDLE_RADIUS, class: "board-handle", "data-end": "tip",
        }));
        if (note.kind === "arrow") {
          group.append(svgElement("circle", {
            cx: note.tailX * width, cy: note.tailY * height, r: HANDLE_RADIUS, class: "board-handle",
            "data-end": "tail",
          }));
        }
      }
      overlay.append(group);
    });
    if (this.drag && this.drag.mode === "new") {
      const { start, end } = this.drag;
      overlay.append(svgElement("line", {
        x1: start.x * width, y1: start.y * height, x2: end.x * width, y2: end.y * height,
        class: "board-arrow board-draft", "marker-end": `url(#${MARKER_ID})`,
      }));
    }
    for (const plugin of this.plugins) plugin.render?.(overlay, width, height);
    if (this.editable) this.placeLabelBox(keepLabelBox);
    this.listFramesWithNotes(notes);
  }

  placeLabelBox(keepValue) {
    const note = this.selected ? noteOfRow(this.selected) : null;
    const shown = note && drawable(note) && note.frame === this.frame && !this.drag;
    this.labelBox.classList.toggle("hidden", !shown);
    if (!shown) return;
    if (!keepValue) this.labelInput.value = note.text;
    this.labelInput.setAttribute("aria-label", note.kind === "arrow" ? "Label of the selected arrow" : "Text of the label");
    // Where the viewer writes the label (at the arrow's tail, or the label's anchor), kept on the image.
    const anchor = note.kind === "arrow" ? { x: note.tailX, y: note.tailY } : { x: note.x, y: note.y };
    const width = this.image.clientWidth;
    const height = this.image.clientHeight;
    // Just clear of the tail's handle, so that the handle stays within reach.
    const gap = HANDLE_RADIUS + 3;
    const left = Math.min(anchor.x * width + gap, Math.max(0, width - this.labelBox.offsetWidth));
    const boxHeight = this.labelBox.offsetHeight;
    let top = anchor.y * height - gap - boxHeight; // above the tail, else below it
    if (top < 0) top = Math.min(anchor.y * height + gap, height - boxHeight);
    this.labelBox.style.left = `${left}px`; // CSSOM, which the content security policy allows
    this.labelBox.style.top = `${Math.max(0, top)}px`;
  }

  listFramesWithNotes(notes) {
    // Arrows on other frames are easy to lose: list the frames that have some, each a button to go there.
    const counts = new Map();
    for (const note of notes) {
      if (drawable(note) && note.frame !== null) counts.set(note.frame, (counts.get(note.frame) || 0) + 1);
    }
    this.framesWithNotes.replaceChildren();
    if (!counts.size) {
      this.framesWithNotes.textContent = "No arrows or labels yet.";
      return;
    }
    this.framesWithNotes.append("Arrows and labels on ");
    [...counts.keys()].sort((a, b) => a - b).forEach((frame, position) => {
      if (position) this.framesWithNotes.append(", ");
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.frame = String(frame);
      button.className = frame === this.frame ? "board-jump current" : "board-jump";
      button.textContent = `frame ${frame + 1} (${counts.get(frame)})`;
      this.framesWithNotes.append(button);
    });
  }
}

window.addEventListener("load", () => {
  for (const root of document.querySelectorAll(".drawing-board")) new DrawingBoard(root);
});
