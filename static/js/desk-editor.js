/* The rich-text editor on the article and page forms (Quill 2, vendored in static/vendor/).

   Progressive enhancement: the form holds a plain <textarea data-rich-text>. This script puts
   a Quill editor and a toolbar in front of it, hides it, and writes the editor's HTML back into
   it after every change, so the form posts exactly what it posted before (and autosave reads
   the same textarea). Without JavaScript the textarea is the editor.

   What the editor writes stays inside the server's allow-list (microsite/sanitize.py): only
   the formats registered below exist in this Quill, so pasted colours, fonts, classes and
   scripts have nowhere to go; the output is tidied once more (no rel/target on links, no
   &nbsp; for every space) so a save does not warn "标签或属性已被移除" for markup the admin never
   wrote. The server still sanitizes everything. */
(() => {
  if (window.deskEditor || !window.Quill) return;
  const Quill = window.Quill;

  // Imported bodies mark the reporters' line with <p class="reporters">: an edit keeps it.
  const Block = Quill.import("blots/block");
  class Reporters extends Block {
    static blotName = "reporters";
    static tagName = "P";
    static className = "reporters";
    static formats() {
      return true;
    }
  }
  Quill.register(Reporters, true);

  // Pasted HTML is parsed into an inert document; Quill's Word normalizer then copies list
  // items into elements of this page, where their style attributes would break our CSP
  // (style-src 'self'). Styles carry nothing we keep, so they go first; only Word's list
  // markers (mso-list), which the normalizer reads, are left.
  const Clipboard = Quill.import("modules/clipboard");
  class DeskClipboard extends Clipboard {
    normalizeHTML(doc) {
      for (const element of doc.body.querySelectorAll("[style], [class]")) {
        const list = (element.getAttribute("style") || "").match(/mso-list:[^;]*/i);
        if (element.className !== "reporters") element.removeAttribute("class");
        if (list) element.setAttribute("style", list[0]);
        else element.removeAttribute("style");
      }
      doc.body.querySelectorAll("script, template, iframe, object").forEach((node) => node.remove());
      super.normalizeHTML(doc);
    }
  }
  Quill.register("modules/clipboard", DeskClipboard, true);

  const FORMATS = ["bold", "italic", "link", "header", "list", "blockquote", "image", "reporters"];
  const BLOCK_TAG = /<\s*(?:p|h[1-6]|ul|ol|li|blockquote|div|br|table|pre)\b/i;
  const KEEP = { A: ["href", "title"], IMG: ["src", "alt", "width", "height"], P: ["class"] };

  // [label, shortcut shown to the user, action]; the action gets the Quill instance.
  const BUTTONS = [
    ["正文段落", "Ctrl+Alt+0", (q) => setBlock(q, {})],
    ["小标题", "Ctrl+Alt+2", (q) => setBlock(q, { header: 2 })],
    ["三级标题", "Ctrl+Alt+3", (q) => setBlock(q, { header: 3 })],
    ["加粗", "Ctrl+B", (q) => toggle(q, "bold")],
    ["斜体", "Ctrl+I", (q) => toggle(q, "italic")],
    ["链接", "Ctrl+K", (q) => link(q)],
    ["项目列表", "Ctrl+Shift+8", (q) => setBlock(q, { list: "bullet" })],
    ["编号列表", "Ctrl+Shift+7", (q) => setBlock(q, { list: "ordered" })],
    ["引用", "Ctrl+Shift+9", (q) => setBlock(q, { blockquote: true })],
    ["插入图片", "", (q, editor) => editor.openLibrary()],
    ["撤销", "Ctrl+Z", (q) => q.history.undo()],
    ["重做", "Ctrl+Y", (q) => q.history.redo()],
  ];

  function range(quill) {
    return quill.getSelection(true) || { index: quill.getLength() - 1, length: 0 };
  }

  function setBlock(quill, wanted) {
    const where = range(quill);
    const current = quill.getFormat(where);
    const same = Object.entries(wanted).every(([key, value]) => current[key] === value);
    const formats = { header: false, list: false, blockquote: false, reporters: false };
    // Pressing the active block format again returns the line to a plain paragraph.
    if (!same) Object.assign(formats, wanted);
    quill.formatLine(where.index, where.length, formats, "user");
  }

  function toggle(quill, name) {
    const where = range(quill);
    quill.format(name, !quill.getFormat(where)[name], "user");
  }

  function link(quill) {
    const where = range(quill);
    const current = quill.getFormat(where).link || "";
    const answer = window.prompt("链接地址（http:// 或 https:// 开头，或本站以 / 开头的路径；留空则去掉链接）", current);
    if (answer === null) return;
    const href = answer.trim();
    if (where.length === 0 && href && !current) {
      quill.insertText(where.index, href, { link: href }, "user");
      quill.setSelection(where.index + href.length, 0, "user");
      return;
    }
    quill.format("link", href || false, "user");
  }

  function toParagraphs(text) {
    // The server reads a body without block tags as one paragraph per line: show it so.
    if (BLOCK_TAG.test(text)) return text;
    return text
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter(Boolean)
      .map((line) => `<p>${line}</p>`)
      .join("");
  }

  function tidy(html) {
    const doc = new DOMParser().parseFromString(`<body>${html}</body>`, "text/html");
    for (const element of doc.body.querySelectorAll("*")) {
      const keep = KEEP[element.tagName] || [];
      for (const name of element.getAttributeNames()) {
        if (!keep.includes(name)) element.removeAttribute(name);
      }
      if (element.tagName === "P" && element.className !== "reporters") element.removeAttribute("class");
    }
    const walker = doc.createTreeWalker(doc.body, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) walker.currentNode.data = walker.currentNode.data.replace(/\u00a0/g, " ");
    const blocks = [];
    for (const node of doc.body.childNodes) {
      const empty = node.nodeType === Node.ELEMENT_NODE && !node.textContent.trim() && !node.querySelector("img");
      if (!empty) blocks.push(node.nodeType === Node.ELEMENT_NODE ? node.outerHTML : node.textContent);
    }
    return blocks.join("\n");
  }

  function headerLevels(node, delta) {
    // The page's h1 is the article title and the allow-list has h2–h4: a pasted document
    // that uses h1 moves down a level (Word's 标题 1/标题 2 become 小标题/三级标题).
    // Matchers run for every ancestor too: move a heading's level once, at the heading.
    if (!/^H[1-6]$/.test(node.tagName)) return delta;
    const shift = node.ownerDocument.querySelector("h1") ? 1 : 0;
    for (const op of delta.ops) {
      const level = op.attributes && op.attributes.header;
      if (level) op.attributes.header = Math.min(Math.max(level + shift, 2), 4);
    }
    return delta;
  }

  const LOCAL_IMAGE = /^\/media\/[0-9a-f]{32}\.(?:jpg|png|webp)$/;

  function localImagesOnly(node, delta) {
    // Bodies show pictures from our own uploads only (the server drops any other source):
    // a pasted picture from elsewhere is left out here, where the admin can see it go.
    return LOCAL_IMAGE.test(node.getAttribute("src") || "") ? delta : new (Quill.import("delta"))();
  }

  function buildToolbar(editor, id) {
    const bar = document.createElement("div");
    bar.className = "desk-toolbar";
    bar.setAttribute("role", "toolbar");
    bar.setAttribute("aria-label", "正文格式");
    bar.setAttribute("aria-controls", id);
    BUTTONS.forEach(([label, keys, action], i) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "desk-toolbar__button";
      button.textContent = label;
      button.tabIndex = i === 0 ? 0 : -1;
      if (keys) {
        button.title = `${label}（${keys}）`;
        button.setAttribute("aria-keyshortcuts", keys.replace("Ctrl", "Control"));
      }
      // Keep the caret in the text while the mouse is pressed. During an IME composition
      // the button takes the focus instead: leaving the text is what makes the browser commit
      // the composition as shown; kept in place it would swallow the next one.
      button.addEventListener("mousedown", (event) => {
        if (!editor.quill.composition.isComposing) event.preventDefault();
      });
      button.addEventListener("click", () => {
        // A toolbar action is an undo step of its own, not merged into the typing before it.
        editor.quill.history.cutoff();
        action(editor.quill, editor);
        editor.quill.history.cutoff();
        // A format set at a collapsed caret changes no text, so Quill announces nothing.
        showActive(editor);
      });
      bar.append(button);
    });
    bar.addEventListener("keydown", (event) => roving(event, bar, editor));
    return bar;
  }

  function roving(event, bar, editor) {
    // One tab stop for the whole toolbar; arrows move within it, Escape returns to the text.
    const buttons = [...bar.querySelectorAll("button")];
    const at = buttons.indexOf(document.activeElement);
    const moves = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: buttons.length - 1 };
    if (event.key === "Escape") {
      event.preventDefault();
      editor.quill.focus();
      return;
    }
    if (!(event.key in moves) || at < 0) return;
    event.preventDefault();
    const next = buttons[(moves[event.key] + buttons.length) % buttons.length];
    for (const button of buttons) button.tabIndex = button === next ? 0 : -1;
    next.focus();
  }

  function caretFormats(quill) {
    // Bold or italic switched at a caret lives in Quill's cursor element until text is typed;
    // getFormat() does not see it there, the button must.
    const cursor = quill.root.querySelector(".ql-cursor");
    if (!cursor) return {};
    return { bold: !!cursor.closest("strong"), italic: !!cursor.closest("em") };
  }

  function showActive(editor) {
    const quill = editor.quill;
    const where = quill.getSelection();
    if (!where) return;
    const format = { ...quill.getFormat(where), ...caretFormats(quill) };
    const state = {
      正文段落: !format.header && !format.list && !format.blockquote,
      小标题: format.header === 2,
      三级标题: format.header === 3,
      加粗: !!format.bold,
      斜体: !!format.italic,
      链接: !!format.link,
      项目列表: format.list === "bullet",
      编号列表: format.list === "ordered",
      引用: !!format.blockquote,
    };
    for (const button of editor.toolbar.querySelectorAll("button")) {
      const pressed = state[button.textContent];
      if (pressed !== undefined) button.setAttribute("aria-pressed", String(pressed));
    }
  }

  function bindings() {
    const block = (wanted) => ({ handler() { setBlock(this.quill, wanted); } });
    return {
      paragraph: { key: "0", shortKey: true, altKey: true, ...block({}) },
      heading2: { key: "2", shortKey: true, altKey: true, ...block({ header: 2 }) },
      heading3: { key: "3", shortKey: true, altKey: true, ...block({ header: 3 }) },
      link: { key: "k", shortKey: true, handler() { link(this.quill); } },
      bullet: { key: "8", shortKey: true, shiftKey: true, ...block({ list: "bullet" }) },
      ordered: { key: "7", shortKey: true, shiftKey: true, ...block({ list: "ordered" }) },
      quote: { key: "9", shortKey: true, shiftKey: true, ...block({ blockquote: true }) },
      // Alt+F10 reaches the toolbar from the text, as in other editors.
      toolbar: { key: "F10", altKey: true, handler() { this.quill.container.closest(".desk-editor").querySelector(".desk-toolbar button[tabindex='0']").focus(); } },
      // Tab leaves the editor (keyboard users must be able to get out): no tab characters,
      // no Tab-to-indent trap in lists and quotes.
      tab: null,
      indent: null,
      outdent: null,
      "indent code-block": null,
      "outdent code-block": null,
    };
  }

  class Editor {
    constructor(textarea) {
      this.textarea = textarea;
      const id = `${textarea.id}-editor`;
      this.box = document.createElement("div");
      this.box.className = "desk-editor";
      const surface = document.createElement("div");
      surface.className = "desk-editor__surface";
      this.toolbar = buildToolbar(this, id);
      this.sourceButton = this.buildSourceToggle();
      this.box.append(this.toolbar, surface);
      textarea.before(this.box);
      textarea.after(this.sourceButton);
      this.quill = new Quill(surface, {
        formats: FORMATS,
        modules: { toolbar: false, keyboard: { bindings: bindings() }, history: { userOnly: true } },
      });
      this.quill.clipboard.addMatcher(Node.ELEMENT_NODE, headerLevels);
      this.quill.clipboard.addMatcher("IMG", localImagesOnly);
      const root = this.quill.root;
      root.id = id;
      root.setAttribute("role", "textbox");
      root.setAttribute("aria-multiline", "true");
      const label = document.querySelector(`label[for="${textarea.id}"]`);
      if (label) {
        label.id = label.id || `${textarea.id}-label`;
        root.setAttribute("aria-labelledby", label.id);
        label.addEventListener("click", () => this.quill.focus());
      }
      const described = textarea.getAttribute("aria-describedby");
      if (described) root.setAttribute("aria-describedby", described);
      this.load(textarea.value);
      textarea.hidden = true;
      this.quill.on("text-change", (delta, old, source) => this.sync(source));
      this.quill.on("editor-change", () => showActive(this));
      textarea.form.addEventListener("submit", () => this.sync("submit"));
    }

    load(html) {
      const contents = this.quill.clipboard.convert({ html: toParagraphs(html || "") });
      this.quill.setContents(contents, "silent");
      this.quill.history.clear();
    }

    html() {
      return this.quill.getText().trim() || this.quill.root.querySelector("img") ? tidy(this.quill.getSemanticHTML()) : "";
    }

    sync(source) {
      // A body never touched stays byte for byte what the server sent.
      if (source === "silent" || this.textarea.hidden === false) return;
      if (source === "submit" && !this.changed) return;
      this.changed = true;
      this.textarea.value = this.html();
      this.textarea.dispatchEvent(new Event("input", { bubbles: true }));
    }

    buildSourceToggle() {
      // The HTML itself, for the rare thing the toolbar cannot do; the server still cleans it.
      const button = document.createElement("button");
      button.type = "button";
      button.className = "button button--secondary desk-source";
      button.textContent = "编辑 HTML 源码";
      button.setAttribute("aria-pressed", "false");
      button.addEventListener("click", () => this.toggleSource());
      return button;
    }

    toggleSource() {
      const showing = this.textarea.hidden;
      if (showing) {
        this.sync("user");
        this.textarea.hidden = false;
        this.box.hidden = true;
        this.textarea.focus();
      } else {
        this.load(this.textarea.value);
        this.textarea.hidden = true;
        this.box.hidden = false;
        this.quill.focus();
      }
      this.sourceButton.setAttribute("aria-pressed", String(showing));
    }

    insertImage(image) {
      const where = range(this.quill);
      this.quill.insertEmbed(where.index, "image", image.src, "user");
      const attributes = { alt: image.alt, width: image.width, height: image.height };
      this.quill.formatText(where.index, 1, attributes, "user");
      this.quill.setSelection(where.index + 1, 0, "user");
    }

    openLibrary() {
      document.dispatchEvent(new CustomEvent("desk:open-library", { detail: { editor: this } }));
    }
  }

  function start() {
    for (const textarea of document.querySelectorAll("textarea[data-rich-text]")) {
      textarea.deskEditor = new Editor(textarea);
    }
  }

  window.deskEditor = { tidy };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
