// shopstream dashboard: polls the REST API and draws with uPlot.
"use strict";

const fmtInt = new Intl.NumberFormat("en-US");
const fmtMoney = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
// The currency with the most revenue: the revenue chart draws it.
let mainCurrency = null;
const currencyFormats = new Map();
// fmtCurrency formats an amount of the summary's revenue ({currency, amount}).
function fmtCurrency(a) {
  let f = currencyFormats.get(a.currency);
  if (!f) {
    try {
      f = new Intl.NumberFormat("en-US", { style: "currency", currency: a.currency, maximumFractionDigits: 0 });
    } catch (e) {
      f = { format: (v) => fmtMoney.format(v) + " " + a.currency };
    }
    currencyFormats.set(a.currency, f);
  }
  return f.format(Number(a.amount));
}
// minorPer is how many minor units make one unit of a currency.
function minorPer(currency) {
  try {
    return 10 ** new Intl.NumberFormat("en-US", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
  } catch (e) {
    return 100;
  }
}
const $ = (id) => document.getElementById(id);
// compact formats an axis value: 1.2M, 350k, 42.
const compactFmt = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });
const compact = (v) => (v == null ? "" : compactFmt.format(v));

async function getJSON(url) {
  const r = await fetch(url, { cache: "no-store" });
  if (!r.ok) throw new Error(url + ": " + r.status);
  return r.json();
}

function chartWidth(el) { return Math.max(320, el.clientWidth - 8); }

const axes = [{ stroke: "#8b93a7", grid: { stroke: "#252b40" } }, { stroke: "#8b93a7", grid: { stroke: "#252b40" } }];

// Live transactions per second, from the change of the stored total.
const tpsWindow = 300;
const tpsData = [[], []];
const tpsEl = $("chart-tps");
const tpsChart = new uPlot({
  width: chartWidth(tpsEl), height: 260,
  series: [{}, { label: "tx/s", stroke: "#4f8cff", fill: "rgba(79,140,255,0.15)", width: 2 }],
  // The y axis starts at 0, so small changes of rate do not look like swings.
  axes: axes, scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
}, tpsData, tpsEl);

// Per-minute revenue and volume in event time.
const minEl = $("chart-min");
const minChart = new uPlot({
  width: chartWidth(minEl), height: 260,
  series: [{}, { label: "revenue", stroke: "#3ecf8e", width: 2, scale: "rev" },
    { label: "transactions", stroke: "#f5a623", width: 2, scale: "n" }],
  axes: [axes[0], { scale: "rev", stroke: "#3ecf8e", grid: { stroke: "#252b40" }, size: 64, values: (u, vals) => vals.map(compact) },
    { scale: "n", side: 1, stroke: "#f5a623", grid: { show: false } }],
  scales: { x: { time: true }, rev: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] }, n: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
}, [[], [], []], minEl);

let last = null;

async function pollSummary() {
  try {
    const s = await getJSON("api/v1/summary");
    const now = Date.now() / 1000;
    $("t-tx").textContent = fmtInt.format(s.transactions_total);
    // Revenue per currency, largest first: never added across currencies.
    const rev = s.revenue || [];
    $("t-rev").textContent = rev.length ? rev.slice(0, 3).map(fmtCurrency).join(" · ") + (rev.length > 3 ? " …" : "") : "–";
    if (rev.length) mainCurrency = rev[0].currency;
    $("t-alerts").textContent = fmtInt.format(s.fraud_alerts_total);
    $("t-quar").textContent = fmtInt.format(s.quarantined_total);
    $("t-cust").textContent = fmtInt.format(s.customers_total);
    if (last) {
      const dt = now - last.at;
      const tps = dt > 0 ? (s.transactions_total - last.total) / dt : 0;
      tpsData[0].push(now); tpsData[1].push(Math.max(0, tps));
      while (tpsData[0].length > tpsWindow) { tpsData[0].shift(); tpsData[1].shift(); }
      tpsChart.setData(tpsData);
      $("t-tps").textContent = fmtInt.format(Math.round(tps));
    }
    last = { at: now, total: s.transactions_total };
    if (stallText) setStatus(false, stallText); else setStatus(true, "live");
  } catch (e) {
    setStatus(false, "no data: " + e.message);
  }
}

async function pollMinutes() {
  try {
    const w = await getJSON("api/v1/windows?granularity=minute");
    const by = new Map();
    for (const r of w.windows) {
      const t = Date.parse(r.start) / 1000;
      const cur = by.get(t) || { rev: 0, n: 0 };
      // Counts add up over currencies; revenue is drawn for the main
      // currency only.
      if (!mainCurrency || r.currency === mainCurrency) cur.rev += Number(r.revenue_minor) / minorPer(r.currency);
      cur.n += r.count;
      by.set(t, cur);
    }
    if (mainCurrency) $("min-currency").textContent = mainCurrency;
    const ts = [...by.keys()].sort((a, b) => a - b);
    minChart.setData([ts, ts.map((t) => by.get(t).rev), ts.map((t) => by.get(t).n)]);
  } catch (e) {
    setStatus(false, "no data: " + e.message);
  }
}

// Readiness: a stalled pipeline shows in the live indicator, e.g.
// "stalled since 10:42: writes failing (...)".
let stallText = null;

async function pollReady() {
  try {
    const r = await fetch("readyz", { cache: "no-store" });
    const body = await r.json();
    if (body.ready) { stallText = null; return; }
    const since = body.stalled_since
      ? new Date(body.stalled_since).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : null;
    stallText = (since ? "stalled since " + since : "not ready") + ": " + (body.reasons || []).join("; ");
    setStatus(false, stallText);
  } catch (e) {
    // /readyz unreachable: pollSummary reports the lost connection.
  }
}

function setStatus(ok, text) {
  const el = $("status");
  el.className = "status " + (ok ? "ok" : "down");
  el.textContent = text;
}

window.addEventListener("resize", () => {
  tpsChart.setSize({ width: chartWidth(tpsEl), height: 260 });
  minChart.setSize({ width: chartWidth(minEl), height: 260 });
});

pollSummary(); pollMinutes(); pollReady();
setInterval(pollSummary, 1000);
setInterval(pollReady, 2000);
setInterval(pollMinutes, 5000);

// ---- Fraud: live alerts, detection quality, model versions ----
// The panels hide themselves when the server has no fraud API.

const fmtAmount = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const fmtPct = (v) => (v == null ? "–" : (v * 100).toFixed(1) + "%");
const fmtRatio = (v) => (v == null ? "–" : v.toFixed(3));

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function emptyRow(cols, text) {
  const tr = el("tr", undefined, "empty");
  const td = el("td", text);
  td.colSpan = cols;
  tr.append(td);
  return tr;
}

let fraudAvailable = true;

// fraudJSON fetches url; body, when given, is POSTed as JSON.
async function fraudJSON(url, method, body) {
  const init = { cache: "no-store", method: method || "GET" };
  if (body !== undefined) {
    init.headers = { "Content-Type": "application/json" };
    init.body = JSON.stringify(body);
  }
  const r = await fetch(url, init);
  if (r.status === 404 && !method) {
    fraudAvailable = false;
    for (const p of document.querySelectorAll(".fraud-panel")) p.classList.add("unavailable");
    throw new Error("no fraud API");
  }
  const out = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error((out.error && out.error.message) || url + ": " + r.status);
  return out;
}

// A reason is a rule that fired ({rule, reason, weight}) or a feature that
// stood out ({feature, value, z}).
function reasonShort(r) {
  if (typeof r === "string") return r;
  if (r && r.rule) return r.rule;
  if (r && r.feature) return r.feature + " " + (r.z > 0 ? "+" : "") + r.z + "σ";
  return JSON.stringify(r);
}

function reasonLong(r) {
  if (r && r.rule) return r.rule + " (" + r.weight + "): " + r.reason;
  if (r && r.feature) return r.feature + " = " + r.value + ", " + r.z + " standard deviations from the usual";
  return reasonShort(r);
}

let lastAlertID = 0;

async function labelAlert(id, label) {
  try {
    await fraudJSON("api/v1/alerts/" + encodeURIComponent(id) + "/label", "POST", { label: label });
  } catch (e) {
    $("alerts-count").textContent = "labelling failed: " + e.message;
  }
  pollAlerts();
}

const statusNames = { open: "open", confirmed_fraud: "fraud", false_positive: "false positive" };

async function pollAlerts() {
  if (!fraudAvailable) return;
  try {
    const a = await fraudJSON("api/v1/alerts?limit=15");
    const rows = a.alerts.map((x) => {
      const tr = el("tr");
      tr.dataset.id = x.transaction_id;
      if (lastAlertID > 0 && x.id > lastAlertID) tr.className = "fresh";
      const t = new Date(x.event_time);
      const reasons = Array.isArray(x.reasons) ? x.reasons : [];
      const rs = el("td", reasons.map(reasonShort).join(", "), "reasons");
      rs.title = reasons.map(reasonLong).join("\n");
      const st = el("td");
      if (x.status === "open") {
        for (const [label, text] of [["fraud", "fraud"], ["false_positive", "false +"]]) {
          const b = el("button", text);
          b.type = "button";
          b.title = "mark as " + (label === "fraud" ? "confirmed fraud" : "a false positive");
          b.addEventListener("click", () => labelAlert(x.transaction_id, label));
          st.append(b);
        }
      } else {
        st.append(el("span", statusNames[x.status] || x.status, "status-" + x.status));
      }
      tr.append(el("td", t.toLocaleDateString() + " " + t.toLocaleTimeString()), el("td", x.customer_id),
        el("td", fmtAmount.format(x.amount), "num"), el("td", x.risk.toFixed(3), "num"),
        el("td", x.decision, "decision-" + x.decision), rs, st);
      return tr;
    });
    if (rows.length === 0) rows.push(emptyRow(7, "no alerts yet"));
    $("alerts-body").replaceChildren(...rows);
    lastAlertID = Math.max(lastAlertID, a.last_id);
    $("alerts-count").textContent = "";
  } catch (e) {
    if (fraudAvailable) $("alerts-count").textContent = "no data: " + e.message;
  }
}

// Recall and precision per bucket of event time, at the decisions taken.
const fraudEl = $("chart-fraud");
const fraudChart = new uPlot({
  width: chartWidth(fraudEl), height: 240,
  series: [{}, { label: "recall", stroke: "#ff6b6b", width: 2, scale: "r", spanGaps: true },
    { label: "precision", stroke: "#a78bfa", width: 2, scale: "r", spanGaps: true }],
  axes: [axes[0], { scale: "r", stroke: "#8b93a7", grid: { stroke: "#252b40" }, values: (u, vs) => vs.map((v) => Math.round(v * 100) + "%") }],
  scales: { x: { time: true }, r: { auto: false, range: [0, 1.05] } },
}, [[], [], []], fraudEl);

async function pollFraudMetrics() {
  if (!fraudAvailable) return;
  try {
    const m = await fraudJSON("api/v1/fraud/metrics?window=" + $("fq-window").value);
    $("fq-precision").textContent = fmtPct(m.precision);
    $("fq-recall").textContent = fmtPct(m.recall);
    $("fq-fpr").textContent = fmtPct(m.fpr);
    $("fq-prauc").textContent = fmtRatio(m.pr_auc);
    $("fq-rocauc").textContent = fmtRatio(m.roc_auc);
    $("fq-labelled").textContent = fmtInt.format(m.labelled) + " / " + fmtInt.format(m.fraud);
    let sub = "against the labels: " + (m.sampled ? "newest " + fmtInt.format(m.sample_limit) + " of the window" :
      fmtInt.format(m.transactions) + " transactions") + ", held at risk ≥ " + m.thresholds.review_at;
    if (m.analyst_labelled > 0) sub += ", " + fmtInt.format(m.analyst_labelled) + " labelled by analysts";
    if (m.shadow && m.shadow.version) sub += "; shadow v" + m.shadow.version + " PR-AUC " + fmtRatio(m.shadow.pr_auc) + " vs " + fmtRatio(m.shadow.active_pr_auc);
    $("fq-sub").textContent = sub;
    const names = Object.keys(m.per_scenario).sort();
    const rows = names.map((n) => {
      const s = m.per_scenario[n];
      const tr = el("tr");
      tr.append(el("td", n), el("td", fmtInt.format(s.fraud), "num"), el("td", fmtInt.format(s.caught), "num"), el("td", fmtPct(s.recall), "num"));
      return tr;
    });
    if (rows.length === 0) rows.push(emptyRow(4, "no labelled fraud in the window"));
    $("fq-scenarios").replaceChildren(...rows);
    const ts = m.series.map((p) => Date.parse(p.start) / 1000);
    fraudChart.setData([ts, m.series.map((p) => p.recall), m.series.map((p) => p.precision)]);
  } catch (e) {
    if (fraudAvailable) $("fq-sub").textContent = "no data: " + e.message;
  }
}

async function modelAction(url, what) {
  try {
    await fraudJSON(url, "POST");
  } catch (e) {
    $("fm-sub").textContent = what + " failed: " + e.message;
    return;
  }
  pollModels();
  pollFraudMetrics();
}

async function pollModels() {
  if (!fraudAvailable) return;
  try {
    const r = await fraudJSON("api/v1/fraud/models");
    const rows = r.models.slice(0, 10).map((m) => {
      const tr = el("tr");
      const ev = m.metrics && m.metrics.evaluation;
      const pr = ev && ev.candidate ? ev.candidate.pr_auc : null;
      const act = el("td");
      if (m.status !== "active") {
        const b = el("button", "promote");
        b.type = "button";
        b.addEventListener("click", () => modelAction("api/v1/fraud/models/" + m.version + "/promote", "promoting v" + m.version));
        act.append(b);
      }
      tr.append(el("td", "v" + m.version), el("td", m.status + (m.rolled_back ? " (rolled back)" : ""), "status-" + m.status),
        el("td", new Date(m.created_at).toLocaleString()), el("td", m.metrics && m.metrics.rows != null ? fmtInt.format(m.metrics.rows) : "–", "num"),
        el("td", fmtRatio(pr), "num"), el("td", m.note), act);
      return tr;
    });
    if (rows.length === 0) rows.push(emptyRow(7, "no model trained yet: rules alone"));
    $("fm-body").replaceChildren(...rows);
    const v = (x) => (x == null ? "none" : "v" + x);
    $("fm-sub").textContent = "stored: active " + v(r.stored.active) + ", shadow " + v(r.stored.shadow) +
      " · this server: active " + v(r.in_use.active) + ", shadow " + v(r.in_use.shadow);
    $("fm-rollback").disabled = r.models.length < 2;
  } catch (e) {
    if (fraudAvailable) $("fm-sub").textContent = "no data: " + e.message;
  }
}

$("fm-rollback").addEventListener("click", () => {
  if (window.confirm("Re-activate the previous active model version?")) modelAction("api/v1/fraud/models/rollback", "rollback");
});
$("fq-window").addEventListener("change", pollFraudMetrics);
window.addEventListener("resize", () => fraudChart.setSize({ width: chartWidth(fraudEl), height: 240 }));

pollAlerts(); pollFraudMetrics(); pollModels();
setInterval(pollAlerts, 1500);
setInterval(pollFraudMetrics, 5000);
setInterval(pollModels, 10000);
