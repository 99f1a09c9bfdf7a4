// Live leaderboard: when the server says a new snapshot landed, fetch the server-rendered
// board (table and charts) for this category and swap it in.
(function () {
  "use strict";
  const box = document.getElementById("board-live");
  if (!box) return;
  const slug = box.dataset.arena, category = box.dataset.category || "";
  let pending = false;
  async function refresh() {
    if (pending) return;
    pending = true;
    try {
      const url = location.pathname + "?fragment=1" + (category ? "&category=" + encodeURIComponent(category) : "");
      const res = await fetch(url, {credentials: "same-origin"});
      if (res.ok) box.innerHTML = await res.text();
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
