/* The picture panel under the article form (templates/admin/_images.html).
   - "插入正文" puts the uploaded picture into the rich-text editor (or, when the HTML source
     is showing or there is no editor, its <img> into the body textarea) at the cursor.
   - htmx swaps the panel with its errors too (422), which htmx by default would drop.
   - A file over the limit is refused before it is sent; a 413 from the server says the same. */
(() => {
  if (window.micrositeImages) return;
  window.micrositeImages = true;

  const TOO_LARGE = "文件太大";

  function reveal(root) {
    for (const button of root.querySelectorAll("[data-insert-image]")) {
      if (document.querySelector(button.dataset.into)) button.hidden = false;
    }
  }

  function insert(button) {
    const source = document.querySelector(button.dataset.insertImage);
    const body = document.querySelector(button.dataset.into);
    if (!source || !body) return;
    const html = source.value.trim();
    const note = button.parentElement.querySelector(".image-result__inserted");
    if (body.deskEditor && body.hidden) {
      // The rich-text editor is showing: the picture goes in at its caret.
      const img = new DOMParser().parseFromString(html, "text/html").querySelector("img");
      if (!img) return;
      body.deskEditor.insertImage({
        src: img.getAttribute("src"),
        alt: img.getAttribute("alt") || "",
        width: img.getAttribute("width"),
        height: img.getAttribute("height"),
      });
      if (note) note.textContent = "已插入正文光标处，保存文章后生效。";
      return;
    }
    const start = body.selectionStart ?? body.value.length;
    const end = body.selectionEnd ?? start;
    const before = body.value.slice(0, start);
    const after = body.value.slice(end);
    // On a line of its own: a bare line becomes a paragraph when the body is saved.
    const lead = before === "" || before.endsWith("\n") ? "" : "\n";
    const tail = after.startsWith("\n") ? "" : "\n";
    body.value = before + lead + html + tail + after;
    const caret = (before + lead + html + tail).length;
    body.focus();
    body.setSelectionRange(caret, caret);
    body.dispatchEvent(new Event("input", { bubbles: true }));
    if (note) note.textContent = "已插入正文光标处，保存文章后生效。";
  }

  function say(form, message) {
    const status = form.querySelector(".image-form__status");
    if (status) status.textContent = message;
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-insert-image]");
    if (button) insert(button);
  });

  document.addEventListener("htmx:beforeRequest", (event) => {
    const form = event.detail.elt;
    if (!form.matches || !form.matches(".image-form")) return;
    const file = form.querySelector("input[type=file]")?.files?.[0];
    const limit = Number(form.dataset.maxBytes);
    say(form, "");
    if (file && limit && file.size > limit) {
      event.preventDefault();
      say(form, `${TOO_LARGE}（最大 ${form.dataset.maxText}）`);
    }
  });

  document.addEventListener("htmx:beforeSwap", (event) => {
    const form = event.detail.requestConfig?.elt;
    if (!form || !form.matches || !form.matches(".image-form")) return;
    const status = event.detail.xhr.status;
    if (status === 422) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    } else if (status === 413) {
      say(form, TOO_LARGE);
    } else if (status >= 400) {
      say(form, `上传失败（${status}），请稍后再试。`);
    }
  });

  document.addEventListener("htmx:afterSwap", () => reveal(document));
  document.addEventListener("DOMContentLoaded", () => reveal(document));
})();
