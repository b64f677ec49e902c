// audiostore web page: plain JS over the public HTTP API (no build step of its own).
// The API key lives in sessionStorage; the <audio> element plays signed URLs, since a
// media element cannot send an Authorization header. Large files go by tus with
// tus-js-client (tus.min.js, vendored from npm by webclient/), which remembers each
// unfinished upload in localStorage: choosing the same file after a reload resumes it.
"use strict";

const KEY_STORAGE = "audiostore.key";
const PAGE_SIZE = 20;
// seconds a signed URL asked for here lives (`/?url_lifetime=S` to change it)
const URL_LIFETIME = Number(new URLSearchParams(location.search).get("url_lifetime")) || 3600;
const URL_REFRESH_MARGIN = 120;   // re-sign this long before a cached URL expires
const UPLOAD_ATTEMPTS = 3;        // an upload retried on network errors and 502/503/504
// Files larger than this go as resumable tus uploads (/v1/uploads), in PATCHes of
// TUS_CHUNK_BYTES: a reload or a dropped connection loses at most one chunk. As the SDK's.
const TUS_THRESHOLD = 8 * 1024 * 1024;
const TUS_CHUNK_BYTES = 4 * 1024 * 1024;
const TUS_RETRY_DELAYS = [0, 1000, 3000, 5000];   // ms; tus-js-client resumes from a HEAD
const TUS_FINGERPRINT_PREFIX = "audiostore";
// Waveform points are asked for in steps of this many device pixels, so one object keeps a
// handful of cached peak files (one per step) rather than one per window width.
const WAVEFORM_PIXEL_STEP = 256;
const WAVE_HEIGHT = 96;           // CSS px, as in style.css

const $ = (sel) => document.querySelector(sel);
const state = { key: null, q: "", cursors: [null], page: 0, nextCursor: null, playing: null,
                waveform: null, waveformFor: null, items: new Map() };
const signedUrls = new Map();     // id -> {url, expiresAt (ms)}

// --- API -----------------------------------------------------------------------------
class ApiError extends Error {
  constructor(status, code, message) { super(`${code}: ${message}`); this.status = status; this.code = code; }
}

async function api(method, path, { json, query } = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query || {})) if (v !== null && v !== undefined && v !== "") url.searchParams.set(k, v);
  const headers = { Authorization: `Bearer ${state.key}` };
  if (json !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(url, { method, headers, body: json === undefined ? undefined : JSON.stringify(json) });
  if (r.status === 204) return null;
  const body = await r.json().catch(() => null);
  if (!r.ok) {
    const err = (body && body.error) || { code: "http_error", message: r.statusText };
    if (r.status === 401 && state.key) signOut(`Signed out: ${err.message}`);
    throw new ApiError(r.status, err.code, err.message);
  }
  return body;
}

async function signedUrl(id) {
  const hit = signedUrls.get(id);
  if (hit && hit.expiresAt - Date.now() > URL_REFRESH_MARGIN * 1000) return hit;
  const s = await api("POST", `/v1/audio/${id}/url`, { json: { expires_in: URL_LIFETIME } });
  const fresh = { url: s.url, expiresAt: Date.parse(s.expires_at) };
  signedUrls.set(id, fresh);
  return fresh;
}

// --- sign in / out -------------------------------------------------------------------
async function signIn(key) {
  state.key = key;
  try {
    await api("GET", "/v1/audio", { query: { limit: 1 } });
  } catch (e) {
    state.key = null;
    $("#signin-error").textContent = e.status === 401 ? "That key was not accepted." : `Could not sign in: ${e.message}`;
    return;
  }
  sessionStorage.setItem(KEY_STORAGE, key);
  $("#signin-error").textContent = "";
  $("#signin").hidden = true;
  $("#library").hidden = false;
  $("#sign-out").hidden = false;
  $("#whoami").textContent = `key ${key.split("_")[1] || ""}…`;
  showUnfinished();
  await loadPage(0);
}

function signOut(message) {
  clearTimeout(refreshTimer);
  sessionStorage.removeItem(KEY_STORAGE);
  state.key = null;
  signedUrls.clear();
  $("#player").removeAttribute("src");
  $("#library").hidden = true;
  $("#signin").hidden = false;
  $("#sign-out").hidden = true;
  $("#whoami").textContent = "";
  $("#signin-error").textContent = message || "";
}

// --- library -------------------------------------------------------------------------
function humanSize(n) {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return i === 0 ? `${n} B` : `${n.toFixed(1)} ${units[i]}`;
}

// "in 23 h", "in 5 min", "never": how long an object has left; the full date is its title.
function expiresIn(expiresAt) {
  if (!expiresAt) return "never";
  const s = (Date.parse(expiresAt) - Date.now()) / 1000;
  if (s <= 0) return "expired";
  if (s < 90) return `in ${Math.round(s)} s`;
  if (s < 90 * 60) return `in ${Math.round(s / 60)} min`;
  if (s < 36 * 3600) return `in ${Math.round(s / 3600)} h`;
  return `in ${Math.round(s / 86400)} d`;
}

function clock(seconds) {
  if (!isFinite(seconds)) return "0:00";
  const m = Math.floor(seconds / 60), s = Math.floor(seconds % 60);
  return `${m}:${String(s).padStart(2, "0")}`;
}

function status(text, isError = false) {
  const el = $("#status");
  el.textContent = text;
  el.classList.toggle("error", isError);
}

async function loadPage(page) {
  const cursor = state.cursors[page];
  let data;
  try {
    data = await api("GET", "/v1/audio", { query: { limit: PAGE_SIZE, cursor, q: state.q } });
  } catch (e) {
    status(`Could not list audio: ${e.message}`, true);
    return;
  }
  state.page = page;
  state.nextCursor = data.next_cursor;
  state.cursors[page + 1] = data.next_cursor;
  state.items = new Map(data.items.map((o) => [o.id, o]));
  const tbody = $("#audio-list tbody");
  tbody.replaceChildren(...data.items.map(row));
  $("#empty").hidden = data.items.length > 0;
  $("#prev").disabled = page === 0;
  $("#next").disabled = !data.next_cursor;
  $("#page-info").textContent = `page ${page + 1}`;
}

// `label` names the column where the table is laid out as cards (narrow screens, style.css).
function cell(text, cls, label) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  if (label) td.dataset.label = label;
  return td;
}

function button(label, cls, onClick) {
  const b = document.createElement("button");
  b.textContent = label;
  b.className = cls;
  b.addEventListener("click", onClick);
  return b;
}

function row(o) {
  const tr = document.createElement("tr");
  tr.dataset.id = o.id;
  if (state.playing === o.id) tr.classList.add("playing");
  const expires = cell(expiresIn(o.expires_at), "expires", "expires");
  if (o.expires_at) expires.title = new Date(o.expires_at).toLocaleString();
  const made = new Date(o.created_at);
  const created = cell(made.toLocaleString(undefined, { dateStyle: "short", timeStyle: "short" }), "created", "created");
  created.title = made.toLocaleString();
  const name = cell(o.name, "name");
  name.title = o.name;
  tr.append(
    name, cell(o.collection, "collection"), cell(o.format, "format"),
    cell(clock(o.duration), "duration"), cell(humanSize(o.size), "size"),
    created, expires,
  );
  const actions = document.createElement("td");
  actions.className = "actions";
  actions.append(
    button("Play", "play", () => play(o)),
    button("Copy URL", "copy ghost", () => copyUrl(o)),
    button("Delete", "delete danger", () => remove(o)),
  );
  tr.append(actions);
  return tr;
}

// --- player and waveform -------------------------------------------------------------
async function play(o) {
  let signed;
  try {
    signed = await signedUrl(o.id);
  } catch (e) {
    status(`Could not play ${o.name}: ${e.message}`, true);
    return;
  }
  state.playing = o.id;
  document.querySelectorAll("#audio-list tr").forEach((tr) => tr.classList.toggle("playing", tr.dataset.id === o.id));
  $("#player-card").hidden = false;
  $("#now-playing").textContent = o.name;
  const audio = $("#player");
  audio.src = signed.url;
  audio.play().catch(() => {});   // a browser may want a gesture first; the controls remain
  scheduleUrlRefresh(o, signed);
  loadWaveform(o);
}

// A long listen outlives its signed URL: swap in a fresh one shortly before it expires,
// keeping the position, so later seeks (new Range requests) keep working.
let refreshTimer = null;
function scheduleUrlRefresh(o, signed) {
  clearTimeout(refreshTimer);
  const wait = Math.max(5000, signed.expiresAt - Date.now() - URL_REFRESH_MARGIN * 1000);
  refreshTimer = setTimeout(async () => {
    if (state.playing !== o.id) return;
    let fresh;
    try { fresh = await signedUrl(o.id); } catch { return; }
    const audio = $("#player");
    const at = audio.currentTime, wasPlaying = !audio.paused;
    audio.src = fresh.url;
    audio.addEventListener("loadedmetadata", () => {
      audio.currentTime = at;
      if (wasPlaying) audio.play().catch(() => {});
    }, { once: true });
    scheduleUrlRefresh(o, fresh);
  }, wait);
}

// Device pixels the waveform canvas has now (its CSS width times the screen's pixel ratio).
function canvasPixels() {
  const canvas = $("#waveform");
  return Math.max(1, Math.round((canvas.clientWidth || 600) * (window.devicePixelRatio || 1)));
}

// The waveform query that gives at least `pixels` points for this object, and not many more:
// peaks for a 27-minute file at the route's default scale are 300,000 points (1.7 MB).
function waveformQuery(o, pixels) {
  const want = Math.ceil(pixels / WAVEFORM_PIXEL_STEP) * WAVEFORM_PIXEL_STEP;
  if (o.sample_rate > 0 && o.duration > 0) {
    return { samples_per_pixel: Math.max(2, Math.floor((o.duration * o.sample_rate) / want)) };
  }
  if (o.duration > 0) return { pixels_per_second: Math.min(96000, Math.max(1, Math.ceil(want / o.duration))) };
  return {};
}

async function loadWaveform(o) {
  state.waveform = null;
  state.waveformFor = o;
  const note = $("#waveform-status");
  note.textContent = "Loading waveform…";
  drawWaveform();
  let peaks = null;
  try {
    peaks = await api("GET", `/v1/audio/${o.id}/waveform`, { query: waveformQuery(o, canvasPixels()) });
    note.textContent = "";
  } catch (e) {
    note.textContent = e.status === 404 ? "No waveform for this audio." : `Waveform unavailable (${e.code}).`;
  }
  if (state.waveformFor !== o) return;   // another track was chosen meanwhile
  state.waveform = peaks;
  drawWaveform();
}

// A canvas that grew past the points it has (a rotated phone, a wider window) asks again.
let resizeTimer = null;
function onResize() {
  drawWaveform();
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    const w = state.waveform, o = state.waveformFor;
    if (o && w && w.length < canvasPixels() && w.samples_per_pixel > 2) loadWaveform(o);
  }, 300);
}

// Drawn in device pixels, one column per pixel (min and max of the points it covers); the
// played part is drawn in the accent colour on a tinted ground, the rest in grey-blue.
function drawWaveform() {
  const canvas = $("#waveform");
  const ratio = window.devicePixelRatio || 1;
  const width = canvasPixels(), height = Math.round(WAVE_HEIGHT * ratio);
  if (canvas.width !== width) canvas.width = width;
  if (canvas.height !== height) canvas.height = height;
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, width, height);
  const audio = $("#player");
  const played = audio.duration > 0 ? Math.round((audio.currentTime / audio.duration) * width) : 0;
  canvas.dataset.playedPx = String(played);   // what the tests read beside the pixels
  if (played > 0) {
    ctx.fillStyle = "#e3ebfb";
    ctx.fillRect(0, 0, played, height);
  }
  const mid = height / 2;
  const w = state.waveform;
  const bar = (x, lo, hi) => {
    ctx.fillStyle = x < played ? "#3b6fd8" : "#c8d3e6";
    ctx.fillRect(x, mid - hi * mid, 1, Math.max(1, (hi - lo) * mid));
  };
  if (w && Array.isArray(w.data) && w.length > 0) {
    // audiowaveform v2: per point, [min, max] for each channel in turn; draw channel 0.
    const stride = 2 * (w.channels || 1);
    const scale = w.bits === 8 ? 128 : 32768;
    for (let x = 0; x < width; x++) {
      const from = Math.floor((x / width) * w.length);
      const to = Math.max(from + 1, Math.floor(((x + 1) / width) * w.length));
      let lo = 0, hi = 0;
      for (let i = from; i < Math.min(to, w.length); i++) {
        lo = Math.min(lo, w.data[i * stride]);
        hi = Math.max(hi, w.data[i * stride + 1]);
      }
      bar(x, lo / scale, hi / scale);
    }
  } else {
    for (let x = 0; x < width; x++) bar(x, -1 / mid, 1 / mid);
  }
  if (played > 0) {
    ctx.fillStyle = "#1d2433";
    ctx.fillRect(Math.min(played, width - 1), 0, Math.max(1, Math.round(ratio)), height);
  }
}

// While playing, redraw each frame so the shading moves smoothly (timeupdate is ~4 a second).
function animateWhilePlaying() {
  const audio = $("#player");
  drawWaveform();
  if (!audio.paused && !audio.ended) requestAnimationFrame(animateWhilePlaying);
}

function seekTo(fraction) {
  const audio = $("#player");
  if (audio.duration > 0) audio.currentTime = Math.max(0, Math.min(1, fraction)) * audio.duration;
}

// --- share, delete -------------------------------------------------------------------
async function copyUrl(o) {
  let signed;
  try {
    signed = await signedUrl(o.id);
  } catch (e) {
    status(`Could not sign ${o.name}: ${e.message}`, true);
    return;
  }
  $("#share").hidden = false;
  const input = $("#signed-url");
  input.value = signed.url;
  $("#signed-url-expiry").textContent = `(valid until ${new Date(signed.expiresAt).toLocaleString()})`;
  input.select();
  try {
    await navigator.clipboard.writeText(signed.url);
    status(`Signed URL for ${o.name} copied.`);
  } catch {
    status("Signed URL ready below: copy it with Ctrl+C.");
  }
}

async function remove(o) {
  if (!confirm(`Delete "${o.name}"? This cannot be undone.`)) return;
  try {
    await api("DELETE", `/v1/audio/${o.id}`);
  } catch (e) {
    status(`Could not delete ${o.name}: ${e.message}`, true);
    return;
  }
  signedUrls.delete(o.id);
  if (state.playing === o.id) {
    clearTimeout(refreshTimer);
    $("#player").removeAttribute("src");
    $("#player-card").hidden = true;
    state.playing = null;
    state.waveformFor = null;
  }
  status(`Deleted ${o.name}.`);
  await loadPage(state.page);
}

// --- uploads -------------------------------------------------------------------------
function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

function uploadOnce(file, collection, idempotencyKey, onProgress) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/v1/audio");
    xhr.setRequestHeader("Authorization", `Bearer ${state.key}`);
    xhr.setRequestHeader("Idempotency-Key", idempotencyKey);
    xhr.upload.addEventListener("progress", (ev) => { if (ev.lengthComputable) onProgress(ev.loaded, ev.total, true); });
    xhr.addEventListener("load", () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch {}
      resolve({ status: xhr.status, body });
    });
    xhr.addEventListener("error", () => resolve({ status: 0, body: null }));
    const form = new FormData();
    if (collection) form.append("collection", collection);
    form.append("file", file, file.name);
    xhr.send(form);
  });
}

// The public id of the signed-in key (`as_<id>_<secret>`): unfinished uploads are kept per
// key, and never with the secret.
function keyId() {
  return (state.key || "").split("_")[1] || "";
}

// tus-js-client finds an unfinished upload of the same file again by this fingerprint.
function tusFingerprint(file, collection) {
  return [TUS_FINGERPRINT_PREFIX, keyId(), collection, file.name, file.type, file.size, file.lastModified].join("/");
}

function tusUpload(file, collection, show, li, note) {
  return new Promise((resolve) => {
    const metadata = { name: file.name, filename: file.name, filetype: file.type };
    if (collection) metadata.collection = collection;
    const upload = new tus.Upload(file, {
      endpoint: new URL("/v1/uploads", location.origin).href,
      chunkSize: TUS_CHUNK_BYTES,
      retryDelays: TUS_RETRY_DELAYS,
      headers: { Authorization: `Bearer ${state.key}` },
      metadata,
      fingerprint: (f) => Promise.resolve(tusFingerprint(f, collection)),
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      onProgress: (sent, total) => show(sent, total, true),
      onSuccess: ({ lastResponse }) => resolve({ status: 201, audioId: lastResponse.getHeader("Audiostore-Audio-Id") }),
      onError: (err) => {
        const r = err.originalResponse;
        let body = null;
        try { body = JSON.parse(r.getBody()); } catch {}
        resolve({ status: r ? r.getStatus() : 0, body });
      },
    });
    upload.findPreviousUploads().then((previous) => {
      if (previous.length) {
        upload.resumeFromPreviousUpload(previous[0]);
        li.dataset.resumed = "true";
        note.textContent = "resuming…";
      }
      upload.start();
    });
  });
}

// Unfinished tus uploads of this key (from an earlier visit): say how to finish them.
async function showUnfinished() {
  const el = $("#unfinished");
  let names = [];
  if (window.tus && tus.defaultOptions.urlStorage) {
    const all = await tus.defaultOptions.urlStorage.findAllUploads().catch(() => []);
    const mine = `${TUS_FINGERPRINT_PREFIX}/${keyId()}/`;
    names = all.filter((u) => String(u.urlStorageKey || "").startsWith(`tus::${mine}`))
      .map((u) => (u.metadata && u.metadata.filename) || "?");
  }
  el.textContent = names.length
    ? `Unfinished upload(s): ${names.join(", ")}. Choose the same file(s) again to resume.`
    : "";
  el.hidden = names.length === 0;
}

async function uploadFile(file, collection) {
  const li = document.createElement("li");
  li.className = "upload";
  const name = document.createElement("span");
  name.className = "upload-name";
  name.textContent = file.name;
  const bar = document.createElement("progress");
  bar.className = "upload-progress";
  bar.max = 100;
  bar.value = 0;
  const pct = document.createElement("span");
  pct.className = "upload-percent";
  pct.textContent = "0%";
  const note = document.createElement("span");
  note.className = "upload-note muted";
  li.append(name, bar, pct, note);
  $("#uploads").prepend(li);
  const show = (loaded, total, fromEvent = false) => {
    const p = total ? Math.round((loaded / total) * 100) : 0;
    bar.value = p;
    pct.textContent = `${p}%`;
    if (fromEvent) {   // what the browser reported sending (tests read these)
      li.dataset.progressEvents = String(Number(li.dataset.progressEvents || 0) + 1);
      li.dataset.sent = String(loaded);
      li.dataset.total = String(total);
    }
  };
  const failed = (code, body) => {
    li.classList.add("failed");
    pct.textContent = "failed";
    note.textContent = body && body.error ? `${body.error.code}: ${body.error.message}`
      : code ? `HTTP ${code}` : "network error";
    note.title = note.textContent;
    return null;
  };
  const stored = (body) => {
    bar.value = 100;
    pct.textContent = "100%";
    li.classList.add("done");
    note.textContent = `stored, ${clock(body.duration)}`;
    return body;
  };
  if (file.size > TUS_THRESHOLD && window.tus && tus.isSupported) {
    li.dataset.via = "tus";
    const { status: code, body, audioId } = await tusUpload(file, collection, show, li, note);
    showUnfinished();
    if (code !== 201) return failed(code, body);
    try {
      return stored(await api("GET", `/v1/audio/${audioId}`));
    } catch (e) {
      return failed(e.status, { error: { code: e.code, message: e.message } });
    }
  }
  const key = newKey();     // the same key on every retry: the service stores it once
  for (let attempt = 1; attempt <= UPLOAD_ATTEMPTS; attempt++) {
    const { status: code, body } = await uploadOnce(file, collection, key, show);
    if (code === 201) return stored(body);
    const retryable = code === 0 || code === 502 || code === 503 || code === 504;
    if (!retryable || attempt === UPLOAD_ATTEMPTS) return failed(code, body);
    note.textContent = `retrying (${attempt}/${UPLOAD_ATTEMPTS - 1})…`;
    await new Promise((r) => setTimeout(r, 500 * 2 ** (attempt - 1)));
  }
  return null;
}

async function uploadFiles(files) {
  const collection = $("#collection").value.trim();
  let stored = 0;
  for (const file of files) if (await uploadFile(file, collection)) stored++;
  status(`${stored} of ${files.length} file(s) stored.`, stored < files.length);
  await loadPage(0);
}

// --- wiring --------------------------------------------------------------------------
document.addEventListener("DOMContentLoaded", () => {
  $("#signin-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    signIn($("#api-key").value.trim());
  });
  $("#sign-out").addEventListener("click", () => signOut());
  let searchTimer = null;
  $("#search").addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => { state.q = $("#search").value.trim(); state.cursors = [null]; loadPage(0); }, 250);
  });
  $("#prev").addEventListener("click", () => state.page > 0 && loadPage(state.page - 1));
  $("#next").addEventListener("click", () => state.nextCursor && loadPage(state.page + 1));
  $("#file-input").addEventListener("change", (ev) => {
    const files = Array.from(ev.target.files);
    ev.target.value = "";
    if (files.length) uploadFiles(files);
  });
  const canvas = $("#waveform");
  canvas.addEventListener("click", (ev) => {
    const rect = canvas.getBoundingClientRect();
    seekTo((ev.clientX - rect.left) / rect.width);
  });
  const audio = $("#player");
  const tick = () => {
    $("#player-time").textContent = `${clock(audio.currentTime)} / ${clock(audio.duration)}`;
    drawWaveform();
  };
  for (const ev of ["timeupdate", "seeked", "loadedmetadata"]) audio.addEventListener(ev, tick);
  audio.addEventListener("play", () => requestAnimationFrame(animateWhilePlaying));
  audio.addEventListener("error", () => status("The player could not load this audio.", true));
  window.addEventListener("resize", onResize);

  const saved = sessionStorage.getItem(KEY_STORAGE);
  if (saved) signIn(saved);
});
