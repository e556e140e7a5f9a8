// Stack viewer: scroll a series slice by slice, window it (presets, or free W/L by dragging), zoom, pan,
// play, link two series, show the author's arrows; on a case with several series, one viewer with a
// series strip and a side-by-side view. No dependencies; no inline script or style (CSP-safe): the data
// comes from a JSON block (json_script) beside each viewer, sizes go through the CSSOM.
//
// Pictures: a grayscale DICOM frame is fetched once as its stored values (Modality LUT output, lossless:
// /images/<id>/values/<frame>.raw, see imaging/frame_values.py) and windowed here into a canvas, with the
// server's own arithmetic, so a preset change or a W/L drag repaints without a round trip. Colour images,
// PNG/JPEG uploads, a window only the server can apply (a VOI LUT) and any frame whose values cannot be
// had use the server-rendered PNG of the preset instead.
//
// Network: a page opens with one image per viewer, a small copy of the teaching frame (same slice, same
// window) as <img loading="lazy">. The full picture replaces it when the viewer comes into view (a little
// before: FULL_FRAME_MARGIN) or when the reader engages, whichever comes first. Neighbouring frames are
// preloaded only once the reader engages with that viewer (pointer over it, focus, touch, any control).

const PRELOAD_AHEAD = 6;
const PRELOAD_BEHIND = 3;
const MAX_CACHED_VALUES = 64; // frames of values kept per viewer (a 512 x 512 CT slice is 0.5 MB)
const ZOOM_STEP = 1.25;
const ZOOM_MIN = 0.5;
const ZOOM_MAX = 8;
const CINE_FPS = 8;
const PIXELS_PER_SLICE = 8; // vertical drag distance that moves one slice
const TAP_SLOP = 10; // a touch that moves less than this many pixels, ...
const TAP_TIME = 500; // ... for less than this many milliseconds, is a tap
const SVG = "http://www.w3.org/2000/svg";
const FULL_FRAME_MARGIN = "200px"; // how far outside the screen a viewer starts loading its full frame

const linked = new Set();
let liveViewers = 0; // viewers started and not torn down, shown on <html data-live-viewers> (a test reads it)
const f32 = Math.fround;

function clamp(value, low, high) {
  return Math.min(high, Math.max(low, value));
}

// One value through a VOI window to a grey level 0-255: imaging/dicom/render.py's _window step by step,
// each step rounded to float32 as NumPy does there, so a preset gives exactly the server's picture.
function greyLevel(x, center, width, fn) {
  let v;
  if (fn === "SIGMOID") {
    v = f32(f32(x) - f32(center));
    v = f32(v * f32(-4 / width));
    v = f32(1 / f32(f32(Math.exp(v)) + 1));
  } else if (fn === "LINEAR_EXACT") {
    v = f32(f32(f32(x) - f32(center)) * f32(1 / width));
    v = f32(v + 0.5);
  } else if (width <= 1) {
    return f32(x) <= f32(center - 0.5) ? 0 : 255;
  } else {
    v = f32(f32(f32(x) - f32(center - 0.5)) * f32(1 / (width - 1)));
    v = f32(v + 0.5);
  }
  if (!(v > 0)) v = 0; // also NaN
  if (v > 1) v = 1;
  return Math.trunc(f32(f32(v * 255) + 0.5));
}

// An opaque grey RGBA pixel as one little-endian 32-bit word (ImageData's byte order R, G, B, A).
function greyPixel(level) {
  return (0xff000000 | (level << 16) | (level << 8) | level) >>> 0;
}

// The frame's values as fetched, with their range (for W/L drag speed and the table below).
function valuesEntry(info, buffer) {
  const values = info.type === "int16" ? new Int16Array(buffer) : new Float32Array(buffer);
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i += 1) {
    const v = values[i];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { info, values, min, max, state: "ready" };
}

class StackViewer {
  constructor(root) {
    this.root = root;
    this.stack = JSON.parse(document.getElementById(root.dataset.stackId).textContent);
    this.imageRoot = root.dataset.imageRoot;
    this.viewport = root.querySelector(".viewport");
    this.stage = root.querySelector(".stage");
    this.img = root.querySelector("img.slice");
    this.canvas = root.querySelector("canvas.slice-canvas");
    this.context = this.canvas.getContext("2d", { alpha: false });
    this.overlay = root.querySelector("svg.overlay");
    this.counter = root.querySelector(".slice-counter");
    this.readout = root.querySelector(".window-readout");
    this.captionLine = root.querySelector(".viewer-image-caption");
    this.cache = new Map(); // PNGs preloaded
    this.values = new Map(); // "<image>/<frame>" -> values entry
    this.pngOnly = new Set(this.stack.png_only || []); // images that have no values to window here
    this.table = null; // the last window's lookup table for int16 values
    this.pixels = null; // ImageData of the canvas's size
    this.showOverlays = true;
    this.tool = null; // "pan" or "wl": what a plain drag does instead of scrolling
    this.stackMode = false; // touch: swipes scroll the stack (after a tap), not the page
    this.timer = null;
    this.engaged = false;
    // Aborts the listeners on document: they would keep a swapped-out viewer (and its caches) alive.
    this.listeners = new AbortController();
    // Until the full frame is asked for, the <img> keeps the thumbnail the page came with.
    this.full = false;
    this.root.classList.toggle("is-single", this.count === 1); // nothing to scroll: no stack mode
    this.reset();
    this.bind();
    this.resizeObserver = new ResizeObserver(() => this.fit());
    this.resizeObserver.observe(this.viewport);
    countLiveViewers(1);
  }

  // The viewer's images are being taken off the page (a conference's step): let go of everything that
  // outlives its elements, so the viewer and its caches can be collected.
  teardown() {
    this.listeners.abort();
    this.resizeObserver.disconnect();
    nearScreen?.unobserve(this.root);
    clearInterval(this.timer);
    this.timer = null;
    linked.delete(this);
    this.cache.clear();
    this.values.clear();
    this.table = null;
    this.pixels = null;
    delete this.root.viewer;
    countLiveViewers(-1);
  }

  // The reader is about to use this viewer: from now on, frames around the current one preload.
  engage() {
    this.showFullFrame();
    if (this.engaged) return;
    this.engaged = true;
    this.preload();
  }

  showFullFrame() {
    if (this.full) return;
    this.full = true;
    this.render();
  }

  get count() {
    return this.stack.frames.length;
  }

  get frame() {
    return this.stack.frames[this.index];
  }

  url(index, preset = this.preset) {
    const frame = this.stack.frames[index];
    return `${this.imageRoot}${frame.image}/${preset}/${frame.frame}.png`;
  }

  valuesUrl(frame) {
    return `${this.imageRoot}${frame.image}/values/${frame.frame}.raw`;
  }

  reset() {
    const teaching = this.stack.teaching;
    this.preset = teaching.preset;
    this.custom = null;
    this.zoom = teaching.zoom;
    this.panX = 0;
    this.panY = 0;
    this.show(teaching.slice);
    this.updatePresetButtons();
    this.applyTransform();
  }

  show(index, { fromLink = false } = {}) {
    this.index = clamp(Math.round(index), 0, this.count - 1);
    this.img.width = this.frame.width;
    this.img.height = this.frame.height;
    const label = `${this.stack.label}, slice ${this.index + 1} of ${this.count}`;
    this.img.alt = label;
    this.canvas.setAttribute("aria-label", label);
    this.counter.textContent = `${this.index + 1} / ${this.count}`;
    this.root.dataset.slice = String(this.index + 1);
    // Any frame but the teaching one means the full frames are wanted now.
    if (this.index !== this.stack.teaching.slice) this.full = true;
    this.render();
    this.drawOverlays();
    this.showCaption();
    this.preload();
    if (!fromLink && this.isLinked()) {
      for (const other of linked) {
        if (other !== this && !other.root.hidden) other.followLinked(this);
      }
    }
  }

  step(delta) {
    this.show(this.index + delta);
  }

  // Every frame of the series fills the viewport the same way, whatever its own pixel size: the stage
  // gets the largest box of the frame's shape that fits (CSSOM sizes, allowed by the CSP).
  fit() {
    const width = this.viewport.clientWidth;
    const height = this.viewport.clientHeight;
    if (!width || !height) return; // hidden
    const frame = this.frame;
    const scale = Math.min(width / frame.width, height / frame.height);
    this.stage.style.width = `${frame.width * scale}px`;
    this.stage.style.height = `${frame.height * scale}px`;
  }

  hasValues(frame) {
    return !this.pngOnly.has(frame.image);
  }

  // The values of a frame: fetched once, then kept (the oldest dropped past MAX_CACHED_VALUES).
  loadValues(frame) {
    const key = `${frame.image}/${frame.frame}`;
    const known = this.values.get(key);
    if (known) return known;
    const entry = { state: "loading" };
    const { signal } = this.listeners; // a torn-down viewer's downloads stop too
    entry.promise = fetch(this.valuesUrl(frame), { credentials: "same-origin", signal })
      .then(async (response) => {
        if (!response.ok) throw new Error(`values answered ${response.status}`);
        const info = JSON.parse(response.headers.get("X-Frame"));
        Object.assign(entry, valuesEntry(info, await response.arrayBuffer()));
      })
      .catch(() => {
        entry.state = "failed";
        this.pngOnly.add(frame.image); // e.g. a colour image: its PNGs serve from now on
      });
    this.values.set(key, entry);
    for (const old of this.values.keys()) {
      if (this.values.size <= MAX_CACHED_VALUES) break;
      if (old !== key) this.values.delete(old);
    }
    return entry;
  }

  // Show the current frame in the current window: windowed here from its values when they are loaded,
  // else (after they load) the same; the server's PNG for anything that has no values to window.
  render() {
    if (this.listeners.signal.aborted) return; // torn down: a late download must not refill the caches
    this.fit();
    if (!this.full) return; // the thumbnail stays
    const frame = this.frame;
    if (this.hasValues(frame)) {
      const entry = this.loadValues(frame);
      if (entry.state === "ready" && this.paint(entry)) return;
      if (entry.state === "loading") {
        entry.promise.then(() => {
          if (this.frame === frame) this.render();
        });
        return; // the picture shown so far stays until the values are here
      }
    }
    this.showPng();
  }

  showPng() {
    const src = this.url(this.index);
    if (this.img.getAttribute("src") !== src) this.img.src = src;
    this.stage.classList.remove("uses-canvas");
    delete this.root.dataset.painted;
    this.readout.textContent = "";
    delete this.root.dataset.window;
  }

  // The window for a frame: the reader's own, else the preset's as the server resolved it for this image
  // (its default where the image lacks the preset, as the PNG views do); null where only a PNG can show it.
  windowFor(entry) {
    if (this.custom) return [this.custom.center, this.custom.width, "LINEAR"];
    const windows = entry.info.windows;
    return this.preset in windows ? windows[this.preset] : windows.default ?? null;
  }

  paint(entry) {
    const win = this.windowFor(entry);
    if (!win) return false;
    const [center, width, fn] = win;
    const { info, values } = entry;
    if (this.canvas.width !== info.width || this.canvas.height !== info.height) {
      this.canvas.width = info.width;
      this.canvas.height = info.height;
      this.pixels = null;
    }
    if (!this.pixels) this.pixels = this.context.createImageData(info.width, info.height);
    const out = new Uint32Array(this.pixels.data.buffer);
    const invert = info.invert;
    if (info.type === "int16") {
      // Each stored value once, through a table over the frame's range, then one lookup per pixel.
      const table = this.tableFor(center, width, fn, invert, entry.min, entry.max);
      const offset = -table.low;
      for (let i = 0; i < values.length; i += 1) out[i] = table.pixels[values[i] + offset];
    } else {
      for (let i = 0; i < values.length; i += 1) {
        const level = greyLevel(values[i], center, width, fn);
        out[i] = greyPixel(invert ? 255 - level : level);
      }
    }
    this.context.putImageData(this.pixels, 0, 0);
    this.stage.classList.add("uses-canvas");
    this.root.dataset.painted = this.root.dataset.slice; // lets a reader (and a test) know this frame is up
    this.readout.textContent = `W ${Math.round(width)} · L ${Math.round(center)}`;
    this.root.dataset.window = `${Math.round(center)}/${Math.round(width)}`;
    return true;
  }

  tableFor(center, width, fn, invert, low, high) {
    const key = `${center}|${width}|${fn}|${invert}`;
    const table = this.table;
    if (table && table.key === key && table.low <= low && table.high >= high) return table;
    const pixels = new Uint32Array(high - low + 1);
    for (let v = low; v <= high; v += 1) {
      const level = greyLevel(v, center, width, fn);
      pixels[v - low] = greyPixel(invert ? 255 - level : level);
    }
    this.table = { key, low, high, pixels };
    return this.table;
  }

  preload() {
    if (!this.engaged) return;
    for (let offset = -PRELOAD_BEHIND; offset <= PRELOAD_AHEAD; offset += 1) {
      const index = this.index + offset;
      if (index < 0 || index >= this.count) continue;
      const frame = this.stack.frames[index];
      if (this.hasValues(frame)) {
        this.loadValues(frame);
        continue;
      }
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
    this.full = true;
    this.preset = preset;
    this.custom = null;
    this.updatePresetButtons();
    this.render();
  }

  updatePresetButtons() {
    for (const button of this.root.querySelectorAll("[data-preset]")) {
      button.setAttribute("aria-pressed", String(!this.custom && button.dataset.preset === this.preset));
    }
    this.root.dataset.preset = this.custom ? "custom" : this.preset;
  }

  // Free windowing, as on a reading workstation: dragging right widens the window, dragging down raises
  // its centre (a darker picture), at a speed that crosses the frame's value range in about one viewport.
  startWindowing() {
    const frame = this.frame;
    const entry = this.hasValues(frame) ? this.values.get(`${frame.image}/${frame.frame}`) : null;
    if (!entry || entry.state !== "ready") return null;
    const win = this.windowFor(entry) ?? [(entry.min + entry.max) / 2, entry.max - entry.min + 1];
    const speed = Math.max((entry.max - entry.min) / Math.max(this.viewport.clientHeight, 1), 0.01);
    return { center: win[0], width: win[1], speed };
  }

  setWindow(center, width) {
    this.custom = { center, width: Math.max(width, 1) };
    this.updatePresetButtons();
    this.render();
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
    const frame = this.frame;
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
    const imageIndex = [...new Set(this.stack.frames.map((f) => f.image))].indexOf(this.frame.image);
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

  // "pan" or "wl" makes a plain drag pan or window; choosing the same tool again turns it off.
  setTool(tool) {
    this.tool = this.tool === tool ? null : tool;
    for (const button of this.root.querySelectorAll("[data-tool]")) {
      button.setAttribute("aria-pressed", String(button.dataset.tool === this.tool));
    }
    this.root.classList.toggle("has-tool", Boolean(this.tool));
  }

  // Touch: the page scrolls under a vertical swipe until a tap puts the viewer in stack mode, where
  // swipes scroll the slices; another tap, or a touch outside the viewer, gives the swipe back to the page.
  setStackMode(on) {
    this.stackMode = on;
    this.root.classList.toggle("is-stack-mode", on);
    this.root.querySelector(".touch-hint").textContent = on
      ? "Stack mode: swipe to scroll slices, tap to leave"
      : "Tap the image to scroll its slices";
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

  // Full screen for this viewer, over a page element already in full screen (a conference's stage, which
  // it returns to when the viewer leaves full screen).
  fullscreen() {
    if (document.fullscreenElement === this.root) document.exitFullscreen();
    else this.root.requestFullscreen?.();
  }

  bind() {
    const { signal } = this.listeners;
    const fullscreenButton = this.root.querySelector('[data-action="fullscreen"]');
    document.addEventListener("fullscreenchange", () => {
      const label = document.fullscreenElement === this.root ? "Exit full screen" : "Full screen";
      if (!fullscreenButton) return;
      fullscreenButton.textContent = label;
      fullscreenButton.setAttribute("aria-label", label);
    }, { signal });
    for (const type of ["pointerenter", "focusin", "touchstart"]) {
      this.root.addEventListener(type, () => this.engage(), { passive: true });
    }
    this.viewport.addEventListener("wheel", (event) => {
      if (event.ctrlKey) {
        event.preventDefault();
        this.setZoom(this.zoom * (event.deltaY < 0 ? ZOOM_STEP : 1 / ZOOM_STEP));
      } else if (this.count > 1) {
        event.preventDefault();
        this.step(event.deltaY > 0 ? 1 : -1);
      } // a single image has nothing to scroll: the wheel scrolls the page
    }, { passive: false });

    this.viewport.addEventListener("keydown", (event) => this.onKey(event));
    this.viewport.addEventListener("contextmenu", (event) => event.preventDefault()); // right drag: W/L

    let drag = null;
    this.viewport.addEventListener("pointerdown", (event) => {
      this.engage();
      const touch = event.pointerType === "touch";
      let mode = "stack";
      if (event.button === 2 || this.tool === "wl") mode = "wl";
      else if (this.tool === "pan" || event.shiftKey) mode = "pan";
      else if (touch && !this.stackMode) mode = "page"; // the browser scrolls the page (touch-action)
      drag = {
        mode, touch, x: event.clientX, y: event.clientY, time: event.timeStamp, moved: 0,
        index: this.index, panX: this.panX, panY: this.panY,
        window: mode === "wl" ? this.startWindowing() : null,
      };
      if (mode !== "page") this.viewport.setPointerCapture(event.pointerId);
    });
    this.viewport.addEventListener("pointermove", (event) => {
      if (!drag) return;
      const dx = event.clientX - drag.x;
      const dy = event.clientY - drag.y;
      drag.moved = Math.max(drag.moved, Math.hypot(dx, dy));
      if (drag.mode === "pan") {
        this.panX = drag.panX + dx;
        this.panY = drag.panY + dy;
        this.applyTransform();
      } else if (drag.mode === "wl" && drag.window) {
        const { center, width, speed } = drag.window;
        this.setWindow(center + dy * speed, width + dx * speed);
      } else if (drag.mode === "stack") {
        this.show(drag.index + Math.trunc(dy / PIXELS_PER_SLICE));
      }
    });
    this.viewport.addEventListener("pointerup", (event) => {
      const tap = drag && drag.touch && drag.moved < TAP_SLOP && event.timeStamp - drag.time < TAP_TIME;
      if (tap && this.count > 1) {
        this.setStackMode(!this.stackMode);
      }
      drag = null;
    });
    this.viewport.addEventListener("pointercancel", () => { drag = null; }); // the page took the swipe
    document.addEventListener("pointerdown", (event) => {
      if (this.stackMode && !this.root.contains(event.target)) this.setStackMode(false);
    }, { signal });

    this.root.querySelector(".toolbar").addEventListener("click", (event) => {
      const button = event.target.closest("button");
      if (!button) return;
      this.engage();
      if (button.dataset.preset) return this.setPreset(button.dataset.preset);
      if (button.dataset.tool) return this.setTool(button.dataset.tool);
      const actions = {
        previous: () => this.step(-1),
        next: () => this.step(1),
        "zoom-in": () => this.setZoom(this.zoom * ZOOM_STEP),
        "zoom-out": () => this.setZoom(this.zoom / ZOOM_STEP),
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
      w: () => this.setTool("wl"),
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

// A case with several series: one viewer at a time, chosen from a strip of thumbnails (as a study's tabs),
// or two side by side. Built here, not in the page: without JavaScript every series keeps its own viewer.
class SeriesStrip {
  constructor(panel, viewers) {
    this.viewers = viewers;
    this.shown = [viewers[0]];
    this.target = 0; // which of the two panes a choice from the strip fills
    this.strip = document.createElement("div");
    this.strip.className = "series-strip";
    this.strip.setAttribute("role", "toolbar");
    this.strip.setAttribute("aria-label", "Series");
    this.tabs = new Map();
    for (const viewer of viewers) this.strip.append(this.tab(viewer));
    this.splitButton = document.createElement("button");
    this.splitButton.type = "button";
    this.splitButton.className = "split-toggle";
    this.splitButton.textContent = "Side by side";
    this.splitButton.setAttribute("aria-pressed", "false");
    this.splitButton.addEventListener("click", () => this.toggleSplit());
    this.strip.append(this.splitButton);
    this.panes = document.createElement("div");
    this.panes.className = "viewer-panes";
    const first = viewers[0].root.closest(".study") || viewers[0].root;
    first.before(this.strip, this.panes);
    for (const viewer of viewers) {
      const study = viewer.root.closest(".study");
      this.panes.append(viewer.root);
      if (study && !study.querySelector(".stack-viewer")) study.hidden = true;
      for (const type of ["pointerdown", "focusin", "wheel"]) {
        viewer.root.addEventListener(type, () => this.aim(viewer), { passive: true });
      }
    }
    panel.classList.add("has-strip");
    this.update();
  }

  tab(viewer) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "series-tab";
    const thumbnail = document.createElement("img");
    thumbnail.src = viewer.stack.start.thumbnail;
    thumbnail.alt = "";
    thumbnail.loading = "lazy";
    thumbnail.decoding = "async";
    const label = document.createElement("span");
    label.className = "series-tab-label";
    label.textContent = viewer.stack.label;
    const detail = document.createElement("span");
    detail.className = "series-tab-detail";
    const study = viewer.root.closest(".study")?.querySelector("h3")?.textContent ?? "";
    detail.textContent = `${study} · ${viewer.count} slice${viewer.count === 1 ? "" : "s"}`;
    button.append(thumbnail, label, detail);
    button.addEventListener("click", () => this.choose(viewer));
    this.tabs.set(viewer, button);
    return button;
  }

  get split() {
    return this.shown.length === 2;
  }

  choose(viewer) {
    if (!this.split) {
      this.shown = [viewer];
    } else if (this.shown[1 - this.target] === viewer) {
      this.shown.reverse(); // already in the other pane: the two change places
    } else {
      this.shown[this.target] = viewer;
    }
    this.update();
    viewer.engage();
  }

  aim(viewer) {
    const pane = this.shown.indexOf(viewer);
    if (pane < 0 || pane === this.target) return;
    this.target = pane;
    this.update();
  }

  toggleSplit() {
    if (this.split) {
      this.shown = [this.shown[this.target]];
      this.target = 0;
    } else {
      const next = this.viewers[(this.viewers.indexOf(this.shown[0]) + 1) % this.viewers.length];
      this.shown = [this.shown[0], next];
      this.target = 1;
    }
    this.update();
  }

  update() {
    for (const viewer of this.viewers) {
      const pane = this.shown.indexOf(viewer);
      viewer.root.hidden = pane < 0;
      viewer.root.classList.toggle("pane-second", pane === 1);
      viewer.root.classList.toggle("is-target", this.split && pane === this.target);
      this.tabs.get(viewer).setAttribute("aria-pressed", String(pane >= 0));
      if (pane >= 0) viewer.fit();
    }
    this.panes.classList.toggle("is-split", this.split);
    this.splitButton.setAttribute("aria-pressed", String(this.split));
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

function countLiveViewers(change) {
  liveViewers += change;
  document.documentElement.dataset.liveViewers = String(liveViewers);
}

function startViewers(container) {
  for (const panel of container.querySelectorAll(".image-panel")) {
    const viewers = [];
    for (const root of panel.querySelectorAll(".stack-viewer[data-stack-id]")) {
      if (root.viewer || !document.getElementById(root.dataset.stackId)) continue;
      root.viewer = new StackViewer(root);
      root.classList.add("is-ready");
      viewers.push(root.viewer);
    }
    if (viewers.length > 1) new SeriesStrip(panel, viewers);
    for (const viewer of viewers) {
      if (nearScreen) nearScreen.observe(viewer.root);
      else viewer.showFullFrame();
    }
  }
}

startViewers(document);
// A page that puts new images in place without a load (a conference's step) asks for their viewers.
document.addEventListener("viewers:scan", (event) => startViewers(event.target));
// ... and, before it takes them away, for their viewers to let go (else each step's viewers stay in memory).
document.addEventListener("viewers:teardown", (event) => {
  for (const root of event.target.querySelectorAll(".stack-viewer")) root.viewer?.teardown();
});
