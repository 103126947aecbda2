// jitplan console: the chat page (polls /api/chat). No inline scripts (CSP script-src 'self');
// every server text goes through textContent, never innerHTML.
"use strict";
(function () {
  const form = document.getElementById("chat-form");
  if (!form) return;
  const csrf = document.querySelector("main").dataset.csrf;
  const input = document.getElementById("chat-input");
  const transcript = document.getElementById("transcript");
  const progress = document.getElementById("progress");
  const busyLabel = document.getElementById("chat-busy");
  let after = 0;
  let timer = null;

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function show(state) {
    for (const entry of state.entries) {
      if (entry.n < after) continue;
      after = entry.n + 1;
      const box = el("div", "entry " + entry.kind);
      if (entry.kind === "result") {
        const head = el("p", "result-head");
        const link = el("a", "", "cycle " + entry.thread_id);
        link.href = "/cycles/" + encodeURIComponent(entry.thread_id);
        head.appendChild(link);
        head.appendChild(document.createTextNode(" · decision "));
        head.appendChild(el("span", "d " + String(entry.decision), String(entry.decision)));
        box.appendChild(head);
        box.appendChild(el("pre", "", entry.text));
      } else {
        box.appendChild(el("pre", "", (entry.kind === "you" ? "you> " : "") + entry.text));
      }
      transcript.appendChild(box);
    }
    progress.replaceChildren();
    for (const p of state.progress) {
      progress.appendChild(el("li", "node " + String(p.status).toLowerCase(),
        p.node + " done in " + p.duration_ms + " ms" + (p.thread_id !== state.thread_id ? " (" + p.thread_id + ")" : "")));
    }
    busyLabel.textContent = state.busy ? "planning…" : "";
    form.dataset.busy = state.busy ? "1" : "0";
    if (state.busy) schedule(); else if (timer) { clearTimeout(timer); timer = null; }
    transcript.scrollTop = transcript.scrollHeight;
  }

  function schedule() {
    if (timer) clearTimeout(timer);
    timer = setTimeout(poll, 400);
  }

  async function poll() {
    timer = null;
    const r = await fetch("/api/chat?after=" + after, { credentials: "same-origin" });
    if (r.ok) show(await r.json()); else schedule();
  }

  form.addEventListener("submit", async function (ev) {
    ev.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    const r = await fetch("/api/chat?after=" + after, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ text: text }),
    });
    if (r.ok) { input.value = ""; show(await r.json()); schedule(); }
    else {
      const err = await r.json().catch(function () { return { detail: r.statusText }; });
      transcript.appendChild(el("div", "entry error", "error: " + (err.detail || r.status)));
    }
  });
  poll();
})();
