// The battle page: start a battle through the JSON API, follow it over the WebSocket
// (polling if the socket cannot open), vote, then reveal. All text goes in via textContent.
(function () {
  "use strict";
  const app = document.getElementById("battle-app");
  if (!app) return;
  const slug = app.dataset.arena;
  const $ = (id) => document.getElementById(id);
  const form = $("prompt-form"), input = $("prompt-input"), message = $("message");
  const battleBox = $("battle"), voteButtons = Array.from(document.querySelectorAll(".vote"));
  let current = null, socket = null, pollTimer = null, voteKey = null, voting = false;

  function csrf() {
    const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  function say(text, kind) {
    message.hidden = !text;
    message.textContent = text || "";
    message.className = "message " + (kind || "error");
  }
  async function api(method, path, body, headers) {
    const res = await fetch("/api" + path, {
      method, credentials: "same-origin",
      headers: Object.assign({"Content-Type": "application/json", "X-CSRFToken": csrf()}, headers || {}),
      body: body ? JSON.stringify(body) : undefined,
    });
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    return {status: res.status, data};
  }
  function errorText(res) {
    return (res.data && res.data.error && res.data.error.message) || "Something went wrong (" + res.status + "). Please try again.";
  }

  function renderPanel(panel, output, modality, battleOver) {
    const frame = panel.querySelector(".frame");
    const shownUrl = frame.dataset.url || "";
    if (output.url && output.url !== shownUrl) {
      frame.textContent = "";
      let el;
      if (modality === "video") {
        el = document.createElement("video");  // one shared control drives both (video-sync.js)
        el.loop = true; el.muted = true; el.playsInline = true; el.preload = "auto";
        el.setAttribute("aria-label", "Output of model " + output.label);
        if (output.poster) el.poster = output.poster;
      } else {
        el = document.createElement("img");
        el.alt = "Output of model " + output.label;
      }
      el.src = output.url;
      el.className = "output";
      frame.appendChild(el);
      frame.dataset.url = output.url;
    } else if (output.text && !frame.dataset.text) {
      frame.textContent = "";
      const p = document.createElement("div");
      p.className = "output-text"; p.textContent = output.text;
      frame.appendChild(p); frame.dataset.text = "1";
    } else if (!output.url && !output.text) {
      // A side of a failed battle is never shown (the "together" policy keeps it hidden).
      const failed = output.status === "failed", over = battleOver && !failed;
      const ph = frame.querySelector(".ph-text");
      if (ph) ph.textContent = failed ? "Could not generate" : over ? "Not shown: the battle ended" : "Generating…";
      frame.classList.toggle("failed", failed);
      frame.classList.toggle("stopped", over);
    }
  }

  function render(state) {
    if (current && state.id !== current.id) return;
    current = state;
    battleBox.hidden = false;
    app.dispatchEvent(new CustomEvent("arena:state", {detail: state}));  // params.js, video-sync.js
    $("prompt-shown").textContent = state.prompt;
    if (state.models) {  // a named side-by-side battle: the names show from the start
      for (const side of ["left", "right"]) {
        const title = document.querySelector('.panel[data-side="' + side + '"] .panel-title');
        title.textContent = (side === "left" ? "A: " : "B: ") + state.models[side].name;
      }
    }
    for (const output of state.outputs) {
      renderPanel(document.querySelector('.panel[data-side="' + output.side + '"]'), output, state.modality,
                  ["failed", "abandoned"].includes(state.status));
    }
    const canVote = state.status === "ready" && !voting;
    voteButtons.forEach((b) => { b.disabled = !canVote; });
    $("vote-bar").hidden = state.status === "voted" || state.status === "failed";
    if (["pending", "generating"].includes(state.status)) clock.start(state.id);
    else clock.stop();
    if (state.status === "failed" || state.status === "abandoned") {
      say(state.failure || "This battle failed. Nothing was counted.", "error");
      showAfter("This battle could not be completed, so there is nothing to vote on. Start a new one?");
      stopFollowing();
      $("new-btn").focus();
    } else if (state.status === "voted" && state.reveal) {
      reveal(state.reveal, state.vote && state.vote.choice);
      showCounted(state.vote);
      stopFollowing();
    } else if (state.status === "ready") {
      say("Both outputs are ready: which one is better?", "info");
    }
  }

  // Whether the vote counted, told to this voter only (the share page never says).
  function showCounted(vote) {
    const box = $("counted");
    if (!vote || vote.counted === undefined) { box.hidden = true; return; }
    box.hidden = false;
    if (app.dataset.mode === "side_by_side" || (current && current.mode === "side_by_side")) {
      box.className = "counted named";  // expected, not a rule broken: said plainly, not as an error
      box.textContent = "Your vote was kept. It does not count: " + (vote.not_counted_reason || "side-by-side votes never count") + ".";
      return;
    }
    box.className = "counted " + (vote.counted ? "yes" : "no");
    box.textContent = vote.counted
      ? "✓ Your vote counts toward the leaderboard."
      : "✗ Your vote was kept but does not count: " + (vote.not_counted_reason || "it broke one of the arena's rules") + ".";
  }

  function reveal(models, choice) {
    for (const side of ["left", "right"]) {
      const box = document.querySelector('.panel[data-side="' + side + '"] .reveal');
      const m = models[side];
      box.textContent = "";
      const name = document.createElement("strong"); name.className = "model-name"; name.textContent = m.name;
      const org = document.createElement("span"); org.className = "model-org"; org.textContent = m.organization || "";
      box.appendChild(name); box.appendChild(org);
      if (m.demo) { const t = document.createElement("span"); t.className = "tag"; t.textContent = "demo"; box.appendChild(t); }
      box.hidden = false;
      box.closest(".panel").classList.toggle("winner", choice === side);
    }
    const words = {left: "You preferred Model A.", right: "You preferred Model B.", tie: "You called it a tie.", both_bad: "You found both bad."};
    say("", "info");
    showAfter((words[choice] || "Vote recorded.") + " Here are the two models.");
    share.offer(current && current.id);
    $("new-btn").focus();
  }

  function showAfter(text) {
    $("after").hidden = false;
    $("after-text").textContent = text;
  }

  function stopFollowing() {
    if (socket) { socket.onclose = null; socket.close(); socket = null; }
    if (pollTimer) { clearInterval(pollTimer); pollTimer = null; }
  }

  function poll(id) {
    if (pollTimer) return;
    pollTimer = setInterval(async () => {
      const res = await api("GET", "/battles/" + id);
      if (res.status === 200) render(res.data);
    }, 1500);
  }

  function follow(id) {
    stopFollowing();
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    try {
      socket = new WebSocket(scheme + location.host + "/ws/battles/" + id + "/");
    } catch (e) { poll(id); return; }
    socket.onmessage = (ev) => {
      const msg = JSON.parse(ev.data);
      if (msg.type === "battle") render(msg.state);
    };
    socket.onclose = () => { socket = null; if (current && ["pending", "generating", "ready"].includes(current.status)) poll(id); };
  }

  function reset() {
    stopFollowing();
    current = null; voteKey = null; voting = false;
    say("", "info");
    $("after").hidden = true;
    $("counted").hidden = true;
    clock.stop();
    share.hide();
    document.querySelectorAll(".panel").forEach((panel) => {
      panel.classList.remove("winner");
      const frame = panel.querySelector(".frame");
      delete frame.dataset.url; delete frame.dataset.text;
      frame.classList.remove("failed", "stopped");
      frame.innerHTML = '<div class="placeholder"><span class="spinner" aria-hidden="true"></span><span class="ph-text">Generating…</span></div>';
      const r = panel.querySelector(".reveal"); r.hidden = true; r.textContent = "";
      panel.querySelector(".panel-title").textContent = panel.dataset.side === "left" ? "Model A" : "Model B";
    });
  }

  async function start(body) {
    reset();
    const params = window.ArenaParams && window.ArenaParams.chosen();  // params.js
    if (params) body = Object.assign({}, body, {params});
    if (window.ArenaUpload) {  // upload.js: image-editing arenas edit the voter's upload
      const source = window.ArenaUpload.sourceId();
      if (!source) { say("Upload an image first, then describe the change.", "error"); return; }
      body = Object.assign({}, body, {source_image: source});
    }
    if (app.dataset.mode === "side_by_side") {  // the two models the voter picked, A then B
      body = Object.assign({}, body, {mode: "side_by_side", models: [Number($("model-a").value), Number($("model-b").value)]});
    }
    const buttons = [$("generate-btn"), $("random-btn")];
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const res = await api("POST", "/arenas/" + slug + "/battles", body);
      if (res.status !== 201) { say(errorText(res), "error"); return; }
      history.replaceState(null, "", "?battle=" + res.data.id);
      render(res.data);
      follow(res.data.id);
      battleBox.scrollIntoView({behavior: "smooth", block: "start"});
    } catch (e) {
      say("The network failed. Please try again.", "error");
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  }

  async function vote(choice) {
    if (!current || voting) return;
    voting = true;
    voteButtons.forEach((b) => { b.disabled = true; });
    voteKey = voteKey || (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random());
    let proven = false;
    for (let attempt = 0; attempt < 4; attempt++) {
      if (window.ArenaPow && !window.ArenaPow.done) {  // a new voter's one-time proof of work (pow.js)
        say("One moment: your browser is doing a one-time check…", "info");
        await window.ArenaPow.ready();
      }
      let res;
      try { res = await api("POST", "/battles/" + current.id + "/vote", {choice}, {"Idempotency-Key": voteKey}); }
      catch (e) { res = {status: 0, data: null}; }
      if (res.status === 428 && window.ArenaPow && !proven) { proven = true; window.ArenaPow.reset(); attempt--; continue; }
      if (res.status === 200) {
        current.status = "voted";
        $("vote-bar").hidden = true;
        reveal({left: res.data.left, right: res.data.right}, res.data.choice);
        showCounted(res.data);
        stopFollowing();
        return;
      }
      if (res.status !== 0 && res.status !== 503) { say(errorText(res), "error"); voting = false; render(current); return; }
      await new Promise((r) => setTimeout(r, 1000 * (attempt + 1)));
    }
    say("Your vote could not be sent. Please try again.", "error");
    voting = false; render(current);
  }

  // Sharing is the voter's explicit choice, offered only after the vote: the link shows the
  // prompt, both outputs and the names to anyone who has it, until the voter revokes it.
  const share = {
    id: null,
    offer(id) {
      this.id = id || null;
      $("share").hidden = !this.id;
      $("share-btn").hidden = false; $("share-hint").hidden = false; $("share-link").hidden = true;
    },
    hide() { this.id = null; $("share").hidden = true; },
    show(url) {
      $("share-url").value = location.origin + url;
      $("share-btn").hidden = true; $("share-hint").hidden = true; $("share-link").hidden = false;
    },
    async create() {
      if (!this.id) return;
      $("share-btn").disabled = true;
      try {
        const res = await api("POST", "/battles/" + this.id + "/share");
        if (res.status === 200 || res.status === 201) this.show(res.data.url);
        else say(errorText(res), "error");
      } catch (e) { say("The network failed. Please try again.", "error"); }
      finally { $("share-btn").disabled = false; }
    },
    async copy() {
      const field = $("share-url");
      try { await navigator.clipboard.writeText(field.value); }
      catch (e) { field.select(); document.execCommand("copy"); }
      $("share-copy").textContent = "Copied";
      setTimeout(() => { $("share-copy").textContent = "Copy"; }, 1500);
    },
    async revoke() {
      if (!this.id) return;
      const res = await api("DELETE", "/battles/" + this.id + "/share");
      if (res.status === 204) { this.offer(this.id); say("The link no longer works.", "info"); }
      else say(errorText(res), "error");
    },
  };
  $("share-btn").addEventListener("click", () => share.create());
  $("share-copy").addEventListener("click", () => share.copy());
  $("share-revoke").addEventListener("click", () => share.revoke());

  // Slow generation: the elapsed time, a hint after 10 s, and past the arena's timeout a
  // battle that says it expired and offers a new one instead of a spinner that never ends.
  const timeoutS = Number(app.dataset.timeout) || 210;  // the arena's timeout + the sweeper's grace
  const clock = {
    id: null, started: 0, timer: null,
    start(id) {
      if (this.id === id && this.timer) return;
      this.stop();
      this.id = id; this.started = Date.now();
      $("wait").hidden = false; $("wait-hint").textContent = "";
      this.tick();
      this.timer = setInterval(() => this.tick(), 1000);
    },
    stop() {
      if (this.timer) clearInterval(this.timer);
      this.timer = null; this.id = null;
      $("wait").hidden = true;
    },
    tick() {
      const s = Math.floor((Date.now() - this.started) / 1000);
      $("elapsed").textContent = "Generating… " + s + " s";
      if (s >= 10 && !$("wait-hint").textContent) {
        $("wait-hint").textContent = "Some models take a minute or more. You can keep waiting, or start a new battle: this one ends by itself after " + timeoutS + " s.";
      }
      if (s >= timeoutS) this.expire();
    },
    async expire() {
      const id = this.id;
      this.stop();
      const res = await api("GET", "/battles/" + id).catch(() => null);
      if (res && res.status === 200 && !["pending", "generating"].includes(res.data.status)) { render(res.data); return; }
      if (!current || current.id !== id) return;
      stopFollowing();
      say("This battle expired: a model did not answer in time. Nothing was counted.", "error");
      document.querySelectorAll(".frame:not([data-url])").forEach((frame) => {
        frame.classList.add("stopped");
        const ph = frame.querySelector(".ph-text");
        if (ph) ph.textContent = "Not shown: the battle ended";
      });
      showAfter("Start a new battle?");
      $("vote-bar").hidden = true;
      $("new-btn").focus();
    },
  };

  // Keyboard: A / B / T / N vote once both outputs are shown; Enter starts a new battle after.
  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || ev.repeat) return;
    const tag = (ev.target && ev.target.tagName) || "";
    if (["INPUT", "TEXTAREA", "SELECT"].includes(tag) || (ev.target && ev.target.isContentEditable)) return;
    const key = ev.key.toLowerCase();
    const button = voteButtons.find((b) => b.dataset.key === key);
    if (button && !button.disabled && !$("vote-bar").hidden) { ev.preventDefault(); button.click(); return; }
    if (key === "enter" && !$("after").hidden && tag !== "BUTTON" && tag !== "A") { ev.preventDefault(); $("new-btn").click(); }
  });

  form.addEventListener("submit", (ev) => { ev.preventDefault(); start({prompt: input.value}); });
  input.addEventListener("keydown", (ev) => { if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); form.requestSubmit(); } });
  $("random-btn").addEventListener("click", () => start({random_prompt: true}));
  $("new-btn").addEventListener("click", () => { reset(); battleBox.hidden = true; history.replaceState(null, "", location.pathname); input.focus(); });
  voteButtons.forEach((b) => b.addEventListener("click", () => vote(b.dataset.choice)));

  const resume = new URLSearchParams(location.search).get("battle");
  if (resume) {
    api("GET", "/battles/" + resume).then((res) => {
      if (res.status === 200 && res.data.arena === slug) { render(res.data); if (!["voted", "failed"].includes(res.data.status)) follow(resume); }
    });
  }
})();
