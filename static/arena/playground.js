// The playground page: one chosen model, one prompt, the arena's parameters (params.js);
// POST /api/arenas/{slug}/generations, then poll GET /api/generations/{id}. Text via textContent.
(function () {
  "use strict";
  const app = document.getElementById("battle-app");
  if (!app || app.dataset.mode !== "playground") return;
  const slug = app.dataset.arena;
  const $ = (id) => document.getElementById(id);
  const message = $("message"), box = $("battle"), frame = box.querySelector(".frame");
  let current = null, timer = null, started = 0;

  function csrf() {
    const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  function say(text, kind) {
    message.hidden = !text;
    message.textContent = text || "";
    message.className = "message " + (kind || "error");
  }
  async function api(method, path, body) {
    const res = await fetch("/api" + path, {
      method, credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrf()},
      body: body ? JSON.stringify(body) : undefined,
    });
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    return {status: res.status, data};
  }
  function errorText(res) {
    return (res.data && res.data.error && res.data.error.message) || "Something went wrong (" + res.status + "). Please try again.";
  }
  function placeholder(text, failed) {
    frame.textContent = "";
    const ph = document.createElement("div"); ph.className = "placeholder";
    if (!failed) { const s = document.createElement("span"); s.className = "spinner"; s.setAttribute("aria-hidden", "true"); ph.appendChild(s); }
    const t = document.createElement("span"); t.className = "ph-text"; t.textContent = text; ph.appendChild(t);
    frame.appendChild(ph);
    frame.classList.toggle("failed", !!failed);
    delete frame.dataset.url;
  }

  function render(state) {
    if (current && state.id !== current.id) return;
    current = state;
    box.hidden = false;
    app.dispatchEvent(new CustomEvent("arena:state", {detail: state}));  // params.js shapes the frame
    $("model-shown").textContent = state.model.name;
    $("prompt-shown").textContent = state.prompt;
    const seconds = Math.floor((Date.now() - started) / 1000);
    if (state.status === "ready") {
      stop();
      if (state.url && frame.dataset.url !== state.url) {
        frame.textContent = "";
        const el = document.createElement(state.modality === "video" ? "video" : "img");
        if (state.modality === "video") { el.controls = true; el.loop = true; el.muted = true; el.playsInline = true; if (state.poster) el.poster = state.poster; }
        else el.alt = (state.source_image ? "Edit by " : "Output of ") + state.model.name;
        el.className = "output"; el.src = state.url;
        frame.appendChild(el); frame.dataset.url = state.url;
      } else if (state.text) {
        frame.textContent = "";
        const p = document.createElement("div"); p.className = "output-text"; p.textContent = state.text; frame.appendChild(p);
      }
      const d = state.delivered || {};
      const parts = [d.width && d.height ? d.width + "×" + d.height : "", d.duration_s ? d.duration_s + " s" : "", d.fps ? d.fps + " fps" : ""].filter(Boolean);
      $("status-shown").textContent = "Ready" + (parts.length ? ": " + parts.join(", ") : "") + ". Not counted anywhere.";
      say("", "info");
    } else if (state.status === "failed") {
      stop();
      placeholder("Could not generate", true);
      $("status-shown").textContent = "";
      say(state.failure || "The model could not produce an output.", "error");
    } else {
      $("status-shown").textContent = "Generating… " + seconds + " s";
    }
  }

  function stop() { if (timer) { clearInterval(timer); timer = null; } }
  function follow(id) {
    stop();
    timer = setInterval(async () => {
      const res = await api("GET", "/generations/" + id).catch(() => null);
      if (res && res.status === 200) render(res.data);
    }, 1000);
  }

  $("prompt-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    stop(); current = null; say("", "info");
    placeholder("Generating…", false);
    const body = {model: Number($("model").value), prompt: $("prompt-input").value};
    const params = window.ArenaParams && window.ArenaParams.chosen();
    if (params) body.params = params;
    if (window.ArenaUpload) {  // upload.js: an image-editing arena edits the voter's upload
      const source = window.ArenaUpload.sourceId();
      if (!source) { say("Upload an image first, then describe the change.", "error"); box.hidden = true; return; }
      body.source_image = source;
    }
    $("generate-btn").disabled = true;
    try {
      const res = await api("POST", "/arenas/" + slug + "/generations", body);
      if (res.status !== 201) { say(errorText(res), "error"); box.hidden = true; return; }
      started = Date.now();
      history.replaceState(null, "", "?generation=" + res.data.id);
      render(res.data);
      if (["pending", "generating"].includes(res.data.status)) follow(res.data.id);
    } catch (e) {
      say("The network failed. Please try again.", "error");
    } finally {
      $("generate-btn").disabled = false;
    }
  });
  $("prompt-input").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); $("prompt-form").requestSubmit(); }
  });

  const resume = new URLSearchParams(location.search).get("generation");
  if (resume) {
    started = Date.now();
    api("GET", "/generations/" + resume).then((res) => {
      if (res.status === 200 && res.data.arena === slug) { render(res.data); if (["pending", "generating"].includes(res.data.status)) follow(resume); }
    });
  }
})();
