// shopstream dashboard: what every page shares. The state of the view (the
// page, the time range, the refresh, the drill-down filters) lives in the
// URL's hash, "#/fraud?range=24h&refresh=live&scenario=card_testing", so a
// link shows what its sender saw. One EventSource per tab
// (GET api/v1/stream) feeds every panel and the freshness indicator;
// panels backfill the chosen range from the API. Charts are uPlot; each
// chart element carries data-points, the number of points drawn.
"use strict";

const $ = (id) => document.getElementById(id);
const fmtInt = new Intl.NumberFormat("en-US");
const fmt1 = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });
const fmt2 = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const compactFmt = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });
const compact = (v) => (v == null ? "" : compactFmt.format(v));
const fmtPct = (v, d) => (v == null || !Number.isFinite(v) ? "–" : (v * 100).toFixed(d == null ? 1 : d) + "%");

const currencyFormats = new Map();
// money formats an amount (a number of units) of a currency: "$1,234".
function money(v, currency, digits) {
  const key = currency + "/" + (digits == null ? 0 : digits);
  let f = currencyFormats.get(key);
  if (!f) {
    try {
      f = new Intl.NumberFormat("en-US", { style: "currency", currency, maximumFractionDigits: digits || 0, minimumFractionDigits: digits || 0 });
    } catch (e) {
      f = { format: (x) => fmt2.format(x) + " " + currency };
    }
    currencyFormats.set(key, f);
  }
  return f.format(v);
}
// minorPer is how many minor units make one unit of a currency.
function minorPer(currency) {
  try {
    return 10 ** new Intl.NumberFormat("en-US", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
  } catch (e) {
    return 100;
  }
}
// moneyOf shows an amount with its currency's own decimals (ISO 4217 as
// the browser knows it): $12.50, ¥1,000, BHD 1.234.
function moneyOf(v, currency) {
  return money(v, currency, Math.round(Math.log10(minorPer(currency))));
}
// fmtTime shows a time with its date, and the year when it is not this
// year's (an imported order history of 2011 read "Jun 30" as this June).
function fmtTime(t) {
  const d = new Date(t);
  const year = d.getFullYear() !== new Date().getFullYear() ? { year: "numeric" } : {};
  return d.toLocaleDateString([], { month: "short", day: "numeric", ...year }) + " " + d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

// apiError turns an answer of the API into an Error with its message.
async function getJSON(url) {
  const r = await fetch(url, { cache: "no-store" });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) {
    const e = new Error((body.error && body.error.message) || url + ": " + r.status);
    e.status = r.status;
    throw e;
  }
  return body;
}
async function postJSON(url, body) {
  const r = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body || {}), cache: "no-store" });
  const out = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error((out.error && out.error.message) || url + ": " + r.status);
  return out;
}

// ---- State in the URL ----

const pages = ["overview", "fraud", "customers", "products", "quality", "system"];
const ranges = { "15m": 15 * 60, "1h": 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400 };
const refreshes = { live: 0, "5s": 5, "10s": 10, "30s": 30, "1m": 60, off: -1 };

// state is the view: page, range, from, to (custom, Unix seconds), refresh
// and the page's filters.
const state = { page: "overview", range: "1h", refresh: "live", params: new URLSearchParams() };

function readHash() {
  const h = location.hash.replace(/^#\/?/, "");
  const [page, query] = h.split("?");
  const p = new URLSearchParams(query || "");
  state.page = pages.includes(page) ? page : "overview";
  state.range = p.get("range") in ranges || p.get("range") === "custom" ? p.get("range") : "1h";
  state.refresh = p.get("refresh") in refreshes ? p.get("refresh") : "live";
  p.delete("range");
  p.delete("refresh");
  state.params = p;
}

function hashOf(page, params) {
  const p = new URLSearchParams();
  p.set("range", state.range);
  if (state.range === "custom") {
    p.set("from", params.get("from") || state.params.get("from") || "");
    p.set("to", params.get("to") || state.params.get("to") || "");
  }
  if (state.refresh !== "live") p.set("refresh", state.refresh);
  for (const [k, v] of params) if (v !== "" && k !== "from" && k !== "to") p.set(k, v);
  return "#/" + page + "?" + p.toString();
}

// setParam changes one filter of the page (a drill-down), "" removes it.
function setParam(k, v) {
  const p = new URLSearchParams(state.params);
  if (v === "" || v == null) p.delete(k); else p.set(k, v);
  location.hash = hashOf(state.page, p);
}

// timeRange is the chosen range in Unix seconds: {from, to, seconds}.
function timeRange() {
  const now = Date.now() / 1000;
  if (state.range === "custom") {
    const f = Date.parse(state.params.get("from") || "") / 1000;
    const t = Date.parse(state.params.get("to") || "") / 1000;
    if (Number.isFinite(f) && Number.isFinite(t) && t > f) return { from: f, to: t, seconds: t - f, custom: true };
  }
  const s = ranges[state.range] || 3600;
  return { from: now - s, to: now, seconds: s };
}
const iso = (t) => new Date(t * 1000).toISOString();
// localInput is a time (ms) as a datetime-local input holds it, in the
// browser's time zone, as timeRange reads from and to back.
const localInput = (ms) => new Date(ms - new Date(ms).getTimezoneOffset() * 60000).toISOString().slice(0, 16);

// ---- Theme ----

function applyTheme() {
  const stored = localStorage.getItem("shopstream-theme");
  const dark = stored ? stored === "dark" : window.matchMedia("(prefers-color-scheme: dark)").matches;
  document.documentElement.dataset.theme = dark ? "dark" : "light";
  $("theme").textContent = dark ? "☀ light" : "☾ dark";
}
function cssVar(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }

// ---- Charts ----

const charts = new Set();

// axisSize fits an axis to its longest label, so none is clipped. A
// left axis is at least 56 px wide: the time axis's first label, with its
// date ("12/3/26 2:54am", centred on its tick), overhangs the plot's left
// edge by up to half its width.
function axisSize(self, values, axisIdx, cycleNum) {
  const axis = self.axes[axisIdx];
  if (cycleNum > 1) return axis._size;
  const least = axis.side === 3 && self.axes[0].scale === "x" && self.scales.x.time ? 56 : 0;
  let size = axis.ticks.size + axis.gap;
  // The widest label as drawn: every one measured (the longest string
  // need not be the widest), in the axis's font, whose size uPlot scaled
  // by its pixel ratio (font[1] of font[2] CSS px), which may lag
  // devicePixelRatio.
  self.ctx.font = axis.font[0];
  let widest = 0;
  for (const v of values || []) if (v != null) widest = Math.max(widest, self.ctx.measureText(String(v)).width);
  size += widest / (axis.font[1] / axis.font[2] || devicePixelRatio);
  return Math.max(least, Math.ceil(size) + 4);
}

// sparsePoints is uPlot's own rule for showing a series' points: when
// there is room for them between the values shown.
function sparsePoints(u, si, i0, i1) {
  const x = u.data[0];
  if (i0 == null || i1 == null || x.length === 0) return false;
  const dim = Math.abs(u.valToPos(x[i1], "x", true) - u.valToPos(x[i0], "x", true));
  return dim / (u.series[si].points.space * devicePixelRatio) >= i1 - i0;
}

// lonePoints is uPlot's points filter: when uPlot shows no points (the
// series is dense), the indexes of the values a line cannot show, whose
// neighbours in the visible range are missing.
function lonePoints(u, si, show) {
  if (show) return null;
  const d = u.data[si], [i0, i1] = u.series[0].idxs || [0, d.length - 1];
  const out = [];
  for (let i = i0; i <= i1; i++) {
    if (d[i] == null) continue;
    if ((i === i0 || d[i - 1] == null) && (i === i1 || d[i + 1] == null)) out.push(i);
  }
  return out.length ? out : null;
}

// intIncrs are the tick steps of a count's axis: 1, 2, 5, 10, 20, 50…
const intIncrs = Array.from({ length: 36 }, (_, i) => [1, 2, 5][i % 3] * 10 ** Math.floor(i / 3));

// Chart draws series over time in a .chart element. spec: {height, series:
// [{label, color, scale, fmt, bars, fill}], scales: {name: {min, max}},
// axes: [{scale, fmt, side, ints}], time (default true), bin (a histogram's bin
// width, for the bars' x range)}. The legend shows the
// value under the cursor, and the latest value when the cursor is away.
class Chart {
  constructor(elem, spec) {
    this.el = elem;
    this.spec = spec;
    this.data = [[], ...spec.series.map(() => [])];
    this.el.dataset.points = "0";
    this.build();
    charts.add(this);
  }

  build() {
    if (this.u) this.u.destroy();
    const spec = this.spec;
    const grid = cssVar("--grid"), muted = cssVar("--muted");
    const latest = (u, si) => {
      const d = u.data[si];
      for (let i = d.length - 1; i >= 0; i--) if (d[i] != null) return d[i];
      return null;
    };
    const time = spec.time !== false;
    const series = [{ label: time ? "time" : spec.xLabel || "x",
      value: (u, v) => (v == null ? (time ? "latest" : "") : time ? fmtTime(v * 1000) : (spec.xFmt || String)(v)) }];
    // Dots of lone values: the first series' the largest, so that dots of
    // the same value at the same time show as rings around each other.
    const lines = spec.series.filter((s) => !s.bars).length;
    let line = 0;
    spec.series.forEach((s, i) => {
      const color = cssVar(s.color) || s.color;
      const f = s.fmt || compact;
      const o = { label: s.label, stroke: color, width: 2, scale: s.scale || "y", spanGaps: false,
        value: (u, v) => { const x = v == null ? latest(u, i + 1) : v; return x == null ? "–" : f(x); } };
      if (!s.bars) {
        // A value with no neighbour to draw a line to (one point, or one
        // between gaps) is drawn as a dot, whatever the density.
        o.points = { size: 7 + 4 * (lines - 1 - line++), fill: color, stroke: color, show: sparsePoints, filter: lonePoints };
      }
      if (s.bars) {
        o.paths = uPlot.paths.bars({ size: [0.8, 40] });
        o.fill = color + "66";
        o.width = 1;
      } else if (s.fill) {
        o.fill = color + "22";
      }
      series.push(o);
    });
    // The x axis keeps uPlot's height; the y axes fit their labels' width.
    const axes = [{ stroke: muted, grid: { stroke: grid }, ticks: { stroke: grid } }];
    if (!time && spec.xFmt) axes[0].values = (u, vs) => vs.map(spec.xFmt);
    if (spec.categories) {
      // One tick per category at 0, 1, 2…, each bar centred on its own.
      axes[0].splits = (u) => u.data[0].slice();
      axes[0].values = (u, vs) => vs.map((v) => spec.xFmt(v));
      axes[0].rotate = -30;
      axes[0].size = 90;
    }
    for (const a of spec.axes || [{ scale: "y" }]) {
      const ax = { scale: a.scale, side: a.side || 3, stroke: a.color ? cssVar(a.color) : muted, grid: { show: !a.side, stroke: grid },
        ticks: { stroke: grid }, size: axisSize, values: (u, vs) => vs.map(a.fmt || compact) };
      // A count's axis (ints) ticks whole numbers only: under a lag of 1
      // uPlot's own steps gave 0.25, shown rounded as 0.3 and 0.8.
      if (a.ints) ax.incrs = intIncrs;
      axes.push(ax);
    }
    const scales = { x: { time } };
    // uPlot ranges a time axis with one x over 1,000 days after it (its
    // 86,400 "seconds" counted in milliseconds): a lone point is shown
    // with half an hour either side instead.
    if (time) scales.x.range = (u, min, max) => (u.data[0].length === 1 && min != null ? [min - 1800, min + 1800] : [min, max]);
    if (spec.categories) scales.x.range = (u) => [-0.5, Math.max(1, u.data[0].length) - 0.5];
    else if (!time && spec.series.some((s) => s.bars)) {
      // A histogram's bars are centred on their x: the range reaches half
      // a bin (spec.bin, or the closest two xs) past the outer ones, so
      // that they are drawn whole, not cut in half at the plot's edges.
      scales.x.range = (u, min, max) => {
        if (min == null || max == null) return [0, 1];
        const xs = u.data[0];
        let bin = spec.bin || Infinity;
        for (let i = 1; i < xs.length; i++) if (xs[i] > xs[i - 1]) bin = Math.min(bin, xs[i] - xs[i - 1]);
        if (!Number.isFinite(bin)) bin = 1;
        return [min - bin / 2, max + bin / 2];
      };
    }
    for (const [k, v] of Object.entries(spec.scales || {})) scales[k] = v;
    for (const a of spec.axes || [{ scale: "y" }]) {
      if (!scales[a.scale]) scales[a.scale] = { range: (u, min, max) => [0, Math.max(1, (max || 0) * 1.1)] };
    }
    // A time axis's last label is centred on its tick and overhangs the
    // plot's right edge by half its width ("11:00am", about 27 px): with
    // no axis on the right to make room, the chart keeps 32 px there, as
    // axisSize keeps 56 on the left.
    const right = time && !(spec.axes || []).some((a) => a.side === 1) ? 32 : null;
    this.u = new uPlot({ width: this.width(), height: spec.height || 240, series, axes, scales, padding: [null, right, null, null],
      legend: { live: true }, cursor: { points: { size: 6 } }, hooks: { draw: [() => this.drawn()] } }, this.data, this.el.querySelector(".plot") || this.el);
  }

  // drawn counts the chart's draws (data-draws) and tells Chart.onDraw,
  // where a benchmark listens.
  drawn() {
    this.draws = (this.draws || 0) + 1;
    this.el.dataset.draws = String(this.draws);
    if (Chart.onDraw) Chart.onDraw(this);
  }

  width() { return Math.max(240, (this.el.clientWidth || this.el.parentElement.clientWidth || 320) - 4); }

  setData(data) {
    this.data = data;
    this.el.dataset.points = String(data[0].length);
    this.u.setData(data);
    // Times with no value in any series (the minutes of a range nothing
    // was labelled in) are no data either: the empty note says why.
    this.el.classList.toggle("no-data", data[0].length === 0 || data.slice(1).every((s) => s.every((v) => v == null)));
  }

  resize() { this.u.setSize({ width: this.width(), height: this.spec.height || 240 }); }

  // png downloads what the chart shows.
  png(name) {
    const c = this.u.ctx.canvas;
    const out = document.createElement("canvas");
    out.width = c.width;
    out.height = c.height;
    const ctx = out.getContext("2d");
    ctx.fillStyle = cssVar("--card");
    ctx.fillRect(0, 0, out.width, out.height);
    ctx.drawImage(c, 0, 0);
    download(name + ".png", out.toDataURL("image/png"));
  }
}

function download(name, href) {
  const a = document.createElement("a");
  a.href = href;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
}

// tableCSV is the CSV of the rows a table shows (empty-state rows left out).
function tableCSV(table) {
  const q = (s) => (/[",\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s);
  const rows = [];
  const head = table.tHead ? [...table.tHead.rows[0].cells].map((c) => c.textContent.trim()) : null;
  if (head) rows.push(head.map(q).join(","));
  for (const body of table.tBodies) {
    for (const r of body.rows) {
      if (r.classList.contains("empty") || r.classList.contains("hidden")) continue;
      rows.push([...r.cells].map((c) => q((c.dataset.csv != null ? c.dataset.csv : c.textContent).trim())).join(","));
    }
  }
  return rows.join("\n") + "\n";
}

// Every card's export buttons: CSV for each table, PNG for each chart.
document.addEventListener("click", (ev) => {
  const b = ev.target.closest("button[data-export]");
  if (!b) return;
  const card = b.closest(".card");
  const name = (card.id || "export") + "-" + new Date().toISOString().slice(0, 19).replace(/[:T]/g, "");
  if (b.dataset.export === "csv") {
    const t = card.querySelector("table");
    if (!t) return; // nothing tabulated yet (an alert whose features are gone)
    download(name + ".csv", URL.createObjectURL(new Blob([tableCSV(t)], { type: "text/csv" })));
  } else {
    for (const c of charts) if (card.contains(c.el)) c.png(name);
  }
});

function emptyRow(cols, text) {
  const tr = el("tr", undefined, "empty");
  const td = el("td", text);
  td.colSpan = cols;
  tr.append(td);
  return tr;
}

// ---- Live stream and freshness ----

const live = { es: null, connected: false, ready: null, summary: null, grewAt: null, lastSummaryAt: 0, handlers: {} };

function on(kind, fn) { (live.handlers[kind] = live.handlers[kind] || []).push(fn); }

function connect() {
  const es = new EventSource("api/v1/stream");
  live.es = es;
  es.onopen = () => { live.connected = true; freshness(); };
  es.onerror = () => {
    live.connected = false;
    freshness();
    if (es.readyState === EventSource.CLOSED) setTimeout(connect, 3000);
  };
  for (const kind of ["summary", "ready", "minute", "alerts", "labels", "quality", "end"]) {
    es.addEventListener(kind, (ev) => {
      let d;
      try { d = JSON.parse(ev.data); } catch (e) { return; }
      if (kind === "summary") {
        if (live.summary && d.transactions_total > live.summary.transactions_total) live.grewAt = Date.now();
        else if (!live.grewAt && d.changed_at) live.grewAt = Date.now() - (Date.parse(d.at) - Date.parse(d.changed_at));
        live.summary = d;
        live.lastSummaryAt = Date.now();
      }
      if (kind === "ready") live.ready = d;
      if (kind === "end") { live.connected = false; es.close(); setTimeout(connect, 2000); }
      freshness();
      if (state.refresh !== "live") {
        // The first state shows (a paused link opened still has its
        // totals); later ones wait.
        if (snapshotKinds.includes(kind)) {
          if (live.shown[kind]) live.pending[kind] = d; else deliver(kind, d);
        }
        return;
      }
      deliver(kind, d);
    });
  }
}

// snapshotKinds are the events that carry a whole state, not a change.
// Under a refresh interval the latest of each waits in live.pending and
// reaches the panels at each refresh (the other kinds' changes come with
// the range loaded again); paused, they wait until the refresh resumes.
const snapshotKinds = ["summary", "ready", "quality"];
live.pending = {};
live.shown = {};

function deliver(kind, d) {
  live.shown[kind] = true;
  for (const fn of live.handlers[kind] || []) {
    try { fn(d); } catch (e) { console.error(e); }
  }
}

function flushPending() {
  const p = live.pending;
  live.pending = {};
  for (const k of snapshotKinds) if (p[k]) deliver(k, p[k]);
}

// freshness sets the indicator from the connection, readiness and whether
// stored data actually grows: "live" only while it does.
// loadingNote says what `run` is still loading, from the summary's
// loading object (absent on serve and process): "" once all is loaded.
function loadingNote() {
  const s = live.summary, l = s && s.loading;
  if (!l || l.done) return "";
  const b = l.backfill || {}, a = l.analytics || {};
  if (b.state === "generating") return "the history backfill is running: " + Math.floor(b.percent) + "% of its event time generated, " + fmtInt.format(s.transactions_total) + " transactions stored";
  if (b.state === "storing") return "the history backfill is being stored: " + fmtInt.format(s.transactions_total) + " of " + fmtInt.format(b.records) + " records";
  if (a.state === "waiting") return "the first analytics refresh waits for the history to be stored";
  if (a.state === "running") return "the first analytics refresh is running";
  return "";
}

function freshness() {
  const s = $("status");
  let cls = "down", text;
  const now = Date.now();
  const ago = live.grewAt ? Math.round((now - live.grewAt) / 1000) : null;
  if (!live.connected || now - live.lastSummaryAt > 10000) {
    text = "reconnecting…";
    cls = "warn";
  } else if (live.ready && !live.ready.ready) {
    const since = live.ready.stalled_since ? new Date(live.ready.stalled_since).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : null;
    text = (since ? "stalled since " + since : "not ready") + ": " + (live.ready.reasons || []).join("; ");
  } else if (ago == null) {
    text = "waiting for data: nothing stored since this page opened";
    cls = "warn";
  } else if (ago <= 5) {
    text = "live";
    cls = "ok";
  } else if (ago <= 30) {
    text = "updated " + ago + " s ago";
    cls = "warn";
  } else {
    text = "stalled since " + new Date(live.grewAt).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" }) + ": nothing stored";
  }
  if (state.refresh === "off") text += " (paused)";
  const loading = loadingNote();
  if (loading) text += " · " + loading;
  s.className = "status " + cls;
  s.textContent = text;
}
setInterval(freshness, 1000);

// ---- Pages and refresh ----

// page registers what a page does: load() fetches its range; enter() runs
// when it shows.
const pageDefs = {};
function page(name, def) { pageDefs[name] = def; }

let refreshTimer = null;
let shownView = ""; // the page, range and filters render loaded last
let loading = 0; // loads running
let loadSeq = 0;

// loadPage backfills the page shown; html[data-loading] is "1" while a
// load runs (the header shows it), "0" once the last one is done.
async function loadPage(fromTimer) {
  const def = pageDefs[state.page];
  if (!def || (fromTimer === true && loading > 0)) return;
  loading++;
  const seq = ++loadSeq;
  document.documentElement.dataset.loading = "1";
  try {
    await def.load(timeRange());
  } catch (e) {
    console.warn(e);
  } finally {
    loading--;
    if (loading === 0 && seq === loadSeq) document.documentElement.dataset.loading = "0";
  }
}

function render() {
  readHash();
  for (const p of pages) {
    $("page-" + p).classList.toggle("hidden", p !== state.page);
    const a = document.querySelector('nav a[data-page="' + p + '"]');
    a.classList.toggle("active", p === state.page);
    a.href = hashOf(p, new URLSearchParams());
  }
  $("range").value = state.range;
  $("refresh").value = state.refresh;
  $("custom").classList.toggle("hidden", state.range !== "custom");
  if (state.range === "custom") {
    // A URL may give any time Date.parse reads (RFC 3339, with seconds
    // or a zone: 2011-06-30T00:00:00Z); the inputs hold local minutes.
    const input = (v) => (Number.isFinite(Date.parse(v || "")) ? localInput(Date.parse(v)) : v || "");
    $("from").value = input(state.params.get("from"));
    $("to").value = input(state.params.get("to"));
  }
  document.title = "shopstream · " + document.querySelector('nav a[data-page="' + state.page + '"]').textContent;
  for (const c of charts) if (c.el.offsetParent) c.resize();
  freshness();
  clearInterval(refreshTimer);
  const every = refreshes[state.refresh];
  // Pausing keeps what shows: a view only paused (same page, range and
  // filters as the one loaded) loads nothing; a paused link opened afresh
  // loads once.
  const view = state.page + "?" + state.range + "&" + state.params.toString();
  const onlyPaused = every < 0 && view === shownView;
  shownView = view;
  // Live: the stream updates the panels; the range is backfilled again
  // each minute. An interval: the range and the stream's latest totals
  // each time. Paused: nothing changes.
  if (every >= 0) {
    flushPending();
    refreshTimer = setInterval(() => { flushPending(); loadPage(true); }, (every || 60) * 1000);
  }
  if (!onlyPaused) loadPage();
}

$("range").addEventListener("change", () => {
  state.range = $("range").value;
  const p = new URLSearchParams(state.params);
  if (state.range === "custom" && !p.get("from")) {
    const now = Date.now();
    p.set("from", localInput(now - 6 * 3600e3));
    p.set("to", localInput(now));
  }
  location.hash = hashOf(state.page, p);
});
$("custom").addEventListener("change", () => {
  const p = new URLSearchParams(state.params);
  p.set("from", $("from").value);
  p.set("to", $("to").value);
  location.hash = hashOf(state.page, p);
});
$("refresh").addEventListener("change", () => {
  state.refresh = $("refresh").value;
  location.hash = hashOf(state.page, state.params);
});
$("theme").addEventListener("click", () => {
  const dark = document.documentElement.dataset.theme === "dark";
  localStorage.setItem("shopstream-theme", dark ? "light" : "dark");
  applyTheme();
  for (const c of charts) { c.build(); c.u.setData(c.data); }
});
window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
  applyTheme();
  for (const c of charts) { c.build(); c.u.setData(c.data); }
});
window.addEventListener("resize", () => { for (const c of charts) if (c.el.offsetParent) c.resize(); });
window.addEventListener("hashchange", render);

applyTheme();
document.addEventListener("DOMContentLoaded", () => {
  render();
  connect();
});
