// The unknown-case conference. The audience page polls the conference's state (a version number only)
// about once a second and reloads when the presenter has moved: the server renders what the new step
// shows, so nothing of a later step is ever in the browser before it is opened. An answer being typed
// is kept across the reload.
//
// The presenter's page takes its steps without a page load: the step form's POST is sent by fetch, and
// the live region of the page it leads to (the steps, the case, the tally) replaces this page's, so the
// projector's full screen ("Present in full screen": the whole stage, step buttons included) stays on.
// Without JavaScript the form posts and the page reloads as before. Keys: → / Page Down for the next
// step, ← / Page Up for the previous one. The tally is refreshed every second without a reload.
"use strict";

const POLL_MS = 1000;

const audience = document.querySelector(".conference-audience");
if (audience) {
  const input = audience.querySelector("#conference-answer");
  const draftKey = `conference-draft:${audience.dataset.stateUrl}`;
  if (input) {
    input.value = sessionStorage.getItem(draftKey) || "";
    input.addEventListener("input", () => sessionStorage.setItem(draftKey, input.value));
    input.form.addEventListener("submit", () => sessionStorage.removeItem(draftKey));
  }
  const poll = async () => {
    try {
      const response = await fetch(audience.dataset.stateUrl, { cache: "no-store", credentials: "same-origin" });
      if (response.ok) {
        const state = await response.json();
        if (String(state.version) !== audience.dataset.version) {
          window.location.reload();
          return;
        }
      }
    } catch {
      // A lost request: the next poll tries again.
    }
    setTimeout(poll, POLL_MS);
  };
  setTimeout(poll, POLL_MS);
}

const presenter = document.querySelector(".conference-present");
if (presenter) {
  const screen = presenter.querySelector(".conference-screen");
  const live = presenter.querySelector("[data-conference-live]");
  let busy = false;

  // Send the step form (as its button would) and swap in the live region of the page it answers with.
  const step = async (direction) => {
    const form = live.querySelector("form.conference-step");
    if (busy || !form) return;
    busy = true;
    const focused = document.activeElement?.closest?.("[data-conference-live] button[name=direction]");
    const body = new FormData(form);
    body.set("direction", direction);
    try {
      const response = await fetch(form.action, { method: "POST", body, credentials: "same-origin" });
      if (!response.ok) throw new Error(`step refused: ${response.status}`);
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = page.querySelector("[data-conference-live]");
      if (!fresh) throw new Error("no live region in the answer");
      const tally = live.querySelector(".conference-tally");
      const wasOpen = tally?.open && tally.dataset.casePosition;
      // The old step's viewers let go of their listeners and caches first, or each step's would stay alive.
      live.dispatchEvent(new CustomEvent("viewers:teardown", { bubbles: true }));
      live.dataset.version = fresh.dataset.version;
      live.replaceChildren(...Array.from(fresh.childNodes, (node) => document.importNode(node, true)));
      const newTally = live.querySelector(".conference-tally");
      if (newTally && wasOpen === newTally.dataset.casePosition) newTally.open = true; // same case
      live.dispatchEvent(new CustomEvent("viewers:scan", { bubbles: true })); // the new step's images
      if (focused) live.querySelector(`button[name=direction][value=${focused.value}]`)?.focus();
    } catch {
      window.location.reload(); // whatever happened to the step, the page as the server now has it
    } finally {
      busy = false;
    }
  };

  presenter.addEventListener("submit", (event) => {
    if (!event.target.matches("form.conference-step") || !event.submitter) return;
    event.preventDefault();
    step(event.submitter.value);
  });

  const STEP_KEYS = { ArrowRight: "next", PageDown: "next", ArrowLeft: "previous", PageUp: "previous" };
  document.addEventListener("keydown", (event) => {
    const direction = STEP_KEYS[event.key];
    // The viewer's own keys (it handles them first) and typing in a field are left alone.
    if (!direction || event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.target.closest?.("input, textarea, select, [contenteditable]")) return;
    event.preventDefault();
    step(direction);
  });

  const fullscreenButton = presenter.querySelector(".conference-fullscreen");
  if (fullscreenButton && screen.requestFullscreen) {
    fullscreenButton.hidden = false;
    fullscreenButton.addEventListener("click", () => {
      if (document.fullscreenElement === screen) document.exitFullscreen();
      else screen.requestFullscreen();
    });
    document.addEventListener("fullscreenchange", () => {
      const on = document.fullscreenElement === screen;
      fullscreenButton.setAttribute("aria-pressed", String(on));
      fullscreenButton.textContent = on ? "Exit full screen" : "Present in full screen";
    });
  }

  const refresh = async () => {
    try {
      const response = await fetch(presenter.dataset.tallyUrl, { cache: "no-store", credentials: "same-origin" });
      const state = response.ok ? await response.json() : null;
      const list = live.querySelector(".tally");
      // A tally asked for before a step can arrive after it: it belongs to the step (maybe the case) before.
      if (state && list && String(state.version) === live.dataset.version) {
        const { answers } = state;
        const items = answers.map(({ answer, count, mark }) => {
          const item = document.createElement("li");
          const text = document.createElement("span");
          text.className = "tally-answer";
          text.textContent = answer;
          const number = document.createElement("span");
          number.className = "count";
          number.textContent = String(count);
          item.append(text, " ", number);
          if (mark) {
            const label = document.createElement("span");
            label.className = "tally-mark";
            label.textContent = mark;
            item.append(" ", label);
          }
          return item;
        });
        if (!items.length) {
          const empty = document.createElement("li");
          empty.className = "empty";
          empty.textContent = "No answers yet.";
          items.push(empty);
        }
        list.replaceChildren(...items);
        const total = live.querySelector(".tally-total");
        if (total) total.textContent = String(answers.reduce((sum, row) => sum + row.count, 0));
      }
    } catch {
      // Try again at the next round.
    }
    setTimeout(refresh, POLL_MS);
  };
  setTimeout(refresh, POLL_MS);
}
