/* The header search box after Back/Forward: htmx restores the page as it was saved, but an
   input's typed value is not part of that snapshot, so the box would show another query than
   the results under it. Put the restored URL's query back into the box. */
(() => {
  if (window.micrositeSearchBox) return; // the partial can appear twice on a page
  window.micrositeSearchBox = true;
  document.addEventListener("htmx:historyRestore", () => {
    const q = new URLSearchParams(window.location.search).get("q") ?? "";
    const onSearch = window.location.pathname === "/search";
    for (const input of document.querySelectorAll(".search-form input[name=q]")) {
      input.value = onSearch ? q : "";
    }
  });
})();
