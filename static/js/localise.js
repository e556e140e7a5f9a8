// "Point to the lesion": a click (or tap) on the viewer of a localisation question picks a point in the
// image's own pixels, whatever the zoom and pan, and fills the answer form; the server marks it. The page
// knows nothing of the targets: this script only reports where the resident pointed.
//
// The frame shown is read from the viewer's stack data (the JSON block beside it) and its data-slice
// attribute; the point from the stage's box on screen, which the viewer's zoom (scale) and pan
// (translate) already include, so screen pixels map back to image pixels by one proportion.

const SVG = "http://www.w3.org/2000/svg";
const TAP_SLOP = 10; // a press that moves further than this (a scroll, a pan, a window drag) is no click

function setAttributes(element, attributes) {
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
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
    this.marker = document.createElementNS(SVG, "svg");
    setAttributes(this.marker, { class: "point-marker hidden", "aria-hidden": "true", focusable: "false" });
    this.stage.append(this.marker);
    this.root.classList.add("is-pointing");
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
    const { frame, x, y } = point;
    this.chosen = { slice: this.slice, x, y };
    this.form.elements.image.value = frame.image;
    this.form.elements.frame.value = frame.frame;
    this.form.elements.x.value = x.toFixed(2);
    this.form.elements.y.value = y.toFixed(2);
    this.root.dataset.pointX = x.toFixed(2);
    this.root.dataset.pointY = y.toFixed(2);
    this.button.disabled = false;
    this.status.textContent = `Point chosen on slice ${this.slice + 1}. Answer, or click elsewhere to move it.`;
    this.drawMarker();
  }

  // The chosen point, on its own slice only: scrolling away hides it (the answer still names that slice).
  drawMarker() {
    const marker = this.marker;
    marker.replaceChildren();
    const frame = this.stack.frames[this.slice];
    const shown = this.chosen && this.chosen.slice === this.slice;
    marker.classList.toggle("hidden", !shown);
    if (!shown) return;
    setAttributes(marker, { viewBox: `0 0 ${frame.width} ${frame.height}` });
    const size = Math.max(frame.width, frame.height);
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
    new MutationObserver(() => this.drawMarker()).observe(this.root, { attributeFilter: ["data-slice"] });
    this.form.addEventListener("submit", (event) => {
      if (!this.chosen) event.preventDefault();
    });
  }
}

for (const form of document.querySelectorAll(".localisation-form")) {
  const root = form.closest(".quiz-localisation")?.querySelector(".stack-viewer[data-stack-id]");
  if (root && document.getElementById(root.dataset.stackId)) new PointPicker(form, root);
}
