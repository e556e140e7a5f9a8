// Stack viewer: scroll a series slice by slice, switch window presets, zoom, pan, play, link
// two series, show the author's arrows. No dependencies; no inline script (CSP-safe): the data
// comes from a JSON block (json_script) beside each viewer.
//
// Network: a page opens with one image per viewer, a small copy of the teaching frame (same slice,
// same window) as <img loading="lazy">, so the browser fetches it only when the viewer comes near the
// screen. The full-size teaching frame replaces it when the viewer comes into view (a little before:
// FULL_FRAME_MARGIN) or when the reader engages, whichever comes first. Neighbouring frames are
// preloaded only once the reader engages with that viewer (pointer over it, focus, or any control),
// never for every series on page load.

const PRELOAD_AHEAD = 6;
const PRELOAD_BEHIND = 3;
const ZOOM_STEP = 1.25;
const ZOOM_MIN = 0.5;
const ZOOM_MAX = 8;
const CINE_FPS = 8;
const PIXELS_PER_SLICE = 8; // vertical drag distance that moves one slice
const SVG = "http://www.w3.org/2000/svg";
const FULL_FRAME_MARGIN = "200px"; // how far outside the screen a viewer starts loading its full frame

const linked = new Set();

function clamp(value, low, high) {
  return Math.min(high, Math.max(low, value));
}

class StackViewer {
  constructor(root) {
    this.root = root;
    this.stack = JSON.parse(document.getElementById(root.dataset.stackId).textContent);
    this.imageRoot = root.dataset.imageRoot;
    this.viewport = root.querySelector(".viewport");
    this.stage = root.querySelector(".stage");
    this.img = root.querySelector("img.slice");
    this.overlay = root.querySelector("svg.overlay");
    this.counter = root.querySelector(".slice-counter");
    this.captionLine = root.querySelector(".viewer-image-caption");
    this.cache = new Map();
    this.showOverlays = true;
    this.panMode = false;
    this.timer = null;
    this.engaged = false;
    // Until the full frame is asked for, the <img> keeps the thumbnail the page came with.
    this.full = this.stack.start.thumbnail === this.stack.start.src;
    if (!this.full) this.reserveSize();
    this.reset();
    this.bind();
  }

  // The reader is about to use this viewer: from now on, frames around the current one preload.
  engage() {
    this.showFullFrame();
    if (this.engaged) return;
    this.engaged = true;
    this.preload();
  }

  // The thumbnail has the full frame's width and height attributes, but the stylesheet sizes the image
  // by its natural size (width: auto); give it the box the full frame will have, so nothing moves when
  // that replaces it. CSSOM, not a style attribute (CSP). Released once the full frame has loaded.
  reserveSize() {
    const start = this.stack.start;
    const maxHeight = Number.parseFloat(getComputedStyle(this.img).maxHeight);
    const scale = Number.isFinite(maxHeight) ? Math.min(1, maxHeight / start.height) : 1;
    this.img.style.width = `${start.width * scale}px`;
  }

  // Swap the thumbnail for the full-size frame now shown (once; later frames go through show()).
  // The browser keeps painting the thumbnail until the full frame has loaded.
  showFullFrame() {
    if (this.full) return;
    this.full = true;
    const release = () => { this.img.style.width = ""; };
    this.img.addEventListener("load", release, { once: true });
    this.img.addEventListener("error", release, { once: true });
    this.img.src = this.url(this.index);
  }

  get count() {
    return this.stack.frames.length;
  }

  url(index, preset = this.preset) {
    const frame = this.stack.frames[index];
    return `${this.imageRoot}${frame.image}/${preset}/${frame.frame}.png`;
  }

  reset() {
    const teaching = this.stack.teaching;
    this.preset = teaching.preset;
    this.zoom = teaching.zoom;
    this.panX = 0;
    this.panY = 0;
    this.show(teaching.slice);
    this.updatePresetButtons();
    this.applyTransform();
  }

  show(index, { fromLink = false } = {}) {
    this.index = clamp(Math.round(index), 0, this.count - 1);
    const frame = this.stack.frames[this.index];
    const src = this.url(this.index);
    // Any frame but the one the thumbnail shows means the full frames are wanted now.
    if (!this.full && src !== this.stack.start.src) this.showFullFrame();
    if (this.full && this.img.getAttribute("src") !== src) {
      this.img.src = src;
    }
    this.img.width = frame.width;
    this.img.height = frame.height;
    this.img.alt = `${this.stack.label}, slice ${this.index + 1} of ${this.count}`;
    this.counter.textContent = `${this.index + 1} / ${this.count}`;
    this.root.dataset.slice = String(this.index + 1);
    this.drawOverlays();
    this.showCaption();
    this.preload();
    if (!fromLink && this.isLinked()) {
      for (const other of linked) {
        if (other !== this) other.followLinked(this);
      }
    }
  }

  step(delta) {
    this.show(this.index + delta);
  }

  preload() {
    if (!this.engaged) return;
    for (let offset = -PRELOAD_BEHIND; offset <= PRELOAD_AHEAD; offset += 1) {
      const index = this.index + offset;
      if (index < 0 || index >= this.count) continue;
      const src = this.url(index);
      if (!this.cache.has(src)) {
        const image = new Image();
        image.decoding = "async";
        image.src = src;
        this.cache.set(src, image);
      }
    }
  }

  setPreset(preset) {
    if (!this.stack.presets.includes(preset)) return;
    this.preset = preset;
    this.updatePresetButtons();
    this.show(this.index);
  }

  updatePresetButtons() {
    for (const button of this.root.querySelectorAll("[data-preset]")) {
      button.setAttribute("aria-pressed", String(button.dataset.preset === this.preset));
    }
    this.root.dataset.preset = this.preset;
  }

  setZoom(zoom) {
    this.zoom = clamp(zoom, ZOOM_MIN, ZOOM_MAX);
    this.applyTransform();
  }

  applyTransform() {
    // CSSOM, not a style attribute: allowed by a content security policy without 'unsafe-inline'.
    this.stage.style.transform = `translate(${this.panX}px, ${this.panY}px) scale(${this.zoom})`;
    this.root.dataset.zoom = this.zoom.toFixed(2);
  }

  drawOverlays() {
    const overlay = this.overlay;
    overlay.replaceChildren();
    const notes = (this.stack.overlays || {})[String(this.index)] || [];
    overlay.classList.toggle("hidden", !this.showOverlays || notes.length === 0);
    if (!notes.length) return;
    const frame = this.stack.frames[this.index];
    const w = frame.width;
    const h = frame.height;
    overlay.setAttribute("viewBox", `0 0 ${w} ${h}`);
    const stroke = Math.max(w, h) / 150;
    const defs = document.createElementNS(SVG, "defs");
    const marker = document.createElementNS(SVG, "marker");
    const markerId = `${this.root.dataset.stackId}-head`;
    for (const [name, value] of Object.entries({
      id: markerId, viewBox: "0 0 10 10", refX: "8", refY: "5", markerWidth: "5", markerHeight: "5",
      orient: "auto-start-reverse",
    })) marker.setAttribute(name, value);
    const head = document.createElementNS(SVG, "path");
    head.setAttribute("d", "M 0 0 L 10 5 L 0 10 z");
    head.setAttribute("class", "overlay-arrowhead");
    marker.append(head);
    defs.append(marker);
    overlay.append(defs);
    for (const note of notes) {
      if (note.kind === "arrow") {
        const line = document.createElementNS(SVG, "line");
        line.setAttribute("x1", note.tailX * w);
        line.setAttribute("y1", note.tailY * h);
        line.setAttribute("x2", note.x * w);
        line.setAttribute("y2", note.y * h);
        line.setAttribute("stroke-width", stroke);
        line.setAttribute("marker-end", `url(#${markerId})`);
        line.setAttribute("class", "overlay-arrow");
        overlay.append(line);
      }
      if (note.text) {
        const text = document.createElementNS(SVG, "text");
        const anchorX = note.kind === "arrow" ? note.tailX : note.x;
        const anchorY = note.kind === "arrow" ? note.tailY : note.y;
        text.setAttribute("x", anchorX * w);
        text.setAttribute("y", anchorY * h);
        text.setAttribute("font-size", Math.max(w, h) / 22);
        text.setAttribute("class", "overlay-label");
        text.textContent = note.text;
        overlay.append(text);
      }
    }
  }

  showCaption() {
    if (!this.captionLine) return;
    const frame = this.stack.frames[this.index];
    const imageIndex = [...new Set(this.stack.frames.map((f) => f.image))].indexOf(frame.image);
    this.captionLine.textContent = (this.stack.captions || {})[String(imageIndex)] || "";
  }

  toggleOverlays(button) {
    this.showOverlays = !this.showOverlays;
    button.setAttribute("aria-pressed", String(this.showOverlays));
    this.drawOverlays();
  }

  togglePlay(button) {
    if (this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    } else {
      this.timer = setInterval(() => this.show((this.index + 1) % this.count), 1000 / CINE_FPS);
    }
    button.setAttribute("aria-pressed", String(Boolean(this.timer)));
    button.textContent = this.timer ? "Pause" : "Play";
  }

  isLinked() {
    return linked.has(this);
  }

  toggleLink(button) {
    if (this.isLinked()) linked.delete(this);
    else linked.add(this);
    button.setAttribute("aria-pressed", String(this.isLinked()));
    this.root.classList.toggle("is-linked", this.isLinked());
  }

  // Follow another linked viewer: by position along the slice normal when both stacks know their
  // positions (T1 beside T2 of one study), else by the same fraction of the stack.
  followLinked(leader) {
    const target = leader.stack.frames[leader.index].position;
    const positions = this.stack.frames.map((f) => f.position);
    if (target !== null && positions.every((p) => p !== null)) {
      let best = 0;
      positions.forEach((p, i) => {
        if (Math.abs(p - target) < Math.abs(positions[best] - target)) best = i;
      });
      this.show(best, { fromLink: true });
    } else {
      const fraction = leader.count > 1 ? leader.index / (leader.count - 1) : 0;
      this.show(fraction * (this.count - 1), { fromLink: true });
    }
  }

  fullscreen() {
    if (document.fullscreenElement) document.exitFullscreen();
    else this.root.requestFullscreen?.();
  }

  bind() {
    for (const type of ["pointerenter", "focusin", "touchstart"]) {
      this.root.addEventListener(type, () => this.engage(), { passive: true });
    }
    this.viewport.addEventListener("wheel", (event) => {
      event.preventDefault();
      if (event.ctrlKey) this.setZoom(this.zoom * (event.deltaY < 0 ? ZOOM_STEP : 1 / ZOOM_STEP));
      else this.step(event.deltaY > 0 ? 1 : -1);
    }, { passive: false });

    this.viewport.addEventListener("keydown", (event) => this.onKey(event));

    let drag = null;
    this.viewport.addEventListener("pointerdown", (event) => {
      drag = { x: event.clientX, y: event.clientY, index: this.index, panX: this.panX, panY: this.panY };
      this.viewport.setPointerCapture(event.pointerId);
    });
    this.viewport.addEventListener("pointermove", (event) => {
      if (!drag) return;
      const dx = event.clientX - drag.x;
      const dy = event.clientY - drag.y;
      if (this.panMode || event.shiftKey) {
        this.panX = drag.panX + dx;
        this.panY = drag.panY + dy;
        this.applyTransform();
      } else {
        this.show(drag.index + Math.trunc(dy / PIXELS_PER_SLICE));
      }
    });
    const endDrag = () => { drag = null; };
    this.viewport.addEventListener("pointerup", endDrag);
    this.viewport.addEventListener("pointercancel", endDrag);

    this.root.querySelector(".toolbar").addEventListener("click", (event) => {
      const button = event.target.closest("button");
      if (!button) return;
      if (button.dataset.preset) return this.setPreset(button.dataset.preset);
      const actions = {
        previous: () => this.step(-1),
        next: () => this.step(1),
        "zoom-in": () => this.setZoom(this.zoom * ZOOM_STEP),
        "zoom-out": () => this.setZoom(this.zoom / ZOOM_STEP),
        pan: () => {
          this.panMode = !this.panMode;
          button.setAttribute("aria-pressed", String(this.panMode));
        },
        reset: () => this.reset(),
        play: () => this.togglePlay(button),
        link: () => this.toggleLink(button),
        overlays: () => this.toggleOverlays(button),
        fullscreen: () => this.fullscreen(),
      };
      actions[button.dataset.action]?.();
    });
  }

  onKey(event) {
    const page = Math.max(1, Math.round(this.count / 10));
    const keys = {
      ArrowUp: () => this.step(-1),
      ArrowLeft: () => this.step(-1),
      ArrowDown: () => this.step(1),
      ArrowRight: () => this.step(1),
      PageUp: () => this.step(-page),
      PageDown: () => this.step(page),
      Home: () => this.show(0),
      End: () => this.show(this.count - 1),
      "+": () => this.setZoom(this.zoom * ZOOM_STEP),
      "-": () => this.setZoom(this.zoom / ZOOM_STEP),
      r: () => this.reset(),
      f: () => this.fullscreen(),
    };
    const presetNumber = Number.parseInt(event.key, 10);
    if (presetNumber >= 1 && presetNumber <= this.stack.presets.length) {
      event.preventDefault();
      this.setPreset(this.stack.presets[presetNumber - 1]);
    } else if (keys[event.key]) {
      event.preventDefault();
      keys[event.key]();
    }
  }
}

// Each viewer's full frame starts loading as the viewer nears the screen.
const nearScreen = "IntersectionObserver" in window
  ? new IntersectionObserver((entries, observer) => {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      observer.unobserve(entry.target);
      entry.target.viewer?.showFullFrame();
    }
  }, { rootMargin: FULL_FRAME_MARGIN })
  : null;

for (const root of document.querySelectorAll(".stack-viewer[data-stack-id]")) {
  if (document.getElementById(root.dataset.stackId)) {
    root.viewer = new StackViewer(root);
    root.classList.add("is-ready");
    if (nearScreen) nearScreen.observe(root);
    else root.viewer.showFullFrame();
  }
}
