/* Forja dashboard: the script of every page (body data-page says which). It reads the API
 * with the token the reader entered (sessionStorage: this tab only) and follows GET /events
 * for live changes. Build data is only ever put in the page as text, never as markup. */
"use strict";

const STATUSES = ["queued", "running", "succeeded", "failed", "cancelled"];
const READ_KEY = "forja.readToken";
const API_KEY = "forja.apiToken";
const PAGE_LIMIT = 20;
const EVENTS_SILENCE_MS = 60000;

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k === null || k === undefined ? "" : k);
  return e;
}

function say(id, text, bad) {
  const m = $(id);
  if (!m) return;
  m.textContent = text || "";
  m.classList.toggle("bad", !!bad);
}

function announce(text) {
  const a = $("announce");
  if (a) a.textContent = text;
}

/* ---- tokens ---- */

function readToken() {
  return sessionStorage.getItem(READ_KEY) || sessionStorage.getItem(API_KEY) || "";
}

function apiToken() {
  return sessionStorage.getItem(API_KEY) || "";
}

let tokenWait = null; /* one prompt however many requests met the 401 */

function askToken(refused) {
  if (tokenWait) return tokenWait;
  tokenWait = new Promise((resolve) => {
    const box = $("auth"), form = $("auth-form"), input = $("auth-token");
    if (refused)
      $("auth-why").textContent = "That token was refused: enter the read token or the API token.";
    box.hidden = false;
    input.value = "";
    input.focus();
    form.onsubmit = (ev) => {
      ev.preventDefault();
      const t = input.value.trim();
      if (!t) return;
      sessionStorage.setItem(READ_KEY, t);
      box.hidden = true;
      tokenWait = null;
      $("main").focus();
      resolve();
    };
  });
  return tokenWait;
}

/* fetch with the read token; a 401 asks for a token once and tries again */
async function api(path, opts) {
  for (let tries = 0; ; tries++) {
    const o = Object.assign({}, opts || {});
    o.headers = Object.assign({}, o.headers || {});
    const tok = o.token !== undefined ? o.token : readToken();
    if (tok) o.headers.Authorization = "Bearer " + tok;
    const r = await fetch(path, o);
    if (r.status !== 401 || o.token !== undefined || tries > 5) return r;
    /* sent before a token was entered for another request: try again with it, do not ask */
    if (readToken() && readToken() !== tok) continue;
    await askToken(!!tok);
  }
}

async function apiJson(path) {
  const r = await api(path);
  let body = null;
  try {
    body = await r.json();
  } catch (e) {
    body = null;
  }
  if (!r.ok) {
    const detail = body && body.detail ? body.detail : r.status + " " + r.statusText;
    const err = new Error(detail);
    err.status = r.status;
    throw err;
  }
  return body;
}

function setupTokens() {
  const form = $("api-token-form");
  if (!form) return;
  const state = () => {
    say("api-token-state", apiToken() ? "An API token is set for this tab." : "No API token set.");
    document.dispatchEvent(new CustomEvent("forja-token"));
  };
  form.onsubmit = (ev) => {
    ev.preventDefault();
    const t = $("api-token").value.trim();
    if (t) sessionStorage.setItem(API_KEY, t);
    $("api-token").value = "";
    state();
  };
  $("tokens-forget").onclick = () => {
    sessionStorage.removeItem(API_KEY);
    sessionStorage.removeItem(READ_KEY);
    state();
  };
  state();
}

/* ---- formatting ---- */

function statusBadge(s) {
  const known = STATUSES.includes(s) ? s : "queued";
  return el("span", { class: "status s-" + known, text: s || "unknown" });
}

function pad(n) {
  return String(n).padStart(2, "0");
}

/* today's times as HH:MM:SS, older ones with their date; the full timestamp is the title */
function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (isNaN(d)) return iso;
  const now = new Date(), today = d.toDateString() === now.toDateString();
  const day = d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate());
  const text = today ? pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds())
                     : day + " " + pad(d.getHours()) + ":" + pad(d.getMinutes());
  return el("time", { datetime: iso, title: d.toString(), text });
}

function duration(sec) {
  if (sec === null || sec === undefined) return "";
  if (sec < 60) return sec.toFixed(1) + " s";
  const m = Math.floor(sec / 60), s = Math.round(sec % 60);
  return m < 60 ? m + " min " + s + " s" : Math.floor(m / 60) + " h " + (m % 60) + " min";
}

/* "owner/name" repositories are GitHub's; a URL or a path is not linked */
function githubRepo(b) {
  const r = b.repository || "";
  return /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(r) ? r : null;
}

function commitCell(b) {
  if (!b.commit) return "";
  const short = b.commit.slice(0, 7), repo = githubRepo(b);
  if (!repo || !/^[0-9a-f]{7,64}$/.test(b.commit))
    return el("code", { text: short, title: b.commit });
  return el("a", { href: "https://github.com/" + repo + "/commit/" + b.commit,
                   "aria-label": "commit " + short + " on GitHub" }, el("code", { text: short }));
}

function prCell(b) {
  if (b.pull_request === null || b.pull_request === undefined) return "";
  const repo = githubRepo(b), text = "#" + b.pull_request;
  if (!repo) return text;
  return el("a", { href: "https://github.com/" + repo + "/pull/" + b.pull_request,
                   "aria-label": "pull request " + b.pull_request + " on GitHub", text });
}

/* ---- GET /events, read with fetch so the token goes in a header ---- */

let eventsAvailable = null;

/* The OpenAPI document is the route table: /events is there exactly when the server has it. */
async function serverHasEvents() {
  if (eventsAvailable !== null) return eventsAvailable;
  try {
    const r = await fetch("/openapi.json");
    const doc = await r.json();
    eventsAvailable = !!(doc.paths && doc.paths["/events"]);
  } catch (e) {
    eventsAvailable = false;
  }
  return eventsAvailable;
}

function liveState(state, text) {
  const l = $("live");
  if (!l) return;
  l.dataset.state = state;
  l.textContent = text;
}

/* Calls onBuild(build, eventName) for each event; reconnects with Last-Event-ID. */
async function followEvents(onBuild) {
  if (!(await serverHasEvents())) {
    liveState("off", "Not live: this server has no /events");
    return false;
  }
  let lastId = null, delay = 1000;
  const run = async () => {
    try {
      const headers = { Accept: "text/event-stream" };
      if (lastId !== null) headers["Last-Event-ID"] = lastId;
      /* heartbeats come every 15 s: a silent minute means a connection that died unseen */
      const abort = new AbortController();
      let quiet = setTimeout(() => abort.abort(), EVENTS_SILENCE_MS);
      const r = await api("/events", { headers, signal: abort.signal });
      if (!r.ok || !r.body) throw new Error("events answered " + r.status);
      liveState("on", "Live");
      delay = 1000;
      const reader = r.body.getReader(), dec = new TextDecoder();
      let buf = "", ev = { data: [] };
      for (;;) {
        const { value, done } = await reader.read();
        clearTimeout(quiet);
        quiet = setTimeout(() => abort.abort(), EVENTS_SILENCE_MS);
        if (done) {
          clearTimeout(quiet);
          break;
        }
        buf += dec.decode(value, { stream: true });
        let nl;
        while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + (buf.startsWith("\r\n", nl) ? 2 : 1));
          if (line === "") {
            if (ev.data.length) {
              if (ev.id !== undefined) lastId = ev.id;
              try {
                onBuild(JSON.parse(ev.data.join("\n")), ev.event || "message");
              } catch (e) {
                /* an event we cannot read is skipped; the next one still applies */
              }
            }
            ev = { data: [] };
            continue;
          }
          if (line.startsWith(":")) continue; /* heartbeat */
          const c = line.indexOf(":");
          const field = c < 0 ? line : line.slice(0, c);
          let val = c < 0 ? "" : line.slice(c + 1);
          if (val.startsWith(" ")) val = val.slice(1);
          if (field === "data") ev.data.push(val);
          else if (field === "event") ev.event = val;
          else if (field === "id") ev.id = val;
        }
      }
    } catch (e) {
      /* fall through to the reconnect */
    }
    liveState("off", "Reconnecting…");
    setTimeout(run, delay);
    delay = Math.min(delay * 2, 15000);
  };
  run();
  return true;
}

/* ---- copy buttons ---- */

async function copyText(text, button) {
  const old = button.textContent;
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = "Copied";
  } catch (e) {
    /* no clipboard permission (plain http): select the text so Ctrl+C copies it */
    const node = button.previousElementSibling;
    if (node) {
      const range = document.createRange();
      range.selectNodeContents(node);
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
    }
    button.textContent = "Selected: press Ctrl+C";
  }
  setTimeout(() => (button.textContent = old), 2000);
}

/* ---- Builds ---- */

const BUILD_COLUMNS = ["Build", "Service", "Version", "Status", "Commit", "PR", "Trigger",
                       "Engine", "Queued", "Started", "Duration"];

function buildRow(b) {
  const cells = [
    el("a", { href: "/ui/builds/" + b.id, "aria-label": "build " + b.id + " details",
              text: "#" + b.id }),
    b.service, b.version, statusBadge(b.status), commitCell(b), prCell(b), b.trigger,
    b.engine || "", when(b.created_at), when(b.started_at), duration(b.duration_seconds),
  ];
  const tr = el("tr", { id: "build-" + b.id, "data-status": b.status });
  cells.forEach((c, i) => {
    const cls = i === 0 || i >= 8 ? "num" : i === 7 ? "engine" : null;
    tr.append(el("td", { "data-label": BUILD_COLUMNS[i], class: cls }, c));
  });
  return tr;
}

async function pageBuilds() {
  const q = new URLSearchParams(location.search);
  const service = q.get("service") || "", status = q.get("status") || "";
  const before = /^[0-9]+$/.test(q.get("before") || "") ? q.get("before") : "";
  $("f-service").value = service;
  $("f-status").value = STATUSES.includes(status) ? status : "";
  /* empty filters stay out of the URL (the API refuses an empty service) */
  $("filters").onsubmit = (ev) => {
    ev.preventDefault();
    const p = new URLSearchParams();
    if ($("f-service").value.trim()) p.set("service", $("f-service").value.trim());
    if ($("f-status").value) p.set("status", $("f-status").value);
    location.search = p.toString();
  };
  const tbody = $("builds").tBodies[0];
  let loaded = false;
  const early = [];
  const apply = (b, name) => {
    /* the server no longer holds the events since the last one seen: start afresh */
    if (name === "reset") return location.reload();
    if (!loaded) {
      early.push([b, name]);
      return;
    }
    const row = $("build-" + b.id);
    if (row) {
      row.replaceWith(buildRow(b));
    } else {
      /* new builds belong on the first page, when they pass the filters */
      if (before || (service && b.service !== service) || (status && b.status !== status))
        return;
      const tr = buildRow(b);
      tr.classList.add("fresh");
      tbody.prepend(tr);
      say("msg", "");
    }
    announce("build " + b.id + " " + b.service + " " + b.version + " " + b.status);
  };
  /* subscribe first, so a build queued while the page loads is not missed */
  const live = followEvents(apply);
  const p = new URLSearchParams({ limit: String(PAGE_LIMIT) });
  if (service) p.set("service", service);
  if (STATUSES.includes(status)) p.set("status", status);
  if (before) p.set("before", before);
  try {
    const page = await apiJson("/builds?" + p.toString());
    for (const b of page.builds) tbody.append(buildRow(b));
    const seen = new Set(page.builds.map((b) => b.service));
    for (const s of seen) $("services-seen").append(el("option", { value: s }));
    if (!page.builds.length)
      say("msg", service || status ? "No build matches these filters." : "No builds yet.");
    if (page.next) {
      const n = new URL(page.next, location.origin).searchParams, o = new URLSearchParams();
      for (const k of ["service", "status", "before"]) if (n.get(k)) o.set(k, n.get(k));
      $("older").href = "/ui/builds?" + o.toString();
      $("older").hidden = false;
    }
    if (before) {
      const o = new URLSearchParams();
      if (service) o.set("service", service);
      if (status) o.set("status", status);
      $("newer").href = "/ui/builds" + (o.toString() ? "?" + o.toString() : "");
      $("newer").hidden = false;
    }
  } catch (e) {
    say("msg", "Cannot list the builds: " + e.message, true);
  }
  loaded = true;
  for (const [b, name] of early) apply(b, name);
  await live;
}

/* ---- Build ---- */

const FIELD_ORDER = ["id", "service", "version", "type", "status", "trigger", "repository",
  "clone_url", "ref", "branch", "commit", "pull_request", "delivery_id", "context",
  "dockerfile", "build_args", "engine", "image", "digest", "created_at", "started_at",
  "finished_at", "duration_seconds", "attempts", "error", "links"];

function fieldValue(k, v, b) {
  if (v === null || v === undefined) return el("span", { class: "msg", text: "none" });
  if (k === "status") return statusBadge(v);
  if (k === "commit" && githubRepo(b))
    return el("span", {}, el("code", { text: v }), " ", commitCell(b));
  if (k === "pull_request") return prCell(b);
  if (k.endsWith("_at")) return el("span", {}, when(v), " (" + v + ")");
  if (k === "duration_seconds") return duration(v);
  if (typeof v === "object") return el("code", { text: JSON.stringify(v) });
  return String(v);
}

/* image "host:port/name:tag" + digest -> "host:port/name@sha256:..." (what docker pull takes) */
function imageAtDigest(b) {
  if (!b.image || !b.digest) return null;
  const slash = b.image.lastIndexOf("/"), colon = b.image.lastIndexOf(":");
  const repo = colon > slash ? b.image.slice(0, colon) : b.image;
  return repo + "@" + b.digest;
}

function showBuild(b) {
  document.title = "Build " + b.id + " " + b.service + " " + b.version + " · Forja";
  const t = $("title");
  t.textContent = "Build #" + b.id + ": " + b.service + " " + b.version + " ";
  t.append(statusBadge(b.status));
  const dl = $("fields");
  dl.textContent = "";
  const keys = FIELD_ORDER.filter((k) => k in b).concat(
    Object.keys(b).filter((k) => !FIELD_ORDER.includes(k)));
  for (const k of keys) dl.append(el("dt", { text: k }), el("dd", {}, fieldValue(k, b[k], b)));
  $("error-box").hidden = !b.error;
  $("error").textContent = b.error || "";
  const ref = imageAtDigest(b);
  $("image-box").hidden = !ref;
  $("image-ref").textContent = ref || "";
  const open = b.status === "queued" || b.status === "running";
  $("actions").hidden = !apiToken();
  $("cancel").hidden = !open;
  $("rerun").hidden = open;
}

async function followLog(id, started, done) {
  const log = $("log");
  let stick = true;
  /* auto-scroll only while the reader is at the bottom; scrolling back down resumes it */
  log.addEventListener("scroll", () => {
    stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
    say("log-state", stick ? "" : "Auto-scroll paused: scroll to the end of the log to resume.");
  });
  try {
    const r = await api("/builds/" + id + "/log?follow=true");
    if (!r.ok || !r.body) throw new Error("the log answered " + r.status);
    const reader = r.body.getReader(), dec = new TextDecoder();
    for (let first = true; ; first = false) {
      const { value, done: end } = await reader.read();
      if (end) break;
      if (first) started();
      log.append(dec.decode(value, { stream: true }));
      if (stick) log.scrollTop = log.scrollHeight;
    }
    log.append(dec.decode());
  } catch (e) {
    say("log-state", "The log could not be read: " + e.message, true);
  }
  done();
}

async function pageBuild() {
  const m = location.pathname.match(/^\/ui\/builds\/([0-9]+)$/);
  if (!m) return say("msg", "No build id in this address.", true);
  const id = m[1];
  let build = null;
  const load = async () => {
    try {
      build = await apiJson("/builds/" + id);
      showBuild(build);
      say("msg", "");
    } catch (e) {
      say("msg", e.status === 404 ? "There is no build " + id + "." : "Cannot read build " +
          id + ": " + e.message, true);
    }
  };
  document.addEventListener("forja-token", () => build && showBuild(build));
  $("cancel").onclick = async () => {
    const r = await api("/builds/" + id + "/cancel", { method: "POST", token: apiToken() });
    if (!r.ok) {
      let d = r.status + "";
      try {
        d = (await r.json()).detail || d;
      } catch (e) {
        /* keep the status */
      }
      say("msg", "Cancel refused: " + d, true);
    } else {
      say("msg", "Cancel requested.");
    }
    await load();
  };
  $("rerun").onclick = async () => {
    const r = await api("/builds/" + id + "/rerun", { method: "POST", token: apiToken() });
    let body = null;
    try {
      body = await r.json();
    } catch (e) {
      body = null;
    }
    if (r.ok && body && body.id) location.href = "/ui/builds/" + body.id;
    else say("msg", "Run again refused: " + (body && body.detail ? body.detail : r.status), true);
  };
  followEvents((b, name) => {
    if (name === "reset") return load();
    if (String(b.id) === id) {
      build = b;
      showBuild(b);
    }
  });
  await load();
  if (!build) return;
  /* the stream ends when the build does: read the final state then */
  /* the first log lines mean a queued build has started: show it without waiting for events */
  followLog(id, () => build.status === "queued" && load(), load);
}

/* ---- Services ---- */

const SERVICE_SCAN_PAGES = 10;

async function pageServices() {
  const tbody = $("services").tBodies[0];
  const last = new Map();
  let path = "/builds?limit=100", pages = 0;
  try {
    while (path && pages < SERVICE_SCAN_PAGES) {
      const page = await apiJson(path);
      for (const b of page.builds) if (!last.has(b.service)) last.set(b.service, b);
      path = page.next;
      pages++;
    }
  } catch (e) {
    return say("msg", "Cannot list the builds: " + e.message, true);
  }
  if (!last.size) return say("msg", "No builds yet.");
  if (path) say("msg", "Services of the last " + pages * 100 + " builds.");
  const base = location.origin;
  for (const [svc, b] of [...last.entries()].sort((a, c) => a[0].localeCompare(c[0]))) {
    const q = encodeURIComponent(svc);
    const md = "![build](" + base + "/badge?service=" + q + ")";
    const snippet = el("code", { class: "snippet", id: "md-" + b.id, text: md });
    const copy = el("button", { type: "button", class: "copy",
                                "aria-label": "Copy the Markdown of the " + svc + " badge",
                                text: "Copy" });
    copy.onclick = () => copyText(md, copy);
    const tr = el("tr");
    tr.append(
      el("td", { "data-label": "Service" },
         el("a", { href: "/ui/builds?service=" + q, text: svc })),
      el("td", { "data-label": "Last build", class: "num" },
         el("a", { href: "/ui/builds/" + b.id, "aria-label": "build " + b.id + " details",
                   text: "#" + b.id }), " ", b.version),
      el("td", { "data-label": "Status" }, statusBadge(b.status)),
      el("td", { "data-label": "Badge" },
         el("img", { src: "/badge?service=" + q, alt: "badge of " + svc + ": " + b.status })),
      el("td", { "data-label": "Markdown" }, el("span", { class: "copyline" }, snippet, copy)));
    tbody.append(tr);
  }
}

/* ---- Images ---- */

async function pageImages() {
  const tbody = $("images").tBodies[0];
  let list;
  try {
    list = await apiJson("/images");
  } catch (e) {
    return say("msg", "Cannot read the registry's catalog: " + e.message, true);
  }
  if (list.registry) $("registry").textContent = "Registry: " + list.registry;
  let n = 0;
  for (const repo of list.repositories || []) {
    for (const t of repo.tags || []) {
      n++;
      const build = t.build_id === null || t.build_id === undefined ? "not built by Forja" :
        el("a", { href: "/ui/builds/" + t.build_id, "aria-label": "build " + t.build_id +
                  " details", text: "#" + t.build_id });
      tbody.append(el("tr", {},
        el("td", { "data-label": "Image" }, repo.name),
        el("td", { "data-label": "Tag" }, t.tag),
        el("td", { "data-label": "Digest" }, el("code", { text: t.digest || "unknown" })),
        el("td", { "data-label": "Build", class: "num" }, build)));
    }
  }
  if (!n) say("msg", "The registry holds no images yet.");
}

/* ---- start ---- */

const PAGES = { builds: pageBuilds, build: pageBuild, services: pageServices, images: pageImages };

document.addEventListener("DOMContentLoaded", async () => {
  setupTokens();
  const run = PAGES[document.body.dataset.page];
  try {
    if (run) await run();
  } finally {
    /* tests and scripts wait for this before looking at the page */
    document.body.dataset.ready = "1";
  }
});
