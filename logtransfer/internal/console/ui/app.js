// The console's pages: plain DOM, no framework. The address bar holds the
// page and its filters (#search?q=...&from=now-1h), so every view can be
// linked and reloaded.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const pages = ["fleet", "rollouts", "delivery", "search"];
let timer = null;

function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return e;
}
const num = (n) => (n === undefined || n === null ? "" : Number(n).toLocaleString("en-US"));
const td = (v, cls) => el("td", { class: cls }, v);
const when = (t) => (t && !t.startsWith("0001") ? new Date(t).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z") : "");
function ago(t) {
  if (!t || t.startsWith("0001")) return "";
  const s = Math.max(0, Math.round((Date.now() - new Date(t)) / 1000));
  return s < 120 ? s + " s ago" : s < 7200 ? Math.round(s / 60) + " min ago" : Math.round(s / 3600) + " h ago";
}

function route() {
  const [page, query] = (location.hash.slice(1) || "fleet").split("?");
  return { page: pages.includes(page) ? page : "fleet", params: new URLSearchParams(query || "") };
}
function setRoute(page, params) {
  const q = params.toString();
  history.replaceState(null, "", "#" + page + (q ? "?" + q : ""));
}

async function api(path, opts) {
  const resp = await fetch("api/" + path, opts);
  const body = await resp.json().catch(() => ({ error: resp.status + " " + resp.statusText }));
  if (!resp.ok) throw new Error(body.error || resp.statusText);
  return body;
}

function showError(err) {
  const p = $("#error");
  p.hidden = !err;
  p.textContent = err ? String(err.message || err) : "";
}

function off(section, data) {
  const p = $(".off", section);
  p.hidden = data.enabled !== false;
  p.textContent = data.reason || "";
  for (const e of section.children) if (e !== p && e.tagName !== "DIALOG") e.hidden = data.enabled === false;
  return data.enabled === false;
}

async function show() {
  clearTimeout(timer);
  const { page, params } = route();
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.page === page);
  for (const p of pages) $("#page-" + p).hidden = p !== page;
  document.body.dataset.page = page;
  document.body.dataset.state = "loading";
  try {
    await renderers[page](params);
    showError(null);
    $("#updated").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (err) {
    showError(err);
  }
  document.body.dataset.state = "ready";
  if (page !== "search") timer = setTimeout(show, 5000);
}

// ---- Fleet ----
async function renderFleet(params) {
  const sec = $("#page-fleet");
  const data = await api("fleet");
  if (off(sec, data)) return;
  const form = $("#fleet-filter");
  fillSelect(form.group, data.groups.map((g) => g.group), params.get("group"));
  form.text.value = params.get("text") || "";
  form.problems.checked = params.get("problems") === "1";

  const gb = $("#fleet-groups tbody");
  gb.replaceChildren(...data.groups.map((g) => el("tr", { "data-group": g.group, title: g.line },
    td(g.group), td(num(g.agents), "num"), td(g.stable_revision ? "r" + g.stable_revision : "none"),
    td(num(g.on_stable), "num"), td(num(g.on_candidate), "num"), td(g.rollout || ""),
    td(num(g.drifted), "num"), td(num(g.rejected), "num"), td(num(g.stale), "num"))));

  const text = form.text.value.toLowerCase(), group = form.group.value, onlyBad = form.problems.checked;
  const rows = data.agents.filter((a) => {
    if (group && !a.groups.some((g) => g.group === group)) return false;
    if (onlyBad && !(a.problems || []).length) return false;
    const hay = [a.ip, a.hostname, a.host_id, a.last_error && a.last_error.message].join(" ").toLowerCase();
    return !text || hay.includes(text);
  });
  $("#fleet-count").textContent = rows.length;
  $("#fleet-problems").textContent = data.agents.filter((a) => (a.problems || []).length).length;
  $("#fleet-agents tbody").replaceChildren(...rows.map((a) => {
    const flags = ["offline", "stale", "rejected", "drifted"].filter((f) => a[f]);
    return el("tr", { class: flags.join(" "), "data-ip": a.ip },
      td(el("div", {}, el("b", { text: a.hostname || "?" }), " ", a.ip), a.version ? el("div", { class: "muted", text: a.version }) : null),
      td(a.groups.map((g) => el("div", { class: g.drifted ? "flag drifted" : "" },
        g.group + ": " + (g.rejected ? "refused " : "") + runs(g.revision, g.candidate) +
        (g.drifted ? " / should " + runs(g.expected_revision, g.expected_candidate) : "")))),
      td(a.offline ? "" : a.config.state + (a.config.revision ? " r" + a.config.revision : "") + " (" + a.config.entries + " entries)"),
      td(a.offline ? "" : "read errors " + a.health.read_errors + ", permission " + a.health.permission_errors + ", matched " + a.health.files_matched),
      td(num(a.files), "num"), td(num(a.lag), "num"),
      td(a.last_error ? a.last_error.level + ": " + a.last_error.message : ""),
      td(ago(a.updated_at)),
      td(flags.map((f) => el("span", { class: "flag " + f, text: f })), (a.problems || []).map((p) => el("div", { class: "muted", text: p }))));
  }));
}
const runs = (rev, cand) => (cand ? "candidate " + cand : rev ? "r" + rev : "none");

function fillSelect(sel, values, chosen) {
  const keep = sel.options[0];
  sel.replaceChildren(keep, ...values.map((v) => el("option", { value: v, text: v })));
  sel.value = values.includes(chosen) ? chosen : "";
}

function bindFilter(form, page, names) {
  form.addEventListener("input", () => {
    const p = new URLSearchParams();
    for (const n of names) {
      const f = form[n];
      const v = f.type === "checkbox" ? (f.checked ? "1" : "") : f.value;
      if (v) p.set(n, v);
    }
    setRoute(page, p);
    show();
  });
  form.addEventListener("submit", (e) => e.preventDefault());
}

// ---- Rollouts ----
async function renderRollouts() {
  const sec = $("#page-rollouts");
  const data = await api("rollouts");
  if (off(sec, data)) return;
  $("#rollouts-none").hidden = data.rollouts.length > 0;
  $("#rollouts").replaceChildren(...data.rollouts.map((r) => el("div", { class: "card", "data-group": r.group, "data-state": r.state },
    el("h3", {}, "group ", el("b", { text: r.group }), " — rollout ", r.id, " ", el("span", { class: "flag " + r.state, text: r.shown_state })),
    el("div", {}, "wave " + (r.wave + 1) + " of " + r.steps.length + " (steps " + r.steps.map(step).join(", ") + "), bake " + (r.bake_ns / 1e9) + " s, " +
      r.candidate_entries + " entries, candidate " + r.candidate_hash + ", stable r" + r.stable_revision + (r.controller ? ", driven by a controller" : "")),
    el("div", { class: "muted" }, "started " + when(r.started_at) + ", updated " + when(r.updated_at)),
    r.message ? el("p", { class: r.state === "rolled_back" ? "error" : "", text: r.message }) : null,
    el("table", { class: "waves" }, el("thead", {}, el("tr", {}, el("th", { text: "wave" }), el("th", { text: "step" }), el("th", { text: "targets" }), el("th", { text: "started" }), el("th", { text: "finished" }), el("th", { text: "result" }))),
      el("tbody", {}, (r.waves || []).map((w, i) => el("tr", {}, td(i + 1), td(step(w.step)), td(num(w.targets), "num"), td(when(w.started)), td(when(w.finished)),
        td(el("span", { class: "flag " + (w.result || "running"), text: w.result || "running" })))))),
    (r.failures || []).length ? el("table", { class: "failures" }, el("thead", {}, el("tr", {}, el("th", { text: "failing host" }), el("th", { text: "IP" }), el("th", { text: "reason" }))),
      el("tbody", {}, r.failures.map((f) => el("tr", { class: "rejected" }, td(f.host), td(f.ip), td(f.reason))))) : null,
    r.can_abort ? el("p", {}, el("button", { class: "danger", "data-abort": r.group, onclick: () => openAbort(r.group) }, "Abort rollout")) : null)));
}
const step = (s) => (s.percent ? s.percent + "%" : String(s.count));

function openAbort(group) {
  const d = $("#abort-dialog");
  $("#abort-group").textContent = group;
  d.dataset.group = group;
  $("#abort-error").hidden = true;
  clearTimeout(timer);
  d.showModal();
}

async function confirmAbort(e) {
  const form = $("#abort-form");
  if (e.submitter && e.submitter.value !== "abort") return;
  e.preventDefault();
  const d = $("#abort-dialog");
  try {
    await api("rollouts/" + encodeURIComponent(d.dataset.group) + "/abort", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Logcollect-Console": "1" },
      body: JSON.stringify({ username: form.username.value, password: form.password.value }),
    });
    form.password.value = "";
    d.close();
    show();
  } catch (err) {
    const p = $("#abort-error");
    p.hidden = false;
    p.textContent = err.message;
  }
}

// ---- Delivery ----
async function renderDelivery(params) {
  const sec = $("#page-delivery");
  const form = $("#delivery-filter");
  const q = new URLSearchParams();
  for (const n of ["group", "host"]) if (params.get(n)) q.set(n, params.get(n));
  const data = await api("delivery?" + q);
  if (off(sec, data)) return;
  fillSelect(form.group, data.groups, params.get("group"));
  if (document.activeElement !== form.host) form.host.value = params.get("host") || "";
  const r = data.report;
  $("#delivery-totals").replaceChildren(...[["hosts", r.hosts], ["files", r.files], ["acked", r.acked], ["dropped", r.dropped], ["indexed", r.indexed],
    ["dead-lettered", r.dead_lettered], ["in flight", r.in_flight], ["missing", r.missing]].map(([k, v]) =>
    el("div", { "data-total": k.replace(/ /g, "-") }, el("b", { text: num(v) }), k)),
  el("div", { "data-total": "verdict" }, el("b", {}, el("span", { class: "flag " + r.verdict.replace(/ /g, "-"), text: r.verdict })), "verdict"));
  $("#delivery-notes").replaceChildren(...(r.notes || []).map((n) => el("li", { text: n })));
  $("#delivery-rows tbody").replaceChildren(...r.rows.map((w) => el("tr", { class: w.missing > 0 ? "missing" : "", "data-path": w.path, "data-ip": w.ip },
    td(el("div", {}, el("b", { text: w.hostname || "" }), " ", w.ip)), td(w.path), td(w.topic), td(num(w.acked), "num"), td(num(w.dropped), "num"),
    td(num(w.indexed), "num"), td(num(w.dead_lettered), "num"), td(num(w.in_flight), "num"), td(num(w.missing), "num"),
    td(el("span", { class: "flag " + w.verdict.replace(/ /g, "-"), text: w.verdict }), w.note ? el("div", { class: "muted", text: w.note }) : null),
    td((w.gaps || []).map((g) => el("div", { class: "gap", text: g.from + "–" + g.to })), w.gaps_omitted ? el("div", { class: "muted", text: "+" + w.gaps_omitted + " more" }) : null))));
}

// ---- Search ----
async function renderSearch(params) {
  const form = $("#search-form");
  const from = params.get("from") || "now-15m", to = params.get("to") || "now";
  form.q.value = params.get("q") || "";
  const preset = to === "now" && [...form.range.options].some((o) => o.value === from);
  form.range.value = preset ? from : "custom";
  form.from.value = from;
  form.to.value = to;
  form.from.hidden = form.to.hidden = preset;
  const q = new URLSearchParams({ q: form.q.value, from, to });
  const data = await api("search?" + q);
  $("#search-total").textContent = num(data.total);
  $("#search-meta").textContent = "from " + when(data.from) + " to " + when(data.to) + ", " + data.interval + " per bar, " + data.took_ms + " ms";
  const peak = Math.max(1, ...data.buckets.map((b) => b.count));
  $("#search-histogram").replaceChildren(...data.buckets.map((b) => {
    const bar = el("div", { title: when(b.at) + ": " + b.count, "data-count": b.count });
    bar.style.height = (100 * b.count / peak) + "%";
    return bar;
  }));
  $("#search-hits").replaceChildren(...data.hits.map((h) => el("li", { "data-id": h.id },
    el("div", {}, el("b", { text: when(h.source["@timestamp"]) }), " ", el("span", { class: "muted", text: h.index })),
    el("div", { class: "message", text: h.source.message === undefined ? "" : String(h.source.message) }),
    el("div", {}, flatten(h.source).filter(([k]) => k !== "message" && k !== "@timestamp").map(([k, v]) =>
      el("span", { class: "field", "data-field": k, title: "add " + k + " to the query", onclick: () => addFilter(k, v) }, k + ": " + v))))));
}

function flatten(o, prefix = "", out = []) {
  for (const [k, v] of Object.entries(o || {})) {
    const key = prefix + k;
    if (v && typeof v === "object" && !Array.isArray(v)) flatten(v, key + ".", out);
    else out.push([key, Array.isArray(v) ? v.join(", ") : String(v)]);
  }
  return out;
}

function addFilter(field, value) {
  const { params } = route();
  const clause = field + ':"' + value.replace(/["\\]/g, "\\$&") + '"';
  const q = (params.get("q") || "").trim();
  params.set("q", q ? q + " AND " + clause : clause);
  setRoute("search", params);
  show();
}

function submitSearch(e) {
  e.preventDefault();
  const form = $("#search-form");
  const p = new URLSearchParams();
  if (form.q.value.trim()) p.set("q", form.q.value.trim());
  if (form.range.value === "custom") {
    p.set("from", form.from.value || "now-15m");
    p.set("to", form.to.value || "now");
  } else {
    p.set("from", form.range.value);
  }
  setRoute("search", p);
  show();
}

const renderers = { fleet: renderFleet, rollouts: renderRollouts, delivery: renderDelivery, search: renderSearch };

window.addEventListener("hashchange", show);
document.addEventListener("DOMContentLoaded", () => {
  bindFilter($("#fleet-filter"), "fleet", ["text", "group", "problems"]);
  bindFilter($("#delivery-filter"), "delivery", ["group", "host"]);
  $("#search-form").addEventListener("submit", submitSearch);
  $("#search-form").range.addEventListener("change", (e) => {
    const custom = e.target.value === "custom";
    $("#search-form").from.hidden = $("#search-form").to.hidden = !custom;
  });
  $("#abort-form").addEventListener("submit", confirmAbort);
  show();
});
