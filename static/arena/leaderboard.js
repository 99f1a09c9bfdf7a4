// Live leaderboard: when the server says a new snapshot landed, fetch the server-rendered
// board (table and charts) for this category and swap it in.
(function () {
  "use strict";
  const box = document.getElementById("board-live");
  if (!box) return;
  const slug = box.dataset.arena, category = box.dataset.category || "";
  let pending = false;
  // Narrow screens show rank, model, rating and votes; the rest waits behind a toggle.
  const ESSENTIAL = /^(rank|model|rating|votes)$/i;
  function markColumns() {
    box.querySelectorAll("table.board").forEach((table) => {
      const secondary = Array.from(table.querySelectorAll("thead th")).map((th) => !ESSENTIAL.test(th.textContent.trim()));
      table.querySelectorAll("tr").forEach((tr) => {
        Array.from(tr.children).forEach((cell, i) => {
          if (secondary[i] && !cell.hasAttribute("colspan")) cell.classList.add("secondary");
        });
      });
    });
  }
  const toggle = document.getElementById("columns-toggle");
  if (toggle) {
    toggle.addEventListener("click", () => {
      const all = box.classList.toggle("all-columns");
      toggle.setAttribute("aria-pressed", String(all));
      toggle.textContent = all ? "Show fewer columns" : "Show all columns";
    });
  }
  markColumns();
  async function refresh() {
    if (pending) return;
    pending = true;
    try {
      const url = location.pathname + "?fragment=1" + (category ? "&category=" + encodeURIComponent(category) : "");
      const res = await fetch(url, {credentials: "same-origin"});
      if (res.ok) { box.innerHTML = await res.text(); markColumns(); }
    } finally { pending = false; }
  }
  function connect(delay) {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(scheme + location.host + "/ws/arenas/" + slug + "/leaderboard/");
    ws.onmessage = (ev) => {
      const msg = JSON.parse(ev.data);
      if (msg.type === "leaderboard" && (msg.board.categories || [""]).includes(category)) refresh();
    };
    ws.onopen = () => { delay = 1000; };
    ws.onclose = () => setTimeout(() => connect(Math.min(delay * 2, 30000)), delay);
  }
  connect(1000);
})();
