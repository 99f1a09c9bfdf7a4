// Per-battle parameters (issue 11): a chooser built from the arena's offered `params`
// (GET /api/arenas), and each battle's frames shaped to its aspect ratio (no letterboxing).
(function () {
  "use strict";
  const app = document.getElementById("battle-app");
  if (!app) return;
  const bar = document.getElementById("params-bar");
  const LABELS = {aspect_ratio: "Aspect ratio", resolution: "Resolution", duration_s: "Duration"};
  const offered = {};

  function valueText(name, value) { return name === "duration_s" ? value + " s" : String(value); }

  function build(params) {
    bar.textContent = "";
    for (const [name, values] of Object.entries(params || {})) {
      offered[name] = values;
      const label = document.createElement("label");
      label.className = "param";
      const caption = document.createElement("span");
      caption.textContent = LABELS[name] || name;
      const select = document.createElement("select");
      select.dataset.param = name;
      select.id = "param-" + name;
      values.forEach((value, i) => {
        const option = document.createElement("option");
        option.value = String(i); option.textContent = valueText(name, value);
        select.appendChild(option);
      });
      label.appendChild(caption); label.appendChild(select);
      bar.appendChild(label);
    }
    bar.hidden = !Object.keys(offered).length;
  }

  // The values chosen in the bar, typed as offered (numbers stay numbers); null: none offered.
  function chosen() {
    const names = Object.keys(offered);
    if (!names.length) return null;
    const out = {};
    for (const name of names) {
      const select = document.getElementById("param-" + name);
      out[name] = offered[name][Number(select ? select.value : 0)];
    }
    return out;
  }

  // "9:16" → "9 / 16"; without a chosen ratio, the arena's own width and height.
  function ratioOf(state) {
    const text = state && state.params && state.params.aspect_ratio;
    const m = typeof text === "string" && text.match(/^(\d+):(\d+)$/);
    if (m) return [Number(m[1]), Number(m[2])];
    return [Number(app.dataset.width) || 1, Number(app.dataset.height) || 1];
  }

  function shape(state) {
    const [w, h] = ratioOf(state);
    document.querySelectorAll("#battle .frame").forEach((frame) => {
      frame.classList.add("sized");
      frame.style.setProperty("--ratio", String(w / h));
    });
    const shown = document.getElementById("params-shown");
    if (shown) {
      const parts = Object.entries((state && state.params) || {}).map(([k, v]) => valueText(k, v));
      shown.textContent = parts.length ? " · " + parts.join(" · ") : "";
    }
  }

  app.addEventListener("arena:state", (ev) => shape(ev.detail));
  window.ArenaParams = {chosen};
  if (bar) {
    fetch("/api/arenas", {credentials: "same-origin"}).then((r) => r.json()).then((arenas) => {
      const mine = (arenas || []).find((a) => a.slug === app.dataset.arena);
      build(mine && mine.params);
    }).catch(() => { bar.hidden = true; });
  }
})();
