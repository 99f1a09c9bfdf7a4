// Live leaderboard: replace the table body when the server pushes a new board.
(function () {
  "use strict";
  const table = document.getElementById("board");
  if (!table) return;
  const slug = table.dataset.arena;
  function cell(text, cls) { const td = document.createElement("td"); td.textContent = text; if (cls) td.className = cls; return td; }
  function draw(board) {
    const body = table.tBodies[0];
    body.textContent = "";
    for (const row of board.rows) {
      const tr = document.createElement("tr");
      tr.appendChild(cell(row.rank));
      const name = cell(row.model);
      if (row.demo) { const t = document.createElement("span"); t.className = "tag"; t.textContent = "demo"; name.append(" ", t); }
      tr.appendChild(name);
      tr.appendChild(cell(row.organization));
      tr.appendChild(cell(row.rating.toFixed(1), "num"));
      tr.appendChild(cell(row.votes, "num"));
      tr.appendChild(cell(row.win_rate == null ? "–" : Math.round(row.win_rate * 100) + "%", "num"));
      body.appendChild(tr);
    }
    document.getElementById("lb-votes").textContent = board.votes;
  }
  function connect(delay) {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(scheme + location.host + "/ws/arenas/" + slug + "/leaderboard/");
    ws.onmessage = (ev) => { const msg = JSON.parse(ev.data); if (msg.type === "leaderboard") draw(msg.board); };
    ws.onclose = () => setTimeout(() => connect(Math.min((delay || 1000) * 2, 30000)), delay || 1000);
  }
  connect(1000);
})();
