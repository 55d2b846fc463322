/* The editor's "插入图片" button: the picture library in a dialog (GET /admin/images?picker=1).

   Search runs inside the dialog; choosing a picture inserts it at the editor's caret with its
   alt text and size, closes the dialog and returns to the text. Escape closes it too. */
(() => {
  if (window.deskLibrary) return;
  window.deskLibrary = true;
  let dialog = null;
  let editor = null;

  function build() {
    dialog = document.createElement("dialog");
    dialog.className = "picture-picker";
    dialog.setAttribute("aria-labelledby", "picture-picker-title");
    const head = document.createElement("div");
    head.className = "picture-picker__head";
    const title = document.createElement("h2");
    title.id = "picture-picker-title";
    title.textContent = "从图片库插入图片";
    const close = document.createElement("button");
    close.type = "button";
    close.className = "button button--secondary";
    close.textContent = "关闭";
    close.addEventListener("click", () => dialog.close());
    head.append(title, close);
    const content = document.createElement("div");
    content.className = "picture-picker__content";
    content.setAttribute("aria-live", "polite");
    dialog.append(head, content);
    dialog.addEventListener("submit", (event) => {
      event.preventDefault();
      const params = new URLSearchParams(new FormData(event.target));
      load(`${event.target.action}?${params}`);
    });
    dialog.addEventListener("click", (event) => {
      const pick = event.target.closest(".library__pick");
      if (pick) choose(pick.dataset);
    });
    dialog.addEventListener("close", () => editor && editor.quill.focus());
    document.body.append(dialog);
  }

  async function load(url) {
    const content = dialog.querySelector(".picture-picker__content");
    try {
      const response = await fetch(url, { credentials: "same-origin" });
      if (!response.ok) throw new Error(String(response.status));
      // Our own server's fragment (same origin, no scripts): the library's list.
      content.innerHTML = await response.text();
    } catch {
      content.textContent = "图片库暂时打不开，请稍后再试。";
    }
  }

  function choose(data) {
    // Out of the modal dialog first: the text behind it cannot take the caret until then.
    dialog.close();
    editor.quill.focus();
    editor.insertImage({ src: data.src, alt: data.alt, width: data.width, height: data.height });
  }

  document.addEventListener("desk:open-library", (event) => {
    editor = event.detail.editor;
    const url = editor.textarea.form.dataset.libraryUrl;
    if (!url) return;
    if (!dialog) build();
    dialog.showModal();
    load(`${url}?picker=1`);
  });
})();
