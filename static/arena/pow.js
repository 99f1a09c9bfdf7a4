// Proof of work for a new voter (ALTCHA v1, self-hosted, no third party): GET /api/challenge,
// find the n in [0, maxnumber] whose SHA-256(salt + n) equals the challenge, POST it back.
// Runs once per voter id, in the background from page load; battle.js waits for it before the
// first vote. WebCrypto does the hashing; a small pure-JS SHA-256 covers pages served over plain
// http on a non-local address, where browsers hide crypto.subtle.
(function () {
  "use strict";
  const BATCH = 512;
  const encoder = new TextEncoder();

  function csrf() {
    const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  function hexToBytes(hex) {
    const out = new Uint8Array(hex.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
    return out;
  }

  function same(a, b) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  // FIPS 180-4 SHA-256, used only without WebCrypto.
  const K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]);
  function sha256(bytes) {
    const len = bytes.length, total = ((len + 9 + 63) >> 6) << 6;
    const msg = new Uint8Array(total);
    msg.set(bytes); msg[len] = 0x80;
    const view = new DataView(msg.buffer);
    view.setUint32(total - 4, len * 8);
    view.setUint32(total - 8, Math.floor(len / 0x20000000));
    const h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
      0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
    const w = new Uint32Array(64);
    const rotr = (x, n) => (x >>> n) | (x << (32 - n));
    for (let off = 0; off < total; off += 64) {
      for (let i = 0; i < 16; i++) w[i] = view.getUint32(off + i * 4);
      for (let i = 16; i < 64; i++) {
        const s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >>> 3);
        const s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >>> 10);
        w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
      }
      let [a, b, c, d, e, f, g, k] = h;
      for (let i = 0; i < 64; i++) {
        const t1 = (k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i]) | 0;
        const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
        k = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
      }
      h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += k;
    }
    const out = new Uint8Array(32);
    const outView = new DataView(out.buffer);
    for (let i = 0; i < 8; i++) outView.setUint32(i * 4, h[i]);
    return out;
  }

  async function solve(ch) {
    const target = hexToBytes(ch.challenge);
    const subtle = window.crypto && window.crypto.subtle;
    for (let start = 0; start <= ch.maxnumber; start += BATCH) {
      const end = Math.min(start + BATCH - 1, ch.maxnumber);
      if (subtle) {
        const jobs = [];
        for (let n = start; n <= end; n++) jobs.push(subtle.digest("SHA-256", encoder.encode(ch.salt + n)));
        const digests = await Promise.all(jobs);
        for (let i = 0; i < digests.length; i++) {
          if (same(new Uint8Array(digests[i]), target)) return start + i;
        }
      } else {
        for (let n = start; n <= end; n++) {
          if (same(sha256(encoder.encode(ch.salt + n)), target)) return n;
        }
        await new Promise((r) => setTimeout(r, 0));  // let the page breathe between batches
      }
    }
    return null;
  }

  async function verify() {
    for (let attempt = 0; attempt < 3; attempt++) {
      const res = await fetch("/api/challenge", {credentials: "same-origin"});
      if (!res.ok) { await new Promise((r) => setTimeout(r, 1000 * (attempt + 1))); continue; }
      const ch = await res.json();
      if (ch.verified) return true;
      const number = await solve(ch);
      if (number === null) continue;
      const post = await fetch("/api/challenge", {
        method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", "X-CSRFToken": csrf()},
        body: JSON.stringify({algorithm: ch.algorithm, challenge: ch.challenge, number,
          salt: ch.salt, signature: ch.signature}),
      });
      if (post.ok) return true;
    }
    return false;
  }

  let pending = null;
  window.ArenaPow = {
    // Resolves true once this voter is verified (at once when already, or when switched off).
    ready() {
      if (!pending) {
        pending = verify().catch(() => false).then((ok) => {
          window.ArenaPow.done = ok;
          if (!ok) pending = null;
          return ok;
        });
      }
      return pending;
    },
    // After a 428: the server no longer knows this voter as verified; check again.
    reset() { pending = null; window.ArenaPow.done = false; },
    done: false,
  };
  window.ArenaPow.ready();
})();
