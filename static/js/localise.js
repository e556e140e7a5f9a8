// "Point to the lesion": a click (or tap) on the viewer of a localisation question picks a point in the
// image's own pixels, whatever the zoom and pan, and fills the answer form; the server marks it. The page
// knows nothing of the targets: this script only reports where the resident pointed.
//
// The frame shown is read from the viewer's stack data (the JSON block beside it) and its data-slice
// attribute; the point from the stage's box on screen, which the viewer's zoom (scale) and pan
// (translate) already include, so screen pixels map back to image pixels by one proportion.

const SVG = "http://www.w3.org/2000/svg";
const TAP_SLOP = 10; // a press that moves further than this (a scroll, a pan, a window drag) is no click
// Keyboard pointing: an arrow moves the crosshair by 1 % of the frame (at least a pixel), with Shift by 10 %.
const KEY_STEP = 0.01;
const KEY_BIG_STEP = 0.1;
const KEY_MOVES = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };

function setAttributes(element, attributes) {
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
}

// Where a point is, for the status line read out by screen readers: pixels and the share of the frame.
function describe(x, y, frame) {
  const across = Math.round((x / frame.width) * 100);
  const down = Math.round((y / frame.height) * 100);
  return `${Math.round(x)}, ${Math.round(y)} of ${frame.width} × ${frame.height} pixels ` +
    `(${across} % across, ${down} % down)`;
}

class PointPicker {
  constructor(form, root) {
    this.form = form;
    this.root = root;
    this.stack = JSON.parse(document.getElementById(root.dataset.stackId).textContent);
    this.viewport = root.querySelector(".viewport");
    this.stage = root.querySelector(".stage");
    this.status = form.querySelector(".localisation-status");
    this.button = form.querySelector("button[type=submit]");
    this.chosen = null; // {slice, x, y}
    this.keyboard = null; // {x, y} while the crosshair is moved by the keyboard, in image pixels
    this.marker = document.createElementNS(SVG, "svg");
    setAttributes(this.marker, { class: "point-marker hidden", "aria-hidden": "true", focusable: "false" });
    this.stage.append(this.marker);
    this.root.classList.add("is-pointing");
    this.keyButton = Object.assign(document.createElement("button"), {
      type: "button", className: "keyboard-point", textContent: "Place a point with the keyboard",
    });
    // Right after the image in the tab order, so that it is the next stop once the viewer has focus.
    this.viewport.after(this.keyButton);
    this.bind();
  }

  // The frame on screen: the viewer keeps its 1-based place in data-slice.
  get slice() {
    return Number.parseInt(this.root.dataset.slice, 10) - 1;
  }

  // Screen point -> image pixels of the frame shown, or null when the point is off the picture.
  imagePoint(clientX, clientY) {
    const frame = this.stack.frames[this.slice];
    const box = this.stage.getBoundingClientRect();
    if (!frame || !box.width || !box.height) return null;
    const x = ((clientX - box.left) / box.width) * frame.width;
    const y = ((clientY - box.top) / box.height) * frame.height;
    if (x < 0 || y < 0 || x > frame.width || y > frame.height) return null;
    return { frame, x, y };
  }

  choose(clientX, clientY) {
    const point = this.imagePoint(clientX, clientY);
    if (!point) {
      this.status.textContent = "That is outside the image: click on the picture itself.";
      return;
    }
    this.chooseImagePoint(point.frame, point.x, point.y);
  }

  // The same answer whether the point came from a click, a tap or the keyboard: image pixels of the frame.
  chooseImagePoint(frame, x, y) {
    this.chosen = { slice: this.slice, x, y };
    this.form.elements.image.value = frame.image;
    this.form.elements.frame.value = frame.frame;
    this.form.elements.x.value = x.toFixed(2);
    this.form.elements.y.value = y.toFixed(2);
    this.root.dataset.pointX = x.toFixed(2);
    this.root.dataset.pointY = y.toFixed(2);
    this.button.disabled = false;
    this.status.textContent =
      `Point chosen on slice ${this.slice + 1}, at ${describe(x, y, frame)}. Answer, or click elsewhere to move it.`;
    this.drawMarker();
  }

  // Keyboard mode: a crosshair at the centre of the frame shown, moved by the arrow keys until Enter or
  // Space chooses it (Escape leaves). Outside this mode the viewer keeps its arrow keys for the slices.
  startKeyboard() {
    const frame = this.stack.frames[this.slice];
    if (!frame) return;
    const kept = this.chosen && this.chosen.slice === this.slice;
    this.keyboard = kept ? { x: this.chosen.x, y: this.chosen.y } : { x: frame.width / 2, y: frame.height / 2 };
    this.keyButton.setAttribute("aria-pressed", "true");
    this.root.classList.add("is-keyboard-pointing");
    this.viewport.focus({ preventScroll: true });
    this.announceKeyboard();
    this.drawMarker();
  }

  stopKeyboard() {
    this.keyboard = null;
    this.keyButton.setAttribute("aria-pressed", "false");
    this.root.classList.remove("is-keyboard-pointing");
    this.drawMarker();
  }

  announceKeyboard() {
    const frame = this.stack.frames[this.slice];
    this.status.textContent =
      `Crosshair on slice ${this.slice + 1} at ${describe(this.keyboard.x, this.keyboard.y, frame)}. ` +
      "Arrow keys move it, with Shift in bigger steps; Enter or Space chooses it; Escape leaves.";
  }

  onKeyboardKey(event) {
    if (!this.keyboard) return;
    const frame = this.stack.frames[this.slice];
    const move = KEY_MOVES[event.key];
    if (move) {
      const share = event.shiftKey ? KEY_BIG_STEP : KEY_STEP;
      const stepX = Math.max(1, Math.round(frame.width * share));
      const stepY = Math.max(1, Math.round(frame.height * share));
      this.keyboard.x = Math.min(frame.width, Math.max(0, this.keyboard.x + move[0] * stepX));
      this.keyboard.y = Math.min(frame.height, Math.max(0, this.keyboard.y + move[1] * stepY));
      this.announceKeyboard();
      this.drawMarker();
    } else if (event.key === "Enter" || event.key === " ") {
      const { x, y } = this.keyboard;
      this.stopKeyboard();
      this.chooseImagePoint(frame, Math.min(x, frame.width), Math.min(y, frame.height));
    } else if (event.key === "Escape") {
      this.stopKeyboard();
      this.status.textContent = this.chosen ? "Keyboard pointing left; your point is kept." : "No point chosen yet.";
    } else {
      return; // other keys (Page Up and Down, zoom, presets) still reach the viewer
    }
    // Taken here, in the capture phase, before the viewer's own key handling scrolls the slices.
    event.preventDefault();
    event.stopPropagation();
  }

  // The chosen point, on its own slice only: scrolling away hides it (the answer still names that slice).
  drawMarker() {
    const marker = this.marker;
    marker.replaceChildren();
    const frame = this.stack.frames[this.slice];
    const shown = this.chosen && this.chosen.slice === this.slice;
    marker.classList.toggle("hidden", !shown && !this.keyboard);
    if (!frame || (!shown && !this.keyboard)) return;
    setAttributes(marker, { viewBox: `0 0 ${frame.width} ${frame.height}` });
    const size = Math.max(frame.width, frame.height);
    if (this.keyboard) {
      const { x, y } = this.keyboard;
      const arm = size / 25;
      for (const [x1, y1, x2, y2] of [[x - arm, y, x + arm, y], [x, y - arm, x, y + arm]]) {
        const line = document.createElementNS(SVG, "line");
        setAttributes(line, { x1, y1, x2, y2, "stroke-width": size / 200, class: "point-crosshair" });
        marker.append(line);
      }
    }
    if (!shown) return;
    const circle = document.createElementNS(SVG, "circle");
    setAttributes(circle, {
      cx: this.chosen.x, cy: this.chosen.y, r: size / 60, "stroke-width": size / 200, class: "point-marker-ring",
    });
    marker.append(circle);
  }

  bind() {
    let press = null;
    this.viewport.addEventListener("pointerdown", (event) => {
      press = event.button === 0 ? { x: event.clientX, y: event.clientY, moved: 0 } : null;
    });
    this.viewport.addEventListener("pointermove", (event) => {
      if (press) press.moved = Math.max(press.moved, Math.hypot(event.clientX - press.x, event.clientY - press.y));
    });
    this.viewport.addEventListener("pointerup", (event) => {
      if (press && press.moved < TAP_SLOP) this.choose(event.clientX, event.clientY);
      press = null;
    });
    this.viewport.addEventListener("pointercancel", () => { press = null; });
    this.keyButton.addEventListener("click", () => (this.keyboard ? this.stopKeyboard() : this.startKeyboard()));
    this.root.addEventListener("keydown", (event) => this.onKeyboardKey(event), { capture: true });
    this.viewport.addEventListener("focusout", () => this.keyboard && this.stopKeyboard());
    new MutationObserver(() => {
      if (this.keyboard) this.announceKeyboard();
      this.drawMarker();
    }).observe(this.root, { attributeFilter: ["data-slice"] });
    this.form.addEventListener("submit", (event) => {
      if (!this.chosen) event.preventDefault();
    });
  }
}

for (const form of document.querySelectorAll(".localisation-form")) {
  const root = form.closest(".quiz-localisation")?.querySelector(".stack-viewer[data-stack-id]");
  if (root && document.getElementById(root.dataset.stackId)) new PointPicker(form, root);
}
