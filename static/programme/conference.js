// The unknown-case conference. The audience page polls the conference's state (a version number only)
// about once a second and reloads when the presenter has moved: the server renders what the new step
// shows, so nothing of a later step is ever in the browser before it is opened. An answer being typed
// is kept across the reload. The presenter's page refreshes the answers' tally the same way, without
// reloading, so the viewer stays as it is on the projector.
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
  const list = presenter.querySelector(".tally");
  const refresh = async () => {
    try {
      const response = await fetch(presenter.dataset.tallyUrl, { cache: "no-store", credentials: "same-origin" });
      if (response.ok) {
        const { answers } = await response.json();
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
      }
    } catch {
      // Try again at the next round.
    }
    setTimeout(refresh, POLL_MS);
  };
  setTimeout(refresh, POLL_MS);
}
