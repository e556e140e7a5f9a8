// Lesion targets of "point to the lesion" questions, drawn on the admin's drawing board as one of its
// plugins (static/js/annotate.js).
//
// The rows of the target table below the board (quiz's LesionTargetInline) stay the only thing the page
// saves, with the form's own checks: the board draws the current frame's targets from the rows, and
// drawing creates, moves or deletes rows. Rows hold the image's own pixels (x along its columns, y along
// its rows, from the frame's top-left corner), whatever size the board is shown at: every coordinate is
// scaled by the shown width over the image's columns (and height over rows) on its way to the screen,
// and back on its way into a row. A polygon is drawn by clicking its corners (a double-click, Enter, the
// "Close shape" button, for phones, or a click on its first corner closes it); an ellipse by dragging its
// box, then turning it by its round handle. Frames are stored from 0 and shown from 1.
"use strict";

(() => {
  const SVG = "http://www.w3.org/2000/svg";
  const HANDLE_RADIUS = 7; // pixels on screen
  const ROTATE_REACH = 24; // how far past the ellipse's end its turning handle sits, pixels on screen
  const SAME_SPOT = 6; // pixels on screen: a click this near the last corner adds none (a double-click)
  const MIN_BOX = 4; // pixels on screen: a smaller ellipse box is a click
  const TOOLS = ["polygon", "ellipse"];

  function svgElement(name, attributes) {
    const element = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
    return element;
  }

  function field(row, name) {
    return row.querySelector(`[name$="-${name}"]`);
  }

  function numberOf(row, name) {
    const input = field(row, name);
    if (!input || input.value.trim() === "") return null;
    const value = Number(input.value);
    return Number.isFinite(value) ? value : null;
  }

  function setField(row, name, value) {
    const input = field(row, name);
    if (input) input.value = value;
  }

  function rounded(value) {
    return Math.round(value * 100) / 100; // a hundredth of an image pixel
  }

  function pointsOf(row) {
    try {
      const points = JSON.parse(field(row, "points")?.value || "[]");
      const pairs = Array.isArray(points) && points.every((p) => Array.isArray(p) && p.length === 2);
      return pairs && points.every((p) => p.every(Number.isFinite)) ? points : null;
    } catch {
      return null;
    }
  }

  function targetOfRow(row) {
    const frameNumber = numberOf(row, "frame");
    const deleted = field(row, "DELETE");
    return {
      row,
      question: field(row, "question")?.value ?? "",
      shape: field(row, "shape")?.value || "polygon",
      frame: frameNumber === null ? null : frameNumber - 1,
      points: pointsOf(row),
      cx: numberOf(row, "center_x"),
      cy: numberOf(row, "center_y"),
      rx: numberOf(row, "radius_x"),
      ry: numberOf(row, "radius_y"),
      rotation: numberOf(row, "rotation") || 0,
      deleted: Boolean(deleted && deleted.checked),
    };
  }

  function drawable(target) {
    if (target.deleted || target.frame === null) return false;
    if (target.shape === "polygon") return Boolean(target.points && target.points.length >= 2);
    return [target.cx, target.cy].every((v) => v !== null) && target.rx > 0 && target.ry > 0;
  }

  function degrees(radians) {
    const turned = (radians * 180) / Math.PI;
    return turned <= -180 ? turned + 360 : turned;
  }

  class TargetLayer {
    constructor(board) {
      this.board = board;
      this.group = document.getElementById("lesion_targets-group");
      this.columns = Number(board.root.dataset.columns);
      this.rows = Number(board.root.dataset.rows);
      this.enabled = Boolean(
        board.editable && this.group && this.group.querySelector("tr.empty-form") && this.columns && this.rows,
      );
      this.selected = null; // the selected target's table row
      this.draft = null; // a polygon being drawn: {frame, points}
      this.hover = null; // where the pointer is, in image pixels, while a polygon is drawn
      this.drag = null;
      if (this.enabled) this.build();
    }

    // The tools: two more kinds of drawing, the question drawn for, and the frames that have targets.

    build() {
      const tools = this.board.root.querySelector(".board-tools");
      for (const [value, text] of [
        ["polygon", "Target polygon (click its corners; double-click, Enter or “Close shape” closes it)"],
        ["ellipse", "Target ellipse (drag its box; turn it by its round handle)"],
      ]) {
        const label = document.createElement("label");
        const radio = Object.assign(document.createElement("input"), { type: "radio", name: "board-tool", value });
        label.append(radio, ` ${text}`);
        tools.append(label);
      }
      const panel = document.createElement("div");
      panel.className = "target-tools";
      const questionLabel = document.createElement("label");
      this.picker = document.createElement("select");
      this.picker.className = "target-question";
      const template = field(this.group.querySelector("tr.empty-form"), "question");
      for (const option of template.options) this.picker.append(new Option(option.text, option.value));
      const wanted = new URLSearchParams(window.location.search).get("question");
      const values = [...this.picker.options].map((option) => option.value);
      this.picker.value = values.includes(wanted) ? wanted : values.find((value) => value !== "") ?? "";
      questionLabel.append("Targets of the question ", this.picker);
      this.prompt = Object.assign(document.createElement("input"), {
        type: "text", className: "target-prompt", maxLength: 300, value: "Click the abnormality",
      });
      this.prompt.setAttribute("aria-label", "Prompt of the new question");
      this.promptLabel = document.createElement("label");
      this.promptLabel.append("Its prompt ", this.prompt);
      this.deleteButton = Object.assign(document.createElement("button"), {
        type: "button", className: "target-delete", textContent: "Delete target", disabled: true,
      });
      // A tap on the first corner is a small target on a phone: the open polygon is also closed here.
      this.closeButton = Object.assign(document.createElement("button"), {
        type: "button", className: "target-close", textContent: "Close shape", hidden: true,
      });
      panel.append(questionLabel, this.promptLabel, this.closeButton, this.deleteButton);
      tools.after(panel);
      this.framesList = document.createElement("p");
      this.framesList.className = "target-frames";
      this.board.framesWithNotes.after(this.framesList);
      const help = document.createElement("p");
      help.className = "help";
      help.textContent =
        "Targets: choose the question (or a new one, with its prompt), then a target tool. Drag a target " +
        "to move it, its corners or round handles to reshape or turn it; Delete removes the selected one. " +
        "Every target is a row of the table of lesion targets below, in the image's own pixels: nothing " +
        "is stored until you save.";
      this.framesList.after(help);
      this.showPrompt();
      this.bind();
    }

    showPrompt() {
      this.promptLabel.hidden = this.picker.value !== "";
      // The series' previous and next images open with the same question chosen.
      for (const link of this.board.root.querySelectorAll(".board-previous-image, .board-next-image")) {
        const url = new URL(link.href);
        if (this.picker.value) {
          url.searchParams.set("question", this.picker.value);
        } else {
          url.searchParams.delete("question");
        }
        link.setAttribute("href", url.pathname + url.search);
      }
      // Rows drawn for a new question share its prompt: they make one question when the page is saved.
      if (this.picker.value === "") {
        for (const row of this.tableRows()) {
          if (field(row, "question").value === "" && !row.querySelector('[name$="-id"]')?.value) {
            setField(row, "prompt", this.prompt.value);
          }
        }
      }
    }

    bind() {
      const { board } = this;
      board.root.querySelector(".board-tools").addEventListener("change", () => {
        if (board.tool() !== "polygon") this.draft = null; // another tool: the polygon begun is dropped
        board.render();
      });
      this.picker.addEventListener("change", () => {
        this.select(null);
        this.showPrompt();
        board.render();
      });
      this.prompt.addEventListener("input", () => this.showPrompt());
      this.prompt.addEventListener("keydown", (event) => {
        if (event.key === "Enter") event.preventDefault(); // Enter would submit the whole form
      });
      this.closeButton.addEventListener("click", () => {
        this.closeDraft();
        board.stage.focus({ preventScroll: true });
      });
      this.deleteButton.addEventListener("click", () => {
        if (this.selected) this.deleteRow(this.selected);
        board.stage.focus({ preventScroll: true });
      });
      board.overlay.addEventListener("pointermove", (event) => {
        if (!this.draft || board.drag) return;
        this.hover = this.pixels(board.point(event));
        board.render();
      });
      board.overlay.addEventListener("dblclick", (event) => {
        if (!this.draft) return;
        event.preventDefault();
        this.closeDraft();
      });
      board.stage.addEventListener("keydown", (event) => {
        if (event.target !== board.stage) return;
        if (event.key === "Enter" && this.draft) {
          this.closeDraft();
        } else if (event.key === "Escape" && (this.draft || this.selected)) {
          this.draft = null;
          this.select(null);
          board.render();
        } else if ((event.key === "Delete" || event.key === "Backspace") && this.selected) {
          this.deleteRow(this.selected);
        } else {
          return;
        }
        event.preventDefault();
      });
      // The table is the source of truth: typing there redraws, and focusing a row selects it.
      for (const type of ["input", "change"]) this.group.addEventListener(type, () => this.drag || board.render());
      this.group.addEventListener("focusin", (event) => {
        const row = event.target.closest("tr.form-row");
        if (!row || row === this.selected || !this.tableRows().includes(row)) return;
        const target = targetOfRow(row);
        if (target.question !== this.picker.value) {
          this.picker.value = target.question;
          this.showPrompt();
        }
        this.select(row);
        if (target.frame !== null && target.frame !== board.frame) board.showFrame(target.frame);
        board.render();
      });
      this.framesList.addEventListener("click", (event) => {
        const button = event.target.closest("button[data-frame]");
        if (button) board.showFrame(Number(button.dataset.frame));
      });
    }

    // Rows.

    tableRows() {
      return [...this.group.querySelectorAll("tr.form-row")].filter(
        (row) => !row.classList.contains("empty-form") && field(row, "shape"),
      );
    }

    targets() {
      return this.tableRows().map(targetOfRow);
    }

    isCurrent(target) {
      return target.question === this.picker.value;
    }

    select(row) {
      if (this.selected) this.selected.classList.remove("board-selected");
      this.selected = row;
      if (row) row.classList.add("board-selected");
      this.deleteButton.disabled = !row;
    }

    newRow(fields) {
      const link = this.group.querySelector(".add-row a");
      if (!link) return null;
      link.click(); // the admin's inlines.js appends a row from the empty form
      const rows = this.tableRows();
      const row = rows[rows.length - 1];
      setField(row, "question", this.picker.value);
      setField(row, "prompt", this.picker.value === "" ? this.prompt.value : "");
      setField(row, "frame", String(this.board.frame + 1));
      for (const [name, value] of Object.entries(fields)) setField(row, name, value);
      this.board.unsaved = true;
      this.select(row);
      return row;
    }

    deleteRow(row) {
      const checkbox = field(row, "DELETE");
      if (checkbox) {
        checkbox.checked = true; // a saved row: deleted when the page is saved
      } else {
        row.querySelector(".inline-deletelink")?.click(); // a new row: the admin removes it
      }
      this.board.unsaved = true;
      if (this.selected === row) this.select(null);
      this.board.render();
    }

    writePolygon(row, points) {
      setField(row, "points", JSON.stringify(points.map(([x, y]) => [rounded(x), rounded(y)])));
    }

    writeEllipse(row, { cx, cy, rx, ry, rotation }) {
      if (cx !== undefined) setField(row, "center_x", rounded(cx));
      if (cy !== undefined) setField(row, "center_y", rounded(cy));
      if (rx !== undefined) setField(row, "radius_x", rounded(rx));
      if (ry !== undefined) setField(row, "radius_y", rounded(ry));
      if (rotation !== undefined) setField(row, "rotation", rounded(rotation));
    }

    // Coordinates: the board gives fractions of the image; rows hold image pixels; SVG draws screen pixels.

    pixels(fraction) {
      return { x: fraction.x * this.columns, y: fraction.y * this.rows };
    }

    scale() {
      return { x: this.board.image.clientWidth / this.columns, y: this.board.image.clientHeight / this.rows };
    }

    // The board's plugin calls.

    pointerDown(event, fraction) {
      if (!this.enabled) return false;
      if (!TOOLS.includes(this.board.tool())) {
        if (this.selected || this.draft) {
          this.draft = null;
          this.select(null);
        }
        return false;
      }
      const here = this.pixels(fraction);
      const handle = event.target.closest("[data-target-handle]");
      if (handle && this.selected) {
        const kind = handle.dataset.targetHandle;
        this.drag = { mode: kind, vertex: Number(handle.dataset.vertex), start: here, origin: targetOfRow(this.selected) };
        return true;
      }
      if (this.draft) {
        this.addCorner(here);
        return true;
      }
      const shape = event.target.closest("[data-target]");
      if (shape) {
        const row = this.tableRows()[Number(shape.dataset.target)];
        this.select(row);
        this.drag = { mode: "move", start: here, origin: targetOfRow(row) };
        return true;
      }
      this.select(null);
      if (this.board.tool() === "polygon") {
        this.draft = { frame: this.board.frame, points: [here] };
        this.hover = here;
      } else {
        this.drag = { mode: "box", start: here, end: here };
      }
      return true;
    }

    pointerMove(event, fraction) {
      const drag = this.drag;
      if (!drag) return;
      const here = this.pixels(fraction);
      const row = this.selected;
      if (drag.mode === "box") {
        drag.end = here;
      } else if (drag.mode === "move") {
        this.moveWhole(row, drag.origin, here.x - drag.start.x, here.y - drag.start.y);
      } else if (drag.mode === "vertex") {
        const points = drag.origin.points.map((point) => [...point]);
        points[drag.vertex] = [here.x, here.y];
        this.writePolygon(row, points);
      } else {
        this.reshapeEllipse(row, drag.origin, drag.mode, here);
      }
      this.board.unsaved = true;
    }

    pointerUp() {
      const drag = this.drag;
      this.drag = null;
      if (!drag || drag.mode !== "box") return;
      const scale = this.scale();
      const width = Math.abs(drag.end.x - drag.start.x);
      const height = Math.abs(drag.end.y - drag.start.y);
      if (width * scale.x < MIN_BOX || height * scale.y < MIN_BOX) return;
      this.newRow({ shape: "ellipse", points: "" });
      this.writeEllipse(this.selected, {
        cx: (drag.start.x + drag.end.x) / 2,
        cy: (drag.start.y + drag.end.y) / 2,
        rx: width / 2,
        ry: height / 2,
        rotation: 0,
      });
    }

    // Editing.

    addCorner(here) {
      const points = this.draft.points;
      const scale = this.scale();
      const distance = (point) => Math.hypot((point.x - here.x) * scale.x, (point.y - here.y) * scale.y);
      if (distance(points[points.length - 1]) < SAME_SPOT) return; // a double-click's second click
      if (points.length >= 3 && distance(points[0]) < HANDLE_RADIUS) {
        this.closeDraft();
        return;
      }
      points.push(here);
    }

    closeDraft() {
      const draft = this.draft;
      if (!draft || draft.points.length < 3) return; // a polygon needs three corners: keep drawing
      this.draft = null;
      this.hover = null;
      const row = this.newRow({
        shape: "polygon", center_x: "", center_y: "", radius_x: "", radius_y: "", rotation: "0",
      });
      if (row) this.writePolygon(row, draft.points.map((point) => [point.x, point.y]));
      this.board.render();
    }

    moveWhole(row, origin, dx, dy) {
      // The whole target moves by the same amount, stopped at the image's edges.
      if (origin.shape === "polygon") {
        const xs = origin.points.map((point) => point[0]);
        const ys = origin.points.map((point) => point[1]);
        const shiftX = Math.min(this.columns - Math.max(...xs), Math.max(-Math.min(...xs), dx));
        const shiftY = Math.min(this.rows - Math.max(...ys), Math.max(-Math.min(...ys), dy));
        this.writePolygon(row, origin.points.map(([x, y]) => [x + shiftX, y + shiftY]));
      } else {
        this.writeEllipse(row, {
          cx: Math.min(this.columns, Math.max(0, origin.cx + dx)),
          cy: Math.min(this.rows, Math.max(0, origin.cy + dy)),
        });
      }
    }

    reshapeEllipse(row, origin, mode, here) {
      // On screen (where the ellipse is turned), not in pixels, should the pixels not be square on screen.
      const scale = this.scale();
      const dx = (here.x - origin.cx) * scale.x;
      const dy = (here.y - origin.cy) * scale.y;
      const turn = (origin.rotation * Math.PI) / 180;
      if (mode === "rotate") {
        this.writeEllipse(row, { rotation: degrees(Math.atan2(dy, dx)) });
      } else if (mode === "radius-x") {
        const along = Math.abs(dx * Math.cos(turn) + dy * Math.sin(turn));
        this.writeEllipse(row, { rx: Math.max(1, along / scale.x) });
      } else if (mode === "radius-y") {
        const across = Math.abs(-dx * Math.sin(turn) + dy * Math.cos(turn));
        this.writeEllipse(row, { ry: Math.max(1, across / scale.y) });
      }
    }

    // Drawing.

    render(overlay, width, height) {
      if (!this.enabled) return;
      // Each tool picks its own kind of drawing: targets under the arrow tools, arrows under the target tools.
      overlay.classList.toggle("target-tool", TOOLS.includes(this.board.tool()));
      if (this.draft && this.draft.frame !== this.board.frame) this.draft = null; // another frame: dropped
      this.closeButton.hidden = !this.draft;
      this.closeButton.disabled = !this.draft || this.draft.points.length < 3; // three corners at least
      const scale = { x: width / this.columns, y: height / this.rows };
      const targets = this.targets();
      if (this.selected && (!this.tableRows().includes(this.selected) || !drawable(targetOfRow(this.selected)))) {
        this.select(null);
      }
      targets.forEach((target, index) => {
        if (!drawable(target) || target.frame !== this.board.frame) return;
        const current = this.isCurrent(target);
        const selected = target.row === this.selected;
        const classes = ["target-shape", current ? "current" : "other", selected ? "selected" : ""].join(" ");
        const attributes = { class: classes.trim() };
        if (current) attributes["data-target"] = index;
        const group = svgElement("g", { class: "target" });
        if (target.shape === "polygon") {
          const points = target.points.map(([x, y]) => `${x * scale.x},${y * scale.y}`).join(" ");
          group.append(svgElement("polygon", { ...attributes, points }));
        } else {
          const cx = target.cx * scale.x;
          const cy = target.cy * scale.y;
          group.append(svgElement("ellipse", {
            ...attributes, cx, cy, rx: target.rx * scale.x, ry: target.ry * scale.y,
            transform: `rotate(${target.rotation} ${cx} ${cy})`,
          }));
        }
        if (selected) this.drawHandles(group, target, scale);
        overlay.append(group);
      });
      this.drawDraft(overlay, scale);
      this.listFrames(targets);
    }

    drawHandles(group, target, scale) {
      const handle = (x, y, kind, extra = {}) =>
        svgElement("circle", {
          cx: x, cy: y, r: HANDLE_RADIUS, class: `board-handle target-handle ${kind}`, "data-target-handle": kind, ...extra,
        });
      if (target.shape === "polygon") {
        target.points.forEach(([x, y], vertex) => group.append(handle(x * scale.x, y * scale.y, "vertex", { "data-vertex": vertex })));
        return;
      }
      const cx = target.cx * scale.x;
      const cy = target.cy * scale.y;
      const turn = (target.rotation * Math.PI) / 180;
      const along = { x: Math.cos(turn), y: Math.sin(turn) };
      const across = { x: -Math.sin(turn), y: Math.cos(turn) };
      const rx = target.rx * scale.x;
      const ry = target.ry * scale.y;
      const reach = rx + ROTATE_REACH;
      group.append(svgElement("line", {
        x1: cx + along.x * rx, y1: cy + along.y * rx, x2: cx + along.x * reach, y2: cy + along.y * reach,
        class: "target-arm",
      }));
      group.append(handle(cx + along.x * rx, cy + along.y * rx, "radius-x"));
      group.append(handle(cx + across.x * ry, cy + across.y * ry, "radius-y"));
      group.append(handle(cx + along.x * reach, cy + along.y * reach, "rotate"));
    }

    drawDraft(overlay, scale) {
      if (this.draft) {
        const corners = [...this.draft.points, ...(this.hover ? [this.hover] : [])];
        overlay.append(svgElement("polyline", {
          points: corners.map((point) => `${point.x * scale.x},${point.y * scale.y}`).join(" "),
          class: "target-draft",
        }));
        this.draft.points.forEach((point, place) => {
          overlay.append(svgElement("circle", {
            cx: point.x * scale.x, cy: point.y * scale.y, r: place === 0 ? HANDLE_RADIUS : 3,
            class: place === 0 ? "target-draft-first" : "target-draft-corner",
          }));
        });
      }
      if (this.drag && this.drag.mode === "box") {
        const { start, end } = this.drag;
        overlay.append(svgElement("ellipse", {
          cx: ((start.x + end.x) / 2) * scale.x, cy: ((start.y + end.y) / 2) * scale.y,
          rx: (Math.abs(end.x - start.x) / 2) * scale.x, ry: (Math.abs(end.y - start.y) / 2) * scale.y,
          class: "target-draft",
        }));
      }
    }

    listFrames(targets) {
      // Targets on other frames are easy to lose: list the frames that have the question's targets.
      const counts = new Map();
      for (const target of targets) {
        if (drawable(target) && this.isCurrent(target)) counts.set(target.frame, (counts.get(target.frame) || 0) + 1);
      }
      this.framesList.replaceChildren();
      if (!counts.size) {
        this.framesList.textContent = "No targets of this question on this image yet.";
        return;
      }
      this.framesList.append("Targets of this question on ");
      [...counts.keys()].sort((a, b) => a - b).forEach((frame, position) => {
        if (position) this.framesList.append(", ");
        const button = document.createElement("button");
        button.type = "button";
        button.dataset.frame = String(frame);
        button.className = frame === this.board.frame ? "board-jump current" : "board-jump";
        button.textContent = `frame ${frame + 1} (${counts.get(frame)})`;
        this.framesList.append(button);
      });
    }
  }

  (window.drawingBoardPlugins = window.drawingBoardPlugins || []).push((board) => new TargetLayer(board));
})();
