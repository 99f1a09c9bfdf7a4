// Image-editing arenas: upload the source image (POST /api/uploads, multipart field "image"),
// preview the stored, stripped copy (/u/<id>, private to this voter), and hand its id to
// battle.js or playground.js as "source_image". All text goes in via textContent.
(function () {
  "use strict";
  const input = document.getElementById("upload-input");
  if (!input) return;
  const preview = document.getElementById("upload-preview");
  const img = document.getElementById("upload-img");
  const caption = document.getElementById("upload-caption");
  const app = document.getElementById("battle-app");
  let sourceId = null;

  function csrf() {
    const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  function say(text, kind) {
    const message = document.getElementById("message");  // below this control in the page
    message.hidden = !text;
    message.textContent = text || "";
    message.className = "message " + (kind || "error");
  }

  input.addEventListener("change", async () => {
    sourceId = null;
    preview.hidden = true;
    const file = input.files && input.files[0];
    if (!file) return;
    const form = new FormData();
    form.append("image", file);
    caption.textContent = "Uploading…";
    try {
      const res = await fetch("/api/uploads", {
        method: "POST", credentials: "same-origin", headers: {"X-CSRFToken": csrf()}, body: form,
      });
      let data = null;
      try { data = await res.json(); } catch (e) { data = null; }
      if (res.status !== 201) {
        say((data && data.error && data.error.message) || "The upload failed (" + res.status + ").", "error");
        input.value = "";
        return;
      }
      sourceId = data.id;
      // The edits keep the source's framing: params.js shapes the frames from these.
      app.dataset.width = String(data.width); app.dataset.height = String(data.height);
      img.src = data.url;
      caption.textContent = data.width + "×" + data.height + " — now describe the change";
      preview.hidden = false;
      say("", "");
      document.getElementById("prompt-input").focus();
    } catch (e) {
      say("The network failed while uploading. Please try again.", "error");
    }
  });

  // A battle (or generation) opened again (?battle=... / ?generation=...) shows the picture it edits, and its frames take the
  // picture's shape once it has loaded; "New battle" edits the same picture again.
  app.addEventListener("arena:state", (ev) => {
    const state = ev.detail || {};
    if (!state.source_image || img.getAttribute("src") === state.source_image) return;
    img.onload = () => {
      app.dataset.width = String(img.naturalWidth); app.dataset.height = String(img.naturalHeight);
      document.querySelectorAll("#battle .frame").forEach((frame) => {
        frame.style.setProperty("--ratio", String(img.naturalWidth / img.naturalHeight));
      });
      const who = app.dataset.mode === "playground" ? "the model" : "both models";
      caption.textContent = img.naturalWidth + "×" + img.naturalHeight + " — the picture " + who + " edited";
      img.onload = null;
    };
    img.src = state.source_image;
    sourceId = state.source_image.replace(/^\/u\//, "");
    preview.hidden = false;
  });

  window.ArenaUpload = {
    // The id to send as source_image, or null (battle.js then asks for an upload first).
    sourceId: () => sourceId,
  };
})();
