// shopstream dashboard: polls the REST API and draws with uPlot.
"use strict";

const fmtInt = new Intl.NumberFormat("en-US");
const fmtMoney = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const $ = (id) => document.getElementById(id);

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
  axes: axes, scales: { x: { time: true } },
}, tpsData, tpsEl);

// Per-minute revenue and volume in event time.
const minEl = $("chart-min");
const minChart = new uPlot({
  width: chartWidth(minEl), height: 260,
  series: [{}, { label: "revenue", stroke: "#3ecf8e", width: 2, scale: "rev" },
    { label: "transactions", stroke: "#f5a623", width: 2, scale: "n" }],
  axes: [axes[0], { scale: "rev", stroke: "#3ecf8e", grid: { stroke: "#252b40" } },
    { scale: "n", side: 1, stroke: "#f5a623", grid: { show: false } }],
  scales: { x: { time: true } },
}, [[], [], []], minEl);

let last = null;

async function pollSummary() {
  try {
    const s = await getJSON("api/v1/summary");
    const now = Date.now() / 1000;
    $("t-tx").textContent = fmtInt.format(s.transactions_total);
    $("t-rev").textContent = fmtMoney.format(s.revenue_total);
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
    setStatus(true, "live");
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
      cur.rev += r.revenue_cents / 100; cur.n += r.count;
      by.set(t, cur);
    }
    const ts = [...by.keys()].sort((a, b) => a - b);
    minChart.setData([ts, ts.map((t) => by.get(t).rev), ts.map((t) => by.get(t).n)]);
  } catch (e) {
    setStatus(false, "no data: " + e.message);
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

pollSummary(); pollMinutes();
setInterval(pollSummary, 1000);
setInterval(pollMinutes, 5000);
