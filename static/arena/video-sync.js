// Video battles (issue 11): the two clips play as one. A single play/pause, seek and loop
// control drives both players; the right one follows the left within a frame or two. Each
// clip shows its first frame (its poster) until both can play, so neither starts first.
(function () {
  "use strict";
  const app = document.getElementById("battle-app");
  if (!app || app.dataset.modality !== "video") return;
  const bar = document.getElementById("video-controls");
  const playBtn = document.getElementById("video-play");
  const seek = document.getElementById("video-seek");
  const loop = document.getElementById("video-loop");
  const clock = document.getElementById("video-time");
  let videos = [], seeking = false, raf = 0;

  const lead = () => videos[0];
  const fmt = (s) => (Math.round((s || 0) * 10) / 10).toFixed(1);
  const ready = () => videos.length === 2 && videos.every((v) => v.readyState >= 2);

  function tick() {
    const v = lead();
    if (v) {
      if (!seeking) seek.value = String(v.currentTime);
      clock.textContent = fmt(v.currentTime) + " / " + fmt(v.duration) + " s";
      const other = videos[1];
      if (other && !other.seeking && !v.paused) {
        const drift = other.currentTime - v.currentTime;  // keep the follower on the leader
        if (Math.abs(drift) > 0.25) other.currentTime = v.currentTime;
        else other.playbackRate = Math.abs(drift) > 0.03 ? (drift > 0 ? 0.9 : 1.1) : 1;
      }
      if (other && v.paused !== other.paused) { if (v.paused) other.pause(); else other.play().catch(() => {}); }
      playBtn.textContent = v.paused ? "▶ Play" : "❚❚ Pause";
      playBtn.setAttribute("aria-pressed", String(!v.paused));
    }
    raf = requestAnimationFrame(tick);
  }

  function playBoth() { videos.forEach((v) => v.play().catch(() => {})); }
  function pauseBoth() { videos.forEach((v) => v.pause()); }
  function seekBoth(t) { videos.forEach((v) => { v.currentTime = t; }); }

  function arm() {
    if (!ready()) return;
    bar.hidden = false;
    const duration = Math.min(...videos.map((v) => v.duration || 0)) || 0;
    seek.max = String(duration); seek.step = "0.01";
    videos.forEach((v) => { v.loop = loop.checked; });
    seekBoth(0);
    playBoth();  // together, from the first frame
    if (!raf) raf = requestAnimationFrame(tick);
  }

  function attach(video) {
    if (videos.includes(video)) return;
    video.controls = false; video.autoplay = false; video.muted = true;
    video.playsInline = true; video.preload = "auto";
    video.addEventListener("loadeddata", arm);
    video.addEventListener("ended", () => { if (!loop.checked) pauseBoth(); });
    video.addEventListener("click", () => (lead().paused ? playBoth() : pauseBoth()));
    videos.push(video);
    videos.sort((a) => (a.closest(".panel").dataset.side === "left" ? -1 : 1));
    if (video.readyState >= 2) arm();
  }

  function forget() {
    videos = videos.filter((v) => v.isConnected);
    if (videos.length < 2) { bar.hidden = true; }
  }

  playBtn.addEventListener("click", () => (lead() && lead().paused ? playBoth() : pauseBoth()));
  seek.addEventListener("input", () => { seeking = true; seekBoth(Number(seek.value)); });
  seek.addEventListener("change", () => { seeking = false; });
  loop.addEventListener("change", () => videos.forEach((v) => { v.loop = loop.checked; }));

  // battle.js draws the players; pick them up as they appear and drop them on a new battle
  new MutationObserver(() => {
    forget();
    document.querySelectorAll("#battle .panel video.output").forEach(attach);
  }).observe(document.getElementById("battle"), {childList: true, subtree: true});
  window.ArenaVideo = {videos: () => videos.slice(), play: playBoth, pause: pauseBoth, seek: seekBoth};
})();
