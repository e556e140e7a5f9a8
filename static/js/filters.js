// The case list's filters fold behind one "Filters" button on a phone and stay open on a wide screen.
(function () {
  const wide = window.matchMedia("(min-width: 48.01rem)");
  function place() {
    document.querySelectorAll("details[data-open-on-wide]").forEach((panel) => {
      panel.open = wide.matches;
    });
  }
  place();
  wide.addEventListener("change", place);
})();
