/* Autosave of the article form, and the presence beacon when it is left (templates/admin/edit.html, microsite/views/admin/desk.py).

   While the title or body changes, what the form holds is posted every data-autosave-seconds
   (20 by default) and whenever the page is hidden or left (tab switched, window closed, the
   browser going away), with the CSRF token. The server keeps it as this user's autosave of the
   article, never as the article: reopening the form offers to restore or discard it. */
(() => {
  const form = document.querySelector("form[data-autosave-url]");
  if (!form) return;
  const status = document.getElementById("autosave-status");
  const seconds = Number(form.dataset.autosaveSeconds) || 20;
  // keepalive requests (those that outlive the page) may carry at most 64 KB.
  const KEEPALIVE_LIMIT = 60 * 1024;
  let dirty = false;
  let submitting = false;

  function say(message) {
    if (status && message) status.textContent = message;
  }

  function payload() {
    const data = new FormData();
    for (const name of ["csrf_token", "title", "body", "version"]) {
      const field = form.elements.namedItem(name);
      if (field) data.append(name, field.value);
    }
    return data;
  }

  async function save(leaving) {
    if (!dirty || submitting) return;
    dirty = false;
    const body = payload();
    const size = [...body.values()].reduce((total, value) => total + value.length * 3, 0);
    try {
      const response = await fetch(form.dataset.autosaveUrl, {
        method: "POST",
        body,
        headers: { "X-CSRFToken": body.get("csrf_token") || "" },
        credentials: "same-origin",
        keepalive: leaving && size < KEEPALIVE_LIMIT,
      });
      const answer = await response.json();
      if (!response.ok) dirty = true;
      say(response.ok ? answer.message : answer.error);
    } catch {
      dirty = true;
      say("自动保存失败（网络连接中断），请不要关闭页面，稍后会自动重试。");
    }
  }

  form.addEventListener("input", () => {
    dirty = true;
  });
  // The real save is on its way: an autosave now would only be deleted by it.
  form.addEventListener("submit", () => {
    submitting = true;
  });
  setInterval(() => save(false), seconds * 1000);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") save(true);
  });
  window.addEventListener("pagehide", () => save(true));

  // Presence: leaving the page says so at once instead of after missed heartbeats.
  const presence = document.getElementById("presence");
  window.addEventListener("pagehide", () => {
    if (!presence || !presence.dataset.leaveUrl || !navigator.sendBeacon) return;
    const data = new FormData();
    data.append("csrf_token", form.elements.namedItem("csrf_token")?.value || "");
    navigator.sendBeacon(presence.dataset.leaveUrl, data);
  });
})();
