// shopstream dashboard: the six pages' panels. Each page's load(range)
// backfills the chosen time range from the API; the stream's events
// (core.js on()) update what is live.
"use strict";

// ---- Overview ----

// minuteSeries sums /api/v1/windows rows per window start: count, alerts,
// revenue per currency (units).
function minuteSeries(windows) {
  const by = new Map();
  for (const r of windows) {
    const t = Date.parse(r.start) / 1000;
    let m = by.get(t);
    if (!m) { m = { n: 0, alerts: 0, rev: {} }; by.set(t, m); }
    m.n += r.count;
    m.alerts += r.alerts;
    m.rev[r.currency] = (m.rev[r.currency] || 0) + r.revenue_minor / minorPer(r.currency);
  }
  return by;
}

const ov = { by: new Map(), step: 60, currency: null, prev: null, tps: [[], []], tpsBack: [[], []], last: null };

const volumeChart = new Chart($("chart-volume"), {
  height: 260,
  // Volume first, revenue last: the revenue line is drawn over the bars.
  series: [{ label: "transactions", color: "--c2", scale: "n", bars: true }, { label: "revenue", color: "--c1", scale: "rev",
    fmt: (v) => money(v, ov.currency || "USD") }],
  // Whole units of the range's currency (the store's main one when the
  // range has none; no symbol when nothing is stored): fractions of a
  // unit shown without decimals read $0, $0, $1, $1.
  axes: [{ scale: "rev", color: "--c1", ints: true, fmt: (v) => (ov.currency ? money(v, ov.currency) : compact(v)) }, { scale: "n", side: 1, color: "--c2", ints: true }],
});
const tpsChart = new Chart($("chart-tps"), { height: 200, series: [{ label: "tx/s", color: "--c0", fill: true, fmt: (v) => fmt1.format(v) }] });

// withLive is a backfilled series with the live points after it: the
// server's samples up to the first live point, then the live points (one
// a second, finer than the samples), within the range r.
function withLive(back, live, r) {
  const first = live[0].length ? live[0][0] : Infinity;
  const ts = [], vs = [];
  const add = (t, v) => {
    if (t < r.from || (r.custom && t > r.to)) return;
    ts.push(t);
    vs.push(v);
  };
  for (let i = 0; i < back[0].length; i++) if (back[0][i] < first) add(back[0][i], back[1][i]);
  for (let i = 0; i < live[0].length; i++) add(live[0][i], live[1][i]);
  return [ts, vs];
}

function drawTps() {
  tpsChart.setData(withLive(ov.tpsBack, ov.tps, timeRange()));
}

// backfillTps fills the transactions-per-second chart's range from the
// server's samples of the stored total (GET /api/v1/metrics/series); the
// stream's summaries append to it.
async function backfillTps(r) {
  let note = "";
  try {
    const out = await metricSeries([seriesStored], r);
    const m = out.metrics[0], s = m.series[0];
    ov.tpsBack = [m.times.slice(), s ? s.values.slice() : []];
    note = rangeNote(out, r);
  } catch (e) {
    ov.tpsBack = [[], []];
    note = "no samples from the server: " + e.message;
  }
  drawTps();
  $("tps-sub").textContent = "stored, from the server's samples" + (r.custom ? "" : ", then live each second") + (note ? "; " + note : "");
  if (!tpsChart.data[0].length) {
    $("chart-tps").querySelector(".empty-note").textContent = r.custom
      ? "No samples in this range: the server samples every 15 s, keeps two hours of those and coarser samples for 32 days." + (note ? " " + note[0].toUpperCase() + note.slice(1) + "." : "")
      : "Waiting for the stream's second reading…";
  }
}

// noRefreshYet says who computes the customer analytics, when none is
// stored: serve runs no refresh of its own.
const noRefreshYet = "the analytics refresh of a running process or run computes them every minute, and an import when it ends (or: shopstream analytics rfm --refresh)";

function drawVolume() {
  const r = timeRange();
  const now = Date.now() / 1000;
  // The unfinished window is left out: half a minute is not a drop.
  const ts = [...ov.by.keys()].filter((t) => t >= r.from - ov.step && t + ov.step <= Math.min(now, r.to + ov.step)).sort((a, b) => a - b);
  const cur = ov.currency;
  volumeChart.setData([ts, ts.map((t) => ov.by.get(t).n), ts.map((t) => (cur ? ov.by.get(t).rev[cur] || 0 : null))]);
  // uPlot lays its axes out again only when a scale changes: an empty
  // chart keeps the labels of its first draw, made before the currency
  // was known.
  if (ov.axisCurrency !== cur) {
    ov.axisCurrency = cur;
    volumeChart.u.redraw(false, true);
  }
  if (!ts.length) {
    // Say why: during the history backfill, stored event times lag behind.
    const sum = live.summary || ov.summary;
    const last = sum && sum.last_event_time;
    const loading = loadingNote();
    $("chart-volume").querySelector(".empty-note").textContent = loading
      ? "No purchases in this range yet: " + loading + (last ? "; stored event times reach " + fmtTime(last) + " so far — pick a longer range, or wait." : ".")
      : last && Date.parse(last) / 1000 < r.from
        ? "No purchases in this range: stored event times end at " + fmtTime(last) +
          (Date.parse(last) / 1000 < Date.now() / 1000 - 30 * 86400 ? " — pick a custom range that reaches them." : " — pick a longer range.")
        : "No purchases in this range yet: once the generator or the pipeline stores some, they show here.";
  }
  const unit = ov.step === 60 ? "minute" : ov.step === 3600 ? "hour" : ov.step % 3600 === 0 ? ov.step / 3600 + " hours" : ov.step / 60 + " minutes";
  $("volume-sub").textContent = "per " + unit + " of event time; revenue in " + (cur || "the main currency") +
    (ov.multi ? " (" + (ov.currencies.length - 1) + " other currenc" + (ov.currencies.length > 2 ? "ies" : "y") + " in this range: pick one in the menu)" : "") +
    "; the unfinished " + (ov.step > 3600 ? ov.step / 3600 + "-hour step" : unit) + " is left out";
}

// currencyPicker offers the range's currencies, largest revenue first,
// when there are several; the choice is kept in the URL (currency=).
function currencyPicker(cs, cur) {
  const sel = $("volume-currency");
  sel.hidden = cs.length < 2;
  sel.replaceChildren(...cs.map((c) => { const o = el("option", c); o.value = c; return o; }));
  if (cur) sel.value = cur;
}
$("volume-currency").addEventListener("change", (e) => setParam("currency", e.target.value));

function tile(id, value, now, before, higherIsBetter) {
  const t = $(id);
  t.querySelector(".value").textContent = value;
  const d = t.querySelector(".delta");
  if (now == null || before == null || !Number.isFinite(now) || !Number.isFinite(before) || before === 0) {
    d.textContent = before === 0 && now > 0 ? "new vs previous period" : "no previous period";
    d.className = "delta";
    return;
  }
  const ch = (now - before) / Math.abs(before);
  if (fmtPct(Math.abs(ch)) === fmtPct(0)) { // no change at the precision shown
    d.textContent = "no change vs previous period";
    d.className = "delta";
    return;
  }
  d.textContent = (ch >= 0 ? "▲ " : "▼ ") + fmtPct(Math.abs(ch)) + " vs previous period";
  d.className = "delta " + ((ch >= 0) === (higherIsBetter !== false) ? "good" : "bad");
}

// sumRange totals the windows of [from, to).
function sumRange(by, from, to, cur) {
  const s = { n: 0, alerts: 0, rev: 0 };
  for (const [t, m] of by) {
    if (t < from || t >= to) continue;
    s.n += m.n;
    s.alerts += m.alerts;
    s.rev += cur ? m.rev[cur] || 0 : 0;
  }
  return s;
}

// summaryNow is the stream's latest summary, or GET /api/v1/summary
// before the stream has sent one (null when that fails).
async function summaryNow() {
  return live.summary || (await getJSON("api/v1/summary").catch(() => null));
}

// backfillStoredIn is when run's history backfill was stored (Unix
// seconds, the summary's loading.backfill.stored_at) if that falls in the
// range r, else null: the server's latency samples before it hold the
// backfill's records, committed long after their produce.
async function backfillStoredIn(r) {
  const s = await summaryNow();
  const bf = s && s.loading && s.loading.backfill;
  const stored = bf && bf.stored_at ? Date.parse(bf.stored_at) / 1000 : null;
  return stored != null && r.from < stored && (!r.custom || r.to > stored) ? stored : null;
}

// p95Latency is the produce-to-commit p95 of the range and of the one
// before it, from the server's samples of the pipeline's histogram
// (GET /api/v1/metrics/histograms): the histogram of /metrics counts since
// start, the history backfill included. A live range asks up to now.
// Where the server runs no pipeline (serve) it is of the processes'
// samples saved in the store, their buckets merged (instance=*).
async function p95Latency(r) {
  let merged = false;
  try {
    const list = await getJSON("api/v1/metrics/instances");
    merged = !list.server.pipeline && list.instances.length > 0;
  } catch (e) { /* an older server: its own samples only */ }
  // after: from the first sample at or after since, not the newest before it.
  const q = (since, until, after) => getJSON("api/v1/metrics/histograms?name=shopstream_e2e_latency_seconds&quantile=0.95&" +
    (after ? "after=" + iso(since) : "since=" + Math.floor(since)) + (until == null ? "" : "&until=" + Math.ceil(until)) + (merged ? "&instance=*" : ""));
  const until = r.custom ? r.to : null;
  let [now, before] = await Promise.all([q(r.from, until), q(r.from - r.seconds, r.from)]);
  // run's history backfill is committed in its first seconds, each record
  // long after its produce: a range from before it was stored is read from
  // the first sample after it, so the tile is the live stream's latency,
  // with no previous period to compare with.
  const stored = await backfillStoredIn(r);
  const afterBackfill = stored != null;
  if (afterBackfill) now = await q(stored, until, true);
  const h = (x) => (x.histograms.length ? x.histograms[0] : null);
  return { now, merged, afterBackfill, h: h(now), before: afterBackfill || before.capped || !before.from ? null : h(before) };
}

// fmtQuantile shows a quantile in ms (seconds) or as is, "> bound" past
// the histogram's last bucket.
function fmtQuantile(value, above, seconds) {
  const f = (v) => (seconds ? fmt1.format(v * 1000) + " ms" : fmt1.format(v));
  if (above != null) return "> " + f(above);
  return value == null ? "–" : f(value);
}

page("overview", {
  async load(r) {
    const tps = backfillTps(r);
    // Minutes up to 6 hours, hours up to 7 days, 3 hours beyond (240
    // points over 30 days), summed per currency by the server.
    const step = r.seconds > 7 * 86400 ? 10800 : r.seconds > 6 * 3600 ? 3600 : 60;
    const g = step === 60 ? "minute" : "hour";
    // The previous period too, for the tiles' change.
    const w = await getJSON("api/v1/windows?granularity=" + g + "&step=" + step + "&by=currency&since=" + iso(r.from - r.seconds) +
      "&until=" + iso(r.to + step));
    ov.step = w.step_seconds;
    ov.by = minuteSeries(w.windows);
    const revTotals = {};
    for (const m of ov.by.values()) for (const [c, v] of Object.entries(m.rev)) revTotals[c] = (revTotals[c] || 0) + v;
    const cs = Object.keys(revTotals).sort((a, b) => revTotals[b] - revTotals[a]);
    // Amounts in different currencies are never added: the chart and the
    // tile show one, the largest in the range unless the URL names another.
    const want = state.params.get("currency");
    // A range without purchases takes the store's main currency, and its
    // chart's note the stored times' end, from the summary.
    const sum = cs.length ? null : await summaryNow();
    ov.summary = sum;
    ov.currency = cs.includes(want) ? want : cs[0] || (sum && sum.revenue[0] ? sum.revenue[0].currency : null);
    ov.currencies = cs;
    ov.multi = cs.length > 1;
    currencyPicker(cs, ov.currency);
    drawVolume();
    const now = sumRange(ov.by, r.from, r.to, ov.currency), before = sumRange(ov.by, r.from - r.seconds, r.from, ov.currency);
    const mins = r.seconds / 60;
    tile("o-tps", fmt1.format(now.n / r.seconds), now.n, before.n);
    tile("o-rev", ov.currency ? money(now.rev / mins, ov.currency) : "–", now.rev, before.rev);
    $("o-rev").querySelector(".label").textContent = "Revenue / min" + (ov.multi ? " in " + ov.currency : "");
    if (ov.multi) {
      // The other currencies' own figures, each in its currency.
      const others = cs.filter((c) => c !== ov.currency).slice(0, 3)
        .map((c) => money(sumRange(ov.by, r.from, r.to, c).rev / mins, c));
      $("o-rev-also").textContent = "also " + others.join(" · ") + (cs.length > 4 ? " …" : "");
    } else {
      $("o-rev-also").textContent = "";
    }
    tile("o-fraud", fmtPct(now.n ? now.alerts / now.n : null, 2), now.n ? now.alerts / now.n : null, before.n ? before.alerts / before.n : null, false);
    // Whole minutes, as the API counts them: a span it would round out
    // past its 7 days is refused.
    const qRange = Math.min(Math.ceil(r.seconds / 60) * 60, 7 * 86400);
    const qTo = Math.ceil(r.to / 60) * 60;
    try {
      const [q, qb] = await Promise.all([getJSON("api/v1/quality?from=" + iso(qTo - qRange) + "&to=" + iso(qTo)),
        getJSON("api/v1/quality?from=" + iso(qTo - 2 * qRange) + "&to=" + iso(qTo - qRange))]);
      tile("o-quality", fmtPct(q.overall.score, 2), q.overall.score, qb.overall.score);
    } catch (e) {
      tile("o-quality", "–", null, null);
    }
    let p = null;
    try {
      p = await p95Latency(r);
    } catch (e) {
      tile("o-p95", "–", null, null);
      $("o-p95").querySelector(".delta").textContent = "no latency figures: " + e.message;
    }
    if (p) {
      const v = (h) => (h && h.count > 0 && h.value != null ? h.value : null);
      const h = p.h;
      // Past the last bucket the value is not known: no change.
      tile("o-p95", h && h.count > 0 ? fmtQuantile(h.value, h.above, true) : "–", v(h), h && h.above != null ? null : v(p.before), false);
      const d = $("o-p95").querySelector(".delta");
      if (!p.now.from) d.textContent = p.merged ? "no process saved latency samples in the range" : "no samples of the latency yet";
      else if (!h) d.textContent = "no produce-to-commit histogram in /metrics";
      else if (!h.count) d.textContent = "nothing committed in the range";
      if (h && p.now.capped) {
        d.textContent = "since " + fmtTime(p.now.from) + ", its oldest sample (" + (p.merged ? "the processes keep " : "the server keeps ") + fmtHeld(p.now.held_seconds) + ")";
        d.className = "delta";
      } else if (h && h.count && p.afterBackfill && p.now.from) {
        d.textContent = "since " + fmtTime(p.now.from) + ", live: the history's backfill left out";
        d.className = "delta";
      }
      const n = p.merged ? p.now.instances.length : 0;
      $("o-p95").title = n ? "Of the samples " + n + " process" + (n > 1 ? "es" : "") + " saved in the store (" + p.now.instances.join(", ") + "), their histograms merged" : "";
      $("o-p95").dataset.instances = n ? p.now.instances.join(",") : "";
      $("o-p95").querySelector(".label").textContent = "p95 produce → commit" + (n ? " (" + n + " process" + (n > 1 ? "es" : "") + ")" : "");
    }
    await tps;
  },
});

on("summary", (s) => {
  $("t-tx").textContent = fmtInt.format(s.transactions_total);
  const rev = s.revenue || [];
  $("t-rev").textContent = rev.length ? rev.slice(0, 2).map((a) => money(Number(a.amount), a.currency)).join(" · ") + (rev.length > 2 ? " …" : "") : "–";
  $("t-alerts").textContent = fmtInt.format(s.fraud_alerts_total);
  $("t-quar").textContent = fmtInt.format(s.quarantined_total);
  $("t-cust").textContent = fmtInt.format(s.customers_total);
  const at = Date.parse(s.at) / 1000;
  if (ov.last && at > ov.last.at) {
    const tps = Math.max(0, (s.transactions_total - ov.last.total) / (at - ov.last.at));
    ov.tps[0].push(at);
    ov.tps[1].push(tps);
    while (ov.tps[0].length > 900) { ov.tps[0].shift(); ov.tps[1].shift(); }
    drawTps();
    sys.tps = tps;
  }
  ov.last = { at, total: s.transactions_total };
});

on("minute", (d) => {
  if (ov.step !== 60 || timeRange().custom) return;
  for (const m of d.minutes) {
    const rev = {};
    for (const a of m.revenue) rev[a.currency] = Number(a.amount);
    ov.by.set(Date.parse(m.start) / 1000, { n: m.count, alerts: m.alerts, rev });
  }
  if (state.page === "overview") drawVolume();
});

// ---- Fraud ----

// fresh: alerts of the stream not drawn yet.
const fr = { alerts: [], fresh: [], late: false, cursor: null, review: 0.4, detail: null };

function reasonShort(r) {
  if (typeof r === "string") return r;
  if (r && r.rule) return r.rule;
  if (r && r.feature) return r.feature + " " + (r.z > 0 ? "+" : "") + r.z + "σ";
  return JSON.stringify(r);
}
function reasonLong(r) {
  if (r && r.rule) return r.rule + " (weight " + r.weight + "): " + r.reason;
  if (r && r.feature) return r.feature + " = " + r.value + ", " + r.z + " standard deviations from the customer's usual";
  return reasonShort(r);
}

// alertFilters are the queue's filters: URL parameter, form field, and
// the API's query parameter of the same name.
const alertFilters = [["decision", "f-decision"], ["status", "f-status"], ["scenario", "f-scenario"], ["reason", "f-reason"],
  ["min_amount", "f-amount"], ["max_amount", "f-max-amount"]];

// alertQuery is the API query of the filters in the URL: the database
// filters and pages the queue. The time range bounds the event time too:
// a custom one at both ends, a relative one ("last hour") from its start,
// open at the end so the stream's new alerts join.
function alertQuery() {
  const q = new URLSearchParams();
  for (const [k] of alertFilters) {
    const v = state.params.get(k);
    if (v && !(k === "status" && v === "all")) q.set(k, v);
  }
  const cust = state.params.get("customer");
  if (cust) q.set("customer", cust);
  const r = timeRange();
  q.set("since", String(Math.floor(r.from)));
  if (r.custom) q.set("until", String(Math.ceil(r.to)));
  return q;
}

// matches says whether an alert from the live stream passes the filters
// in the URL, as the API would have it. A new alert's scenario is known
// only when its label came with it (the generator's); label events come
// weeks later, so with a scenario filter most live alerts wait for their
// label before they match.
function matches(a) {
  const p = state.params;
  const rules = Array.isArray(a.reasons) ? a.reasons.filter((r) => r && r.rule).map((r) => r.rule) : [];
  if (p.get("customer") && a.customer_id !== p.get("customer")) return false;
  if (p.get("decision") && a.decision !== p.get("decision")) return false;
  if (p.get("scenario") && a.scenario !== p.get("scenario")) return false;
  if (p.get("reason") && !rules.includes(p.get("reason"))) return false;
  if (p.get("min_amount") && a.amount < Number(p.get("min_amount"))) return false;
  if (p.get("max_amount") && a.amount > Number(p.get("max_amount"))) return false;
  const st = p.get("status");
  if (st && st !== "all" && a.status !== st) return false;
  const r = timeRange();
  const t = Date.parse(a.event_time) / 1000;
  if (t < r.from || (r.custom && t >= r.to)) return false;
  return true;
}

function alertRow(a) {
  const tr = el("tr");
  tr.dataset.id = a.transaction_id;
  tr.dataset.alert = String(a.id);
  tr.dataset.scenario = a.scenario || "";
  tr.dataset.status = a.status;
  const reasons = Array.isArray(a.reasons) ? a.reasons : [];
  const rs = el("td", reasons.map(reasonShort).join(", "), "reasons");
  rs.title = reasons.map(reasonLong).join("\n");
  const st = el("td", undefined, "label-cell");
  fillStatus(st, a);
  const amount = el("td", a.currency ? moneyOf(a.amount, a.currency) : fmt2.format(a.amount), "num");
  amount.dataset.csv = String(a.amount);
  const sc = el("td", a.scenario || "pending label", a.scenario ? "scenario" : "scenario pending");
  if (!a.scenario) sc.title = "no label has named a scenario yet: chargebacks and analysts' labels arrive after the alert";
  const at = el("td", fmtTime(a.event_time));
  at.dataset.csv = a.event_time; // RFC 3339, with the year and the zone
  // An order raised by the entity stage's second step (a device, card, IP
  // address or shipping address it shares seen again, often minutes
  // later) is a newer alert of an older order: it comes above newer
  // orders, and says so; when that was within the second of its event
  // time, it is no later than it looks.
  if (a.created_at && reasons.some((r) => r.step === 2) && fmtTime(a.created_at) !== fmtTime(a.event_time)) {
    at.append(el("small", " raised " + fmtTime(a.created_at), "who"));
    at.title = "raised at " + fmtTime(a.created_at) + " by the entity stage: another account used a device, card, IP address or shipping address of this order";
  }
  tr.append(at, el("td", a.customer_id), amount, el("td", a.risk.toFixed(3), "num"),
    el("td", a.decision, "decision-" + a.decision), sc, rs, st);
  tr.addEventListener("click", (ev) => { if (!ev.target.closest("button")) setParam("alert", a.transaction_id); });
  if (state.params.get("alert") === a.transaction_id) tr.classList.add("selected");
  return tr;
}

const statusNames = { open: "open", confirmed_fraud: "fraud", false_positive: "false positive" };

// fillStatus shows the label buttons, or the label with who gave it and
// when, as the API recorded them; the buttons stay to correct a label.
function fillStatus(td, a) {
  td.replaceChildren();
  // The CSV gets the status and who labelled it when, not the buttons.
  td.dataset.csv = [statusNames[a.status] || a.status, a.labelled_by || "", a.labelled_at || ""].filter(Boolean).join(" ");
  if (a.status !== "open") {
    td.append(el("span", statusNames[a.status] || a.status, "status-" + a.status));
    const when = a.labelled_at ? new Date(a.labelled_at).toLocaleTimeString() : "";
    td.append(el("small", " " + [a.labelled_by ? "by " + a.labelled_by : "", when].filter(Boolean).join(" at "), "who"));
  }
  for (const [label, text] of [["fraud", "fraud"], ["false_positive", "false +"]]) {
    if ((label === "fraud" && a.status === "confirmed_fraud") || (label === "false_positive" && a.status === "false_positive")) continue;
    const b = el("button", text);
    b.type = "button";
    b.title = "mark as " + (label === "fraud" ? "confirmed fraud" : "a false positive");
    b.addEventListener("click", async () => {
      try {
        const out = await postJSON("api/v1/alerts/" + encodeURIComponent(a.transaction_id) + "/label", { label });
        Object.assign(a, out);
        fillStatus(td, a);
        if (fr.detail && fr.detail.id === a.transaction_id) { fr.detail = null; showDetail(); }
      } catch (e) {
        $("alerts-count").textContent = "labelling failed: " + e.message;
      }
    });
    td.append(b);
  }
}

const scoreChart = new Chart($("chart-scores"), { height: 200, time: false, xLabel: "risk", xFmt: (v) => v.toFixed(2), bin: 0.05,
  series: [{ label: "alerts", color: "--c3", bars: true, fmt: (v) => fmtInt.format(v) }], axes: [{ scale: "y", ints: true }] });

const shownAlerts = () => fr.alerts.filter((a) => !state.params.get("customer") || a.customer_id === state.params.get("customer"));

function drawAlerts() {
  fr.fresh = [];
  const shown = shownAlerts();
  const rows = shown.map(alertRow);
  const filtered = [...alertQuery().keys()].some((k) => k !== "since" && k !== "until") || state.params.get("customer");
  if (rows.length === 0) rows.push(emptyRow(8, filtered ? "no alert matches the filters: clear them or widen the range" : "no alerts in this range: widen it, or wait for the detector, which raises one for each transaction it reviews or declines"));
  $("alerts-body").replaceChildren(...rows);
  alertStats(shown);
  showDetail();
}

// alertStats shows the count and the risk histogram of the alerts shown.
function alertStats(shown) {
  $("alerts-count").textContent = shown.length + " shown" + (fr.cursor ? ", older ones on the next page" : ", the oldest reached");
  $("alerts-more").disabled = !fr.cursor;
  // Risk histogram of what is shown, 0.05 wide bins.
  const bins = new Array(20).fill(0);
  for (const a of shown) bins[Math.min(19, Math.floor(a.risk * 20))]++;
  const xs = bins.map((_, i) => i / 20 + 0.025);
  const keep = xs.map((_, i) => i).filter((i) => i >= fr.review * 20 - 1);
  scoreChart.setData(shown.length ? [keep.map((i) => xs[i]), keep.map((i) => bins[i])] : [[], []]);
}

// showDetail shows the alert named in the URL (alert=transaction id), read
// from GET /api/v1/alerts/{id} whether or not the queue lists it: the
// transaction, the label, the reasons and the scored features.
async function showDetail() {
  const id = state.params.get("alert");
  const box = $("alert-detail");
  box.classList.toggle("hidden", !id);
  if (!id) { fr.detail = null; return; }
  if (fr.detail && fr.detail.id === id) return;
  fr.detail = { id };
  $("ad-id").textContent = id;
  let a;
  try {
    a = await getJSON("api/v1/alerts/" + encodeURIComponent(id));
  } catch (e) {
    if (fr.detail && fr.detail.id === id) {
      $("ad-body").replaceChildren(el("p", e.status === 404 ? "No alert for transaction " + id + ": only reviewed and declined transactions raise one." : e.message, "error"));
    }
    return;
  }
  if (!fr.detail || fr.detail.id !== id) return; // another alert was opened meanwhile
  fr.detail.data = a;
  const t = a.transaction;
  const dl = el("dl");
  const add = (k, v) => { dl.append(el("dt", k), el("dd", v)); };
  add("customer", a.customer_id);
  add("event time", fmtTime(a.event_time));
  add("amount", t ? moneyOf(t.amount, t.currency) : a.currency ? moneyOf(a.amount, a.currency) : fmt2.format(a.amount));
  if (t) {
    add("channel, payment", t.channel + ", " + t.payment_method);
    add("card", t.card_bin + "…" + t.card_last4);
    add("device", t.device_id);
    add("IP country", (t.ip_country || "unknown") + (t.ip_hosting ? " (hosting)" : ""));
    add("billing, shipping", t.billing_country + ", " + t.shipping_country);
  }
  add("risk", a.risk.toFixed(3) + (t && t.shadow_risk != null ? " (shadow model " + t.shadow_risk.toFixed(3) + ")" : ""));
  add("decision", a.decision);
  add("model", a.model_version == null ? "rules only" : "v" + a.model_version);
  add("status", (statusNames[a.status] || a.status) + (a.labelled_at ? " by " + (a.labelled_by || "unknown") + " at " + fmtTime(a.labelled_at) : ""));
  add("label", a.label ? (a.label.fraud ? "fraud" : "legitimate") + (a.label.scenario ? ", " + a.label.scenario : "") : "pending label");
  const reasons = el("ul", undefined, "reasons");
  for (const r of Array.isArray(a.reasons) ? a.reasons : []) reasons.append(el("li", reasonLong(r)));
  if (!reasons.children.length) reasons.append(el("li", "no rule fired: the model's score alone"));
  const parts = [dl, el("h3", "reasons"), reasons, el("h3", "features")];
  if (a.features) {
    const tb = el("tbody");
    for (const f of a.features) {
      const tr = el("tr");
      tr.dataset.feature = f.name;
      tr.append(el("td", f.name), el("td", Number.isInteger(f.value) ? fmtInt.format(f.value) : f.value.toFixed(3), "num"));
      tb.append(tr);
    }
    const table = el("table", undefined, "features");
    const head = el("tr");
    head.append(el("th", "feature"), el("th", "value", "num"));
    const thead = el("thead");
    thead.append(head);
    table.append(thead, tb);
    const wrap = el("div", undefined, "scroll");
    wrap.append(table);
    parts.push(wrap);
  } else {
    parts.push(el("p", "The transaction is no longer stored (retention or an erasure), and its features with it."));
  }
  const link = el("a", "customer page");
  link.href = "#/customers?range=" + state.range + "&customer=" + encodeURIComponent(a.customer_id);
  parts.push(link);
  $("ad-body").replaceChildren(...parts);
}

// The rings panel: the entity stage's rings with their members, each a
// link to the customer's page.
async function loadRings() {
  let r;
  try {
    const q = new URLSearchParams({ limit: "20" });
    const tr = timeRange();
    q.set("since", String(Math.floor(tr.from)));
    if (tr.custom) q.set("until", String(Math.ceil(tr.to)));
    r = await getJSON("api/v1/fraud/rings?" + q);
  } catch (e) {
    $("rings-sub").textContent = "no rings: " + e.message;
    return;
  }
  const rows = r.rings.map((g) => {
    const tr = el("tr");
    tr.dataset.ring = g.key;
    const members = el("td", undefined, "members");
    g.members.forEach((m, i) => {
      if (i) members.append(document.createTextNode(", "));
      const a = el("a", m);
      a.href = "#/fraud?range=" + state.range + "&customer=" + encodeURIComponent(m);
      a.title = "this customer's alerts";
      members.append(a);
    });
    tr.append(el("td", fmtTime(g.updated_at)), el("td", fmtInt.format(g.members.length), "num"), members,
      el("td", g.entities.join(", ")), el("td", g.reason));
    return tr;
  });
  if (!rows.length) rows.push(emptyRow(5, r.enabled ? "no rings found yet: the entity stage looks for them unless shopstream runs with --entities=false (process: with --entities)" : "this store keeps no rings"));
  $("rings-body").replaceChildren(...rows);
  $("rings-sub").textContent = r.total ? fmtInt.format(r.total) + (r.total === 1 ? " ring" : " rings") + " joining " +
    fmtInt.format(r.accounts) + " accounts grew in the range" + (r.total > r.rings.length ? ", the latest " + r.rings.length + " shown" : "") +
    ": customers joined by shared devices and cards, most recently grown first" : "";
}

// Only the newest request's answer is drawn: a slow answer for filters
// since changed must not replace the list the new filters asked for.
let alertLoad = 0;
async function loadAlerts(older) {
  const q = alertQuery();
  q.set("limit", "100");
  if (older && fr.cursor) q.set("cursor", fr.cursor);
  const seq = ++alertLoad;
  const a = await getJSON("api/v1/alerts?" + q);
  if (seq !== alertLoad) return;
  fr.alerts = older ? fr.alerts.concat(a.alerts) : a.alerts;
  fr.cursor = a.next_cursor || null;
  drawAlerts();
}

const fraudChart = new Chart($("chart-fraud"), { height: 220,
  series: [{ label: "recall", color: "--c4", scale: "r", fmt: fmtPct }, { label: "precision", color: "--c5", scale: "r", fmt: fmtPct }],
  axes: [{ scale: "r", fmt: (v) => Math.round(v * 100) + "%" }], scales: { r: { auto: false, range: [0, 1.05] } } });

// The scenario chart has a line per scenario, so it is built again when
// the scenarios change: precision of all alerts first, then each recall.
const scenChart = new Chart($("chart-scenarios"), { height: 220,
  series: [{ label: "precision", color: "--c5", scale: "r", fmt: fmtPct }],
  axes: [{ scale: "r", fmt: (v) => Math.round(v * 100) + "%" }], scales: { r: { auto: false, range: [0, 1.05] } } });
const scenColors = ["--c4", "--c0", "--c2", "--c3", "--c1"];

async function loadScenarioSeries(r) {
  const q = r.custom ? "since=" + Math.floor(r.from) + "&until=" + Math.ceil(r.to) : "span=" + Math.round(r.seconds) + "s";
  const s = await getJSON("api/v1/fraud/series?" + q);
  const names = s.scenarios.map((x) => x.scenario);
  const want = ["precision", ...names.map((n) => "recall " + n)];
  if (scenChart.spec.series.map((x) => x.label).join("|") !== want.join("|")) {
    scenChart.spec.series = [scenChart.spec.series[0], ...names.map((n, i) => ({ label: "recall " + n, color: scenColors[i % scenColors.length], scale: "r", fmt: fmtPct }))];
    scenChart.build();
  }
  $("fs-sub").textContent = s.step_seconds ? "per " + (s.step_seconds >= 3600 ? s.step_seconds / 3600 + " h" : s.step_seconds / 60 + " min") + ", and precision of all alerts" : "nothing stored yet";
  scenChart.setData([s.starts.map((t) => Date.parse(t) / 1000), s.precision, ...s.scenarios.map((x) => x.recall)]);
}

// metricsWindow is the chosen range as the fraud metrics and cost take
// it: a named window of event time ending with the newest minute stored
// (as the other panels' spans), or a custom range's since and until.
function metricsWindow(r) {
  if (r.custom) return { q: "since=" + Math.floor(r.from) + "&until=" + Math.ceil(r.to), label: fmtTime(r.from * 1000) + " – " + fmtTime(r.to * 1000) };
  const name = ranges[state.range] ? state.range : "1h";
  return { q: "window=" + name, label: "last " + name + " of event time" };
}

// The review cost panel: the thresholds in force against the review
// threshold that keeps reviews within 0.5% of orders, and the labels
// still pending.
async function loadCost(win) {
  try {
    const [c, m] = await Promise.all([getJSON("api/v1/fraud/cost?" + win.q), getJSON("api/v1/fraud/metrics?" + win.q)]);
    const row = (name, p) => {
      const tr = el("tr");
      tr.append(el("td", name), el("td", p.review_at.toFixed(2), "num"), el("td", fmtInt.format(p.reviewed), "num"),
        el("td", fmtPct(p.review_rate, 2), "num"), el("td", fmtInt.format(p.declined), "num"),
        el("td", fmtInt.format(p.fraud_caught), "num"), el("td", fmtPct(p.caught_share), "num"));
      return tr;
    };
    $("fc-body").replaceChildren(row("in force", c.current), row("reviews ≤ " + fmtPct(c.target_review_rate, 1) + " of orders", c.target));
    $("fc-sub").textContent = win.label + ": " + fmtInt.format(c.transactions) + " transactions, " + fmtInt.format(c.known_fraud) + " known fraud";
    $("fc-pending").textContent = "Labels arrive late: " + fmtInt.format(m.pending.alerted) + " alerted and " + fmtInt.format(m.pending.unalerted) +
      " unalerted transactions of the window are still within the " + Math.round(m.label_window_days) + "-day label window (pending); " +
      fmtInt.format(m.presumed_legit) + " older unlabelled ones count as legitimate.";
  } catch (e) {
    $("fc-sub").textContent = "no cost figures: " + e.message;
  }
}

page("fraud", {
  async load(r) {
    for (const [k, id] of alertFilters) $(id).value = state.params.get(k) || (k === "status" ? "all" : "");
    if (!fr.rules) {
      fr.rules = true;
      getJSON("api/v1/fraud/rules").then((rs) => {
        $("rule-list").replaceChildren(...rs.rules.map((r) => { const o = el("option"); o.value = r.name; return o; }));
      }, () => { fr.rules = false; });
    }
    await loadAlerts(false);
    loadRings();
    const win = metricsWindow(r);
    loadCost(win);
    try {
      const m = await getJSON("api/v1/fraud/metrics?" + win.q);
      fr.review = m.thresholds.review_at;
      $("fq-precision").textContent = fmtPct(m.precision);
      $("fq-recall").textContent = fmtPct(m.recall);
      $("fq-fpr").textContent = fmtPct(m.fpr, 2);
      $("fq-prauc").textContent = m.pr_auc == null ? "–" : m.pr_auc.toFixed(3);
      $("fq-sub").textContent = win.label + ": " + fmtInt.format(m.labelled) + " labelled, " + fmtInt.format(m.fraud) + " fraud; held at risk ≥ " + m.thresholds.review_at;
      const sel = state.params.get("scenario");
      const names = Object.keys(m.per_scenario).sort();
      $("scenario-list").replaceChildren(...names.map((n) => { const o = el("option"); o.value = n; return o; }));
      const rows = names.map((n) => {
        const s = m.per_scenario[n];
        const tr = el("tr", undefined, n === sel ? "selected" : "");
        tr.dataset.scenario = n;
        tr.append(el("td", n), el("td", fmtInt.format(s.fraud), "num"), el("td", fmtInt.format(s.caught), "num"), el("td", fmtPct(s.recall), "num"));
        tr.addEventListener("click", () => setParam("scenario", n === sel ? "" : n));
        return tr;
      });
      if (!rows.length) rows.push(emptyRow(4, "no labelled fraud in the window yet"));
      $("fq-scenarios").replaceChildren(...rows);
      const ts = m.series.map((p) => Date.parse(p.start) / 1000);
      fraudChart.setData([ts, m.series.map((p) => p.recall), m.series.map((p) => p.precision)]);
    } catch (e) {
      $("fq-sub").textContent = "no detection figures: " + e.message;
    }
    await loadScenarioSeries(r).catch((e) => { $("fs-sub").textContent = "no series: " + e.message; });
    try {
      const mr = await getJSON("api/v1/fraud/models");
      const rows = mr.models.slice(0, 10).map((m) => {
        const tr = el("tr");
        const ev = m.metrics && m.metrics.evaluation;
        const pr = ev && ev.candidate ? ev.candidate.pr_auc : null;
        const act = el("td");
        if (m.status !== "active") {
          const b = el("button", "promote");
          b.type = "button";
          b.addEventListener("click", () => postJSON("api/v1/fraud/models/" + m.version + "/promote").then(loadPage, (e) => { $("fm-sub").textContent = e.message; }));
          act.append(b);
        }
        tr.append(el("td", "v" + m.version), el("td", m.status, "status-" + m.status), el("td", fmtTime(m.created_at)),
          el("td", m.metrics && m.metrics.rows != null ? fmtInt.format(m.metrics.rows) : "–", "num"), el("td", pr == null ? "–" : pr.toFixed(3), "num"), el("td", m.note), act);
        return tr;
      });
      if (!rows.length) rows.push(emptyRow(7, "no model trained yet: the rules decide alone until shopstream fraud train runs"));
      $("fm-body").replaceChildren(...rows);
      $("fm-rollback").disabled = mr.models.length < 2;
    } catch (e) {
      $("fm-sub").textContent = e.message;
    }
  },
});

// New alerts go on top, drawn once an animation frame however many
// arrive: their rows are added above the rows listed (which stay as they
// are), the oldest beyond the 1000 kept leave, and the count and the
// histogram follow. Ten events a second cost a few rows each, not the
// whole table (BenchmarkDashboardUpdates).
// An alert committed late, with a lower ID than one listed, goes in ID
// order instead, and the table is drawn again.
let alertsFrame = 0;
on("alerts", (d) => {
  const known = new Set(fr.alerts.map((x) => x.id));
  for (const a of d.alerts) {
    if (known.has(a.id) || !matches(a)) continue;
    if (fr.alerts.length && a.id < fr.alerts[0].id) {
      if (fr.cursor && a.id < fr.alerts[fr.alerts.length - 1].id) continue; // a page away
      const at = fr.alerts.findIndex((x) => x.id < a.id);
      fr.alerts.splice(at < 0 ? fr.alerts.length : at, 0, a);
      fr.late = true;
      continue;
    }
    fr.alerts.unshift(a);
    fr.fresh.push(a);
  }
  // The newest 1000 stay; older ones are a page away.
  if (fr.alerts.length > 1000) {
    fr.alerts.length = 1000;
    fr.cursor = String(fr.alerts[999].id);
  }
  if (state.page !== "fraud") { fr.fresh = []; fr.late = false; return; }
  if ((fr.fresh.length || fr.late) && !alertsFrame) alertsFrame = requestAnimationFrame(drawFreshAlerts);
});

function drawFreshAlerts() {
  alertsFrame = 0;
  const body = $("alerts-body"), fresh = fr.fresh, late = fr.late;
  fr.fresh = [];
  fr.late = false;
  if (state.page !== "fraud" || !(fresh.length || late)) return;
  if (late || body.querySelector("tr.empty")) { drawAlerts(); return; }
  const cust = state.params.get("customer");
  const kept = new Set(fr.alerts.map((a) => a.id));
  body.prepend(...fresh.filter((a) => kept.has(a.id) && (!cust || a.customer_id === cust)).reverse().map(alertRow));
  const shown = shownAlerts();
  while (body.rows.length > shown.length) body.rows[body.rows.length - 1].remove();
  alertStats(shown);
}

// A label that arrives after its alert (a chargeback naming the
// scenario, an analyst's verdict in another tab) comes as a labels event:
// a listed alert's row is drawn again where it is, or leaves the list if
// it no longer passes the filters; one not listed that passes them now
// joins it in ID order, unless it is older than the pages loaded.
on("labels", (d) => {
  let insert = false;
  for (const a of d.alerts) {
    const i = fr.alerts.findIndex((x) => x.id === a.id);
    if (i >= 0) {
      if (matches(a)) {
        fr.alerts[i] = a;
        const tr = $("alerts-body").querySelector('tr[data-alert="' + a.id + '"]');
        if (tr && state.page === "fraud") tr.replaceWith(alertRow(a));
      } else {
        fr.alerts.splice(i, 1);
        insert = true;
      }
    } else if (matches(a) && !(fr.cursor && fr.alerts.length && a.id < fr.alerts[fr.alerts.length - 1].id)) {
      const at = fr.alerts.findIndex((x) => x.id < a.id);
      fr.alerts.splice(at < 0 ? fr.alerts.length : at, 0, a);
      insert = true;
    }
    if (fr.detail && fr.detail.id === a.transaction_id && state.page === "fraud") { fr.detail = null; showDetail(); }
  }
  if (insert && state.page === "fraud") drawAlerts();
});

$("alert-filters").addEventListener("change", () => {
  const p = new URLSearchParams(state.params);
  for (const [k, id] of alertFilters) {
    const v = $(id).value.trim();
    if (v && !(k === "status" && v === "all")) p.set(k, v); else p.delete(k);
  }
  location.hash = hashOf("fraud", p);
});
$("alert-filters").addEventListener("submit", (ev) => ev.preventDefault());
$("alerts-more").addEventListener("click", () => loadAlerts(true));
$("ad-close").addEventListener("click", () => setParam("alert", ""));
$("fm-rollback").addEventListener("click", () => {
  if (window.confirm("Re-activate the previous active model version?")) postJSON("api/v1/fraud/models/rollback").then(loadPage, (e) => { $("fm-sub").textContent = e.message; });
});

// ---- Customers ----

const cu = { txID: null, txCursor: null, txPaged: false };
const segChart = new Chart($("chart-segments"), { height: 260, time: false, categories: true, xLabel: "segment",
  series: [{ label: "customers", color: "--c0", bars: true, fmt: (v) => fmtInt.format(v) }], axes: [{ scale: "y", ints: true }] });
const clvChart = new Chart($("chart-clv"), { height: 260, time: false, categories: true, xLabel: "segment",
  series: [{ label: "mean CLV", color: "--c1", bars: true, fmt: (v) => fmt2.format(v) }] });

const clvDistChart = new Chart($("chart-clv-dist"), { height: 240, time: false, categories: true, xLabel: "CLV", xFmt: String,
  series: [{ label: "customers", color: "--c1", bars: true, fmt: (v) => fmtInt.format(v) }], axes: [{ scale: "y", ints: true }] });
const aliveChart = new Chart($("chart-alive"), { height: 240, time: false, categories: true, xLabel: "P(alive)", xFmt: String,
  series: [{ label: "customers", color: "--c5", bars: true, fmt: (v) => fmtInt.format(v) }], axes: [{ scale: "y", ints: true }] });

// customerTxRow is one row of the purchase history; the CSV takes the
// ISO event time and the plain amount.
function customerTxRow(x) {
  const tr = el("tr");
  tr.dataset.id = x.transaction_id;
  const time = el("td", fmtTime(x.event_time));
  time.dataset.csv = x.event_time;
  const amount = el("td", moneyOf(x.amount, x.currency), "num");
  amount.dataset.csv = String(x.amount);
  tr.append(time, el("td", x.transaction_id), amount, el("td", x.currency), el("td", fmtInt.format(x.item_count), "num"),
    el("td", x.channel), el("td", x.payment_method), el("td", x.risk.toFixed(2), "num"), el("td", x.decision, "decision-" + x.decision));
  return tr;
}

// loadCustomerTx shows the first page of the customer's stored
// transactions, or (more) the next older page below those shown.
async function loadCustomerTx(id, more) {
  const q = new URLSearchParams({ limit: "25" });
  if (more && cu.txCursor) q.set("cursor", cu.txCursor);
  let r;
  try {
    r = await getJSON("api/v1/customers/" + encodeURIComponent(id) + "/transactions?" + q);
  } catch (e) {
    $("cust-tx-sub").textContent = e.message;
    return;
  }
  if (state.params.get("customer") !== id) return; // another customer was asked for meanwhile
  const rows = r.transactions.map(customerTxRow);
  if (more) {
    $("cust-tx-body").append(...rows);
  } else {
    $("cust-tx-body").replaceChildren(...(rows.length ? rows : [emptyRow(9, "no transaction of " + id + " is stored (retention may have pruned them)")]));
  }
  [cu.txID, cu.txCursor, cu.txPaged] = [id, r.next_cursor || null, more || false];
  $("cust-tx-more").disabled = !cu.txCursor;
  const n = $("cust-tx-body").querySelectorAll("tr[data-id]").length;
  $("cust-tx-count").textContent = fmtInt.format(n) + " shown" + (cu.txCursor ? "; older ones remain" : "");
  $("cust-tx-sub").textContent = "newest first, from the store";
}
$("cust-tx-more").addEventListener("click", () => { const id = state.params.get("customer"); if (id) loadCustomerTx(id, true); });

// customerRisk describes the customer's stored alerts, asked of the
// server (not the alerts this tab happened to load).
async function customerRisk(id, dd) {
  let r;
  try {
    r = await getJSON("api/v1/alerts?" + new URLSearchParams({ customer: id, limit: "20" }));
  } catch (e) {
    dd.textContent = e.message;
    return;
  }
  const as = r.alerts;
  if (!as.length) {
    dd.textContent = "none stored";
    return;
  }
  const n = (d) => as.filter((a) => a.decision === d).length;
  const top = Math.max(...as.map((a) => a.risk));
  dd.textContent = (r.next_cursor ? as.length + "+" : String(as.length)) + (as.length === 1 && !r.next_cursor ? " alert: " : " alerts: ") + n("decline") + " declined, " + n("review") + " in review; highest risk " +
    top.toFixed(2) + "; latest " + as[0].decision + " " + as[0].risk.toFixed(2) + " at " + fmtTime(as[0].event_time);
}

async function showCustomer(id) {
  const box = $("cust-body");
  box.classList.toggle("hidden", !id);
  $("cust-history").classList.toggle("hidden", !id);
  if (!id) return;
  $("cust-id").value = id;
  let c;
  try {
    c = await getJSON("api/v1/customers/" + encodeURIComponent(id));
  } catch (e) {
    box.replaceChildren(el("p", e.status === 404 ? "No purchase of " + id + " is stored: check the ID (customers look like c00001234)." : e.message, "error"));
    $("cust-history").classList.add("hidden");
    return;
  }
  const dl = el("dl");
  const add = (k, v) => { const dd = el("dd", v); dl.append(el("dt", k), dd); return dd; };
  add("first seen", fmtTime(c.first_seen));
  add("last seen", fmtTime(c.last_seen));
  add("orders", fmtInt.format(c.orders));
  add("revenue", fmt2.format(c.revenue));
  add("segment", c.rfm ? c.rfm.segment + " (RFM " + c.rfm.score + ")" : "not scored yet");
  add("CLV (12 months)", c.clv ? fmt2.format(c.clv.value) + ", alive " + fmtPct(c.clv.p_alive) : "no CLV model yet");
  add("cluster", c.cluster == null ? "–" : String(c.cluster));
  const risk = add("fraud alerts", "…");
  risk.id = "cust-risk";
  const recs = el("p", "recommendations: …");
  recs.id = "cust-recs";
  const alerts = el("a", "alerts of this customer");
  alerts.href = "#/fraud?range=" + state.range + "&customer=" + encodeURIComponent(id);
  const products = el("a", "recommendations page");
  products.href = "#/products?range=" + state.range + "&customer=" + encodeURIComponent(id);
  box.replaceChildren(el("h3", id), dl, recs, products, document.createTextNode(" · "), alerts);
  customerRisk(id, risk);
  // A refresh keeps the older pages the analyst opened.
  if (!(cu.txID === id && cu.txPaged)) loadCustomerTx(id, false);
  // preview: answered outside any A/B experiment, so looking at a
  // customer records no exposure (docs/recommendations.md).
  getJSON("api/v1/customers/" + encodeURIComponent(id) + "/recommendations?n=5&preview=true").then((r) => {
    recs.textContent = "recommendations (" + r.method + ", preview outside experiments): " + (r.items.length ? r.items.map((i) => i.item).join(", ") : "none");
  }, (e) => { recs.textContent = "recommendations: " + e.message; });
}

// showMovement fills the movement table: the largest flows between
// segments of the latest refresh (those of the selected segment when one
// is), new customers coming from "new" and erased ones going to "left".
function showMovement(mv, sel) {
  const name = (v, none) => (v == null ? none : v);
  if (!mv) {
    $("mv-sub").textContent = "customers who changed segment between the last two refreshes";
    $("mv-body").replaceChildren(emptyRow(5, "no movement recorded yet: each analytics refresh records it against the one before"));
    return;
  }
  const before = new Map(mv.segments.map((x) => [x.segment, x.before]));
  const flows = mv.flows.filter((f) => f.from !== f.to && (!sel || f.from === sel || f.to === sel)).slice(0, 12);
  $("mv-sub").textContent = (mv.previous_computed_at ? "since the refresh of " + fmtTime(mv.previous_computed_at) : "the first refresh recorded: every customer new") +
    ": " + fmtInt.format(mv.moved) + " moved, " + fmtInt.format(mv.entered) + " new, " + fmtInt.format(mv.left) + " left, " + fmtInt.format(mv.stayed) + " stayed";
  const rows = flows.map((f) => {
    const tr = el("tr");
    tr.dataset.from = name(f.from, "new");
    tr.dataset.to = name(f.to, "left");
    const b = f.from == null ? null : before.get(f.from);
    tr.append(el("td", name(f.from, "new")), el("td", "→"), el("td", name(f.to, "left")), el("td", fmtInt.format(f.customers), "num"),
      el("td", b ? fmtPct(f.customers / b) : "–", "num"));
    const to = f.to == null ? f.from : f.to;
    tr.addEventListener("click", () => setParam("segment", to === sel ? "" : to));
    return tr;
  });
  $("mv-body").replaceChildren(...(rows.length ? rows : [emptyRow(5, sel ? "no customer moved into or out of " + sel : "no customer changed segment")]));
}

// loadCustomerList shows the scored customers by ID, or by CLV with
// cust_sort=clv (GET /api/v1/customers): those of the selected segment
// (segment=), whose ID starts with q=, or all; more appends the next page.
const custList = { cursor: null, key: null, paged: false };
// aliveCell is a listed customer's P(alive); a one-time buyer's, which
// BG/NBD puts at 1 however long ago they bought, is marked and explained
// (the list's note).
function aliveCell(c) {
  if (!c.clv) return el("td", "–", "num");
  const one = c.frequency_days === 1 && c.clv.p_alive >= 0.9995;
  const td = el("td", fmtPct(c.clv.p_alive) + (one ? "*" : ""), one ? "num one-day" : "num");
  td.dataset.csv = fmtPct(c.clv.p_alive); // as before the mark
  if (one) td.title = "one purchase day: BG/NBD's P(alive) is 1 until a repeat purchase; their expected purchases, and CLV, fall with the time since";
  return td;
}

// shopMinorPer is the minor units per major unit of the store's one
// currency (the summary's revenue: 1 for JPY), 100 with several: the
// customer analytics' amounts are in it (analyticsview.MinorPer).
async function shopMinorPer() {
  const s = await summaryNow();
  const rev = (s && s.revenue) || [];
  return rev.length === 1 ? minorPer(rev[0].currency) : 100;
}

// custListKey names the list the URL asks for: its segment, prefix and
// order.
function custListKey() {
  return [state.params.get("segment") || "", state.params.get("q") || "", state.params.get("cust_sort") === "clv" ? "clv" : ""].join("\u0000");
}

async function loadCustomerList(more) {
  const seg = state.params.get("segment") || "", prefix = state.params.get("q") || "";
  const byCLV = state.params.get("cust_sort") === "clv";
  const key = custListKey();
  const q = new URLSearchParams({ limit: "50" });
  if (seg) q.set("segment", seg);
  if (prefix) q.set("prefix", prefix);
  if (byCLV) q.set("sort", "clv");
  $("cust-sort").value = byCLV ? "clv" : "id";
  if (more && custList.key !== key) return; // the pages shown are of another list: its cursor is not this one's
  if (more && custList.cursor) q.set("cursor", custList.cursor);
  $("cust-prefix").value = prefix;
  let r;
  try {
    r = await getJSON("api/v1/customers?" + q);
  } catch (e) {
    $("cust-list-sub").textContent = e.status === 404 ? "this server lists no customers" : e.message;
    return;
  }
  if (custListKey() !== key) return; // asked for others meanwhile
  const per = await shopMinorPer();
  const rows = r.customers.map((c) => {
    const tr = el("tr", undefined, c.customer_id === state.params.get("customer") ? "selected" : "");
    tr.dataset.customer = c.customer_id;
    const spend = el("td", fmt2.format(c.monetary_cents / per), "num");
    spend.dataset.csv = String(c.monetary_cents / per);
    tr.append(el("td", c.customer_id), el("td", c.segment), el("td", "" + c.r + c.f + c.m, "num"), el("td", fmtInt.format(c.frequency_days), "num"),
      el("td", fmtInt.format(c.recency_days), "num"), spend, el("td", c.clv ? fmt2.format(c.clv.value) : "–", "num"),
      aliveCell(c));
    tr.addEventListener("click", () => setParam("customer", c.customer_id));
    return tr;
  });
  if (more) {
    $("cust-list-body").append(...rows);
  } else {
    const none = byCLV && (prefix || seg) ? "no customer" + (seg ? " in " + seg : "") + (prefix ? " with an ID starting with " + prefix : "") + " has a predicted CLV"
      : byCLV ? "no customer has a predicted CLV: the CLV model is not fitted yet, or its fit is degenerate (see the CLV fit below)"
      : prefix ? "no customer" + (seg ? " in " + seg : "") + " has an ID starting with " + prefix
      : seg ? "no customer in " + seg : "no customers scored yet: " + (loadingNote() || noRefreshYet);
    $("cust-list-body").replaceChildren(...(rows.length ? rows : [emptyRow(8, none)]));
  }
  // The note explains the marked cells: none marked, none shown (a shop
  // without a CLV model lists no P(alive) at all).
  $("cust-list-note").hidden = !$("cust-list-body").querySelector("td.one-day");
  [custList.cursor, custList.key, custList.paged] = [r.next_cursor || null, key, more || false];
  $("cust-list-more").disabled = !custList.cursor;
  const n = $("cust-list-body").querySelectorAll("tr[data-customer]").length;
  $("cust-list-count").textContent = fmtInt.format(n) + " shown" + (custList.cursor ? "; more remain" : "");
  $("cust-list-sub").textContent = (seg ? "in " + seg : "every segment") + (prefix ? ", ID starting with " + prefix : "") +
    (byCLV ? "; by 12-month CLV, highest first (customers with one)" : "; by ID") + ", as of the latest analytics refresh";
}
$("cust-list-more").addEventListener("click", () => loadCustomerList(true));
$("cust-find").addEventListener("submit", (ev) => { ev.preventDefault(); setParam("q", $("cust-prefix").value.trim()); });
$("cust-sort").addEventListener("change", (e) => setParam("cust_sort", e.target.value === "clv" ? "clv" : ""));

page("customers", {
  async load() {
    showCustomer(state.params.get("customer"));
    // A refresh keeps the pages shown of the same list.
    if (!(custList.paged && custList.key === custListKey())) loadCustomerList(false);
    const sel = state.params.get("segment");
    try {
      // The movement of the latest refresh, recorded by the server
      // against the refresh before (null before any, or from an older
      // server without it).
      const [s, mv] = await Promise.all([getJSON("api/v1/segments"),
        getJSON("api/v1/segments/movement?limit=1").then((r) => r.movements[0] || null, () => null)]);
      const net = new Map(mv ? mv.segments.map((x) => [x.segment, x]) : []);
      const rows = s.rfm.map((g) => {
        const tr = el("tr", undefined, g.segment === sel ? "selected" : "");
        tr.dataset.segment = g.segment;
        const n = net.get(g.segment);
        const td = el("td", n == null ? "–" : (n.net > 0 ? "+" : "") + fmtInt.format(n.net), "num");
        if (n) td.title = "+" + fmtInt.format(n.in) + " in, −" + fmtInt.format(n.out) + " out";
        tr.append(el("td", g.segment), el("td", fmtInt.format(g.customers), "num"), el("td", fmtPct(g.share), "num"),
          el("td", fmt2.format(g.revenue), "num"), el("td", g.mean_clv == null ? "–" : fmt2.format(g.mean_clv), "num"), td);
        tr.addEventListener("click", () => setParam("segment", g.segment === sel ? "" : g.segment));
        return tr;
      });
      $("seg-body").replaceChildren(...(rows.length && s.customers ? rows : [emptyRow(6, "no segments yet: " + (loadingNote() || noRefreshYet))]));
      $("seg-sub").textContent = fmtInt.format(s.customers) + " customers scored; " +
        (!mv ? "change: none recorded yet" : mv.previous_computed_at ? "change since the refresh of " + fmtTime(mv.previous_computed_at) : "change: the first refresh recorded") +
        (sel ? "; " + sel + " selected" : "");
      showMovement(mv, sel);
      $("seg-notes").replaceChildren(...(s.notes || []).map((n) => el("p", n)));
      const shown = s.rfm.filter((g) => !sel || g.segment === sel);
      segChart.spec.xFmt = (i) => (shown[Math.round(i)] ? shown[Math.round(i)].segment : "");
      clvChart.spec.xFmt = segChart.spec.xFmt;
      segChart.build();
      clvChart.build();
      segChart.setData([shown.map((_, i) => i), shown.map((g) => g.customers)]);
      clvChart.setData([shown.map((_, i) => i), shown.map((g) => g.mean_clv)]);
      const cl = s.clusters;
      if (cl) {
        $("cl-sub").textContent = "k = " + cl.k + ", silhouette " + (cl.silhouette == null ? "–" : cl.silhouette.toFixed(3));
        const profiles = cl.profiles || [];
        const keys = profiles.length ? Object.keys(profiles[0]).filter((k) => typeof profiles[0][k] !== "object") : [];
        $("cl-head").replaceChildren(el("tr"));
        $("cl-head").rows[0].append(...keys.map((k) => el("th", k.replace(/_/g, " "))));
        $("cl-body").replaceChildren(...profiles.map((p) => {
          const tr = el("tr");
          const cell = (v) => (typeof v !== "number" ? String(v) : Number.isInteger(v) ? fmtInt.format(v) : fmt2.format(v));
          tr.append(...keys.map((k) => el("td", cell(p[k]), typeof p[k] === "number" ? "num" : "")));
          return tr;
        }));
      }
    } catch (e) {
      $("seg-sub").textContent = e.status === 404 ? "no customer analytics on this server (shopstream analytics)" : e.message;
    }
    try {
      const c = await getJSON("api/v1/cohorts");
      const n = Math.max(0, ...c.cohorts.map((x) => x.retention.length));
      const head = el("tr");
      head.append(el("th", "cohort"), el("th", "size", "num"), ...Array.from({ length: n }, (_, i) => el("th", "+" + i, "num")));
      $("coh-head").replaceChildren(head);
      // The month of the refresh's as-of is unfinished: its cells are
      // month to date, drawn hatched and uncoloured rather than as a drop.
      const p = c.partial;
      const mtd = p ? "month to date: " + p.days + " of " + p.days_in_month + " days of " + p.month : "";
      const rows = c.cohorts.map((x) => {
        const tr = el("tr");
        tr.append(el("td", x.month), el("td", fmtInt.format(x.size), "num"));
        for (let i = 0; i < n; i++) {
          const v = x.retention[i];
          const partial = v != null && x.partial_offset === i;
          const td = el("td", v == null ? "" : fmtPct(v, 0) + (partial ? " MTD" : ""), partial ? "num heat partial" : "num heat");
          if (partial) td.title = mtd;
          else if (v != null) td.style.setProperty("--heat", String(Math.round(v * 100)));
          tr.append(td);
        }
        return tr;
      });
      $("coh-sub").textContent = "share of each month's new customers buying again, by months since" + (p ? "; hatched (MTD): " + mtd : "");
      $("coh-body").replaceChildren(...(rows.length ? rows : [emptyRow(2, "no cohorts yet: " + (loadingNote() || noRefreshYet))]));
    } catch (e) { /* no analytics API: the segments panel says so */ }
    try {
      const d = await getJSON("api/v1/clv/distribution");
      const range = (b, f) => f(b.from) + (b.to == null ? "+" : "–" + f(b.to));
      clvDistChart.spec.xFmt = (i) => (d.clv[i] ? range(d.clv[i], compact) : "");
      clvDistChart.build();
      clvDistChart.setData(d.customers ? [d.clv.map((_, i) => i), d.clv.map((b) => b.customers)] : [[], []]);
      aliveChart.spec.xFmt = (i) => (d.p_alive[i] ? range(d.p_alive[i], (v) => v.toFixed(1)) : "");
      aliveChart.build();
      aliveChart.setData(d.customers ? [d.p_alive.map((_, i) => i), d.p_alive.map((b) => b.customers)] : [[], []]);
      $("cd-sub").textContent = d.customers ? fmtInt.format(d.customers) + " customers, mean " + fmt2.format(d.mean_clv) + (d.unscored ? ", " + fmtInt.format(d.unscored) + " not scored yet" : "") : "no CLV predicted yet";
      const m = d.model;
      if (!m) throw new Error("no CLV model yet");
      const mt = m.metrics || {};
      // A degenerate fit predicts nobody (the API gives it no means): the
      // reasons are shown.
      const fc = mt.fit_check;
      const degenerate = fc && fc.degenerate ? "degenerate, no CLV: " + (fc.problems || []).join("; ") : "";
      if (degenerate && !d.customers) $("cd-sub").textContent = "no CLV predicted: the latest model's fit is degenerate (CLV model, above)";
      const num = (v, f) => (typeof v === "number" && Number.isFinite(v) ? f(v) : "–");
      const corr = mt.frequency_monetary_correlation;
      const rows = [["model version", "v" + m.version], ["customers", num(mt.customers, fmtInt.format)], ["repeat customers", num(mt.repeat_customers, fmtInt.format)],
        ["BG/NBD log-likelihood", num(mt.bgnbd_log_likelihood, fmt2.format)], ["Gamma-Gamma log-likelihood", num(mt.gamma_gamma_log_likelihood, fmt2.format)],
        ["frequency–spend correlation", num(corr, (v) => v.toFixed(3) + (Math.abs(v) > 0.3 ? " (too high for Gamma-Gamma)" : " (independent enough)"))],
        ["mean P(alive)", num(mt.mean_p_alive, fmtPct)], ["mean CLV", num(mt.mean_clv, fmt2.format)], ["total CLV", num(mt.total_clv, fmt2.format)],
        ["horizon", num(mt.horizon_months, (v) => v + " months") + num(mt.discount_rate, (v) => " at " + fmtPct(v, 0) + " a year")]]
        .concat(degenerate ? [["fit", degenerate]] : []).map(([k, v]) => {
        const tr = el("tr");
        tr.append(el("td", k), el("td", v, k === "fit" ? "" : "num"));
        return tr;
      });
      $("clv-body").replaceChildren(...rows);
      $("clv-sub").textContent = "fitted " + fmtTime(m.created_at);
    } catch (e) { /* the empty state stays */ }
  },
});

$("cust-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  setParam("customer", $("cust-id").value.trim());
});

// ---- Products and experiments ----

function itemRows(body, items, empty) {
  const rows = items.map((it, i) => {
    const tr = el("tr");
    tr.dataset.product = it.item;
    tr.append(el("td", String(i + 1)), el("td", it.item), el("td", fmt1.format(it.score), "num"));
    tr.addEventListener("click", () => setParam("product", it.item));
    return tr;
  });
  body.replaceChildren(...(rows.length ? rows : [emptyRow(3, empty)]));
}

// topRows draws the top products of a range: units, orders, customers
// and revenue per currency (never added across currencies).
function topRows(r) {
  const rows = r.items.map((it, i) => {
    const tr = el("tr");
    tr.dataset.product = it.product_id;
    const rev = it.revenue.map((m) => moneyOf(m.amount_minor / minorPer(m.currency), m.currency)).join(" · ");
    tr.append(el("td", String(i + 1)), el("td", it.product_id), el("td", fmtInt.format(it.units), "num"), el("td", fmtInt.format(it.orders), "num"),
      el("td", fmtInt.format(it.customers), "num"), el("td", rev, "num"));
    tr.addEventListener("click", () => setParam("product", it.product_id));
    return tr;
  });
  $("top-body").replaceChildren(...(rows.length ? rows : [emptyRow(6, "nothing sold in this range: pick a longer one")]));
}
$("top-sort").addEventListener("change", (e) => setParam("top_sort", e.target.value === "units" ? "" : e.target.value));

function verdict(res, cmp) {
  if (res.sample_ratio.mismatch) return ["sample-ratio mismatch", "verdict-srm"];
  const t = res.experiment.metric === "revenue" ? cmp.revenue : cmp.conversion;
  if (!t.sequential) return ["too little data", "verdict-none"];
  if (cmp.significant) return t.sequential.lift > 0 ? ["better", "verdict-better"] : ["worse", "verdict-worse"];
  return ["no difference yet", "verdict-none"];
}
const signed = (v) => (v > 0 ? "+" : "") + (v * 100).toFixed(1) + "%";

page("products", {
  async load() {
    const cust = state.params.get("customer"), prod = state.params.get("product");
    $("recs-id").value = cust || "";
    $("sim-id").value = prod || "";
    if (cust) {
      // preview: the dashboard looks at a customer without exposing them
      // to an A/B experiment (docs/recommendations.md).
      getJSON("api/v1/customers/" + encodeURIComponent(cust) + "/recommendations?n=10&preview=true").then((r) => {
        $("recs-sub").textContent = "by " + r.method + ", as outside experiments (a preview records no exposure); model " + Math.round(r.model_age_seconds) + " s old";
        itemRows($("recs-body"), r.items, "nothing to recommend");
      }, (e) => { $("recs-sub").textContent = e.message; });
    }
    if (prod) {
      getJSON("api/v1/products/" + encodeURIComponent(prod) + "/similar?n=10").then((r) => {
        $("sim-sub").textContent = "bought with " + prod + " (" + r.method + ")";
        itemRows($("sim-body"), r.items, "no product bought with " + prod + " yet");
      }, (e) => { $("sim-sub").textContent = e.message; });
    }
    // What sold in the range (the store's hourly product rollup), ranked
    // as the menu says (top_sort in the URL).
    const tr = timeRange(), sortBy = state.params.get("top_sort") || "units";
    $("top-sort").value = sortBy;
    getJSON("api/v1/products/top?n=10&sort=" + sortBy + "&since=" + iso(tr.from) + "&until=" + iso(tr.to)).then((r) => {
      topRows(r);
      // The rollup is folded off the write path: say how far it has reached.
      // run holds the fold until its first analytics refresh is done.
      const folded = r.folded_until ? "products folded up to " + fmtTime(r.folded_until)
        : "products not folded yet" + (loadingNote() ? " (" + loadingNote() + "; the fold follows it)" : "");
      $("top-sub").textContent = "sold " + fmtTime(r.from) + " – " + fmtTime(r.to) + " (whole hours), by " + r.sort +
        (r.sort === "revenue" && r.currency ? " in " + r.currency : "") + "; " + folded +
        (r.catching_up ? " (catching up: " + fmtInt.format(r.folded_transactions) + " transactions folded so far)" : "") +
        "; customers estimated; click one for the products bought with it";
    }, (e) => {
      $("top-sub").textContent = e.status === 404 ? "no product figures on this server" : e.message;
    });
    let list;
    try {
      list = (await getJSON("api/v1/experiments")).experiments;
    } catch (e) {
      return;
    }
    const rows = [];
    for (const x of list) {
      let res;
      try { res = await getJSON("api/v1/experiments/" + encodeURIComponent(x.name)); } catch (e) { continue; }
      res.variants.forEach((v, i) => {
        const tr = el("tr", undefined, i === 0 ? "first" : "");
        tr.dataset.experiment = x.name;
        tr.dataset.variant = v.name;
        let lift = "control", verd = ["", ""];
        if (i > 0) {
          const cmp = res.comparisons[i - 1];
          const s = (res.experiment.metric === "revenue" ? cmp.revenue : cmp.conversion).sequential;
          // A relative lift cannot fall below −100% (the variant converting
          // nothing): the delta method's interval can, and is shown clipped.
          const low = s && s.low < -1 ? -1 : s && s.low;
          lift = s ? signed(s.lift) + " [" + (s.low < -1 ? "≥ " : "") + signed(low) + ", " + signed(s.high) + "]" : "–";
          verd = verdict(res, cmp);
        }
        const srm = i === 0 ? (res.sample_ratio.mismatch ? "mismatch" : "ok") + " (p " + res.sample_ratio.p_value.toFixed(3) + ")" : "";
        const name = el("td", i === 0 ? x.name + " (" + res.status + ")" : "");
        if (i === 0) name.title = "results computed " + fmtTime(res.computed_at) + " (kept for up to 10 s)";
        tr.append(name, el("td", v.name), el("td", v.recommender), el("td", fmtInt.format(v.exposures), "num"),
          el("td", fmtInt.format(v.conversions), "num"), el("td", fmtPct(v.conversion_rate, 2), "num"), el("td", fmt2.format(v.revenue_per_exposed), "num"),
          el("td", lift, "num"), el("td", srm, res.sample_ratio.mismatch ? "verdict-srm" : ""), el("td", verd[0], verd[1]));
        rows.push(tr);
      });
    }
    if (rows.length) $("exp-body").replaceChildren(...rows);
  },
});
$("recs-form").addEventListener("submit", (ev) => { ev.preventDefault(); setParam("customer", $("recs-id").value.trim()); });
$("sim-form").addEventListener("submit", (ev) => { ev.preventDefault(); setParam("product", $("sim-id").value.trim()); });

// ---- Data quality ----

const qualityChart = new Chart($("chart-quality"), { height: 240,
  series: [{ label: "failed", color: "--c4", scale: "n", bars: true, fmt: (v) => fmtInt.format(v) }, { label: "score", color: "--c1", scale: "s", fmt: (v) => fmtPct(v, 2) }],
  axes: [{ scale: "s", color: "--c1", fmt: (v) => fmtPct(v, 1) }, { scale: "n", side: 1, color: "--c4", ints: true }],
  scales: { s: { range: (u, min, max) => [Math.min(min == null ? 0.9 : min, 0.9), 1.002] } } });

function drawQuality(q) {
  $("q-score").textContent = fmtPct(q.overall.score, 2);
  $("q-checked").textContent = fmtInt.format(q.overall.checked);
  $("q-failed").textContent = fmtInt.format(q.overall.failed);
  $("q-warned").textContent = fmtInt.format(q.overall.warned);
  // The range's ends are xs of their own (nothing checked there), so
  // the axis spans the range however few minutes had records: a fresh
  // shop's five minutes under "last 1 h" were drawn as the whole axis,
  // ticked in seconds.
  const mins = q.minutes.map((m) => [Date.parse(m.minute) / 1000, m.failed, m.score == null ? null : m.score]);
  if (mins.length) {
    const from = Date.parse(q.from) / 1000, to = Date.parse(q.to) / 1000;
    if (from < mins[0][0]) mins.unshift([from, null, null]);
    if (to - 60 > mins[mins.length - 1][0]) mins.push([to - 60, null, null]);
  }
  qualityChart.setData([mins.map((m) => m[0]), mins.map((m) => m[1]), mins.map((m) => m[2])]);
  const sel = state.params.get("check");
  const rows = q.checks.filter((c) => c.failed > 0 || c.warned > 0).map((c) => {
    const tr = el("tr", undefined, c.check === sel ? "selected" : "");
    tr.dataset.check = c.check;
    tr.append(el("td", c.check), el("td", fmtInt.format(c.failed), "num"), el("td", fmtInt.format(c.warned), "num"), el("td", fmtPct(c.score, 2), "num"));
    tr.addEventListener("click", () => setParam("check", c.check === sel ? "" : c.check));
    return tr;
  });
  $("q-checks").replaceChildren(...(rows.length ? rows : [emptyRow(4, "nothing failed in this range")]));
}

// The drift trend (GET /api/v1/quality/drift): a line per field, the
// default thresholds as lines; field= drills down to one field.
const driftFields = ["amount", "items_per_order", "channel"];
const driftChart = new Chart($("chart-drift"), { height: 220,
  series: [{ label: "amount", color: "--c0", fmt: (v) => fmt2.format(v) }, { label: "items per order", color: "--c2", fmt: (v) => fmt2.format(v) },
    { label: "channel", color: "--c3", fmt: (v) => fmt2.format(v) }, { label: "warning", color: "--c5", fmt: (v) => fmt2.format(v) },
    { label: "critical", color: "--c4", fmt: (v) => fmt2.format(v) }] });
$("drift-field").addEventListener("change", (e) => setParam("field", e.target.value));

async function loadDrift(from, to) {
  const field = driftFields.includes(state.params.get("field")) ? state.params.get("field") : "";
  $("drift-field").value = field;
  let d;
  try {
    d = await getJSON("api/v1/quality/drift?since=" + iso(from) + "&until=" + iso(to) + (field ? "&field=" + field : ""));
  } catch (e) {
    driftChart.setData([[], [], [], [], [], []]);
    $("drift-sub").textContent = e.status === 404 ? "this server keeps no drift trend" : e.message;
    return null;
  }
  const at = [...new Set(d.fields.flatMap((f) => f.points.map((p) => Date.parse(p.at) / 1000)))].sort((a, b) => a - b);
  // The range's ends are xs of their own (no sample there), so the axis
  // spans the range asked for however few samples fall in it (a fresh
  // processor's first ones), and the thresholds are lines across it.
  const ts = at.length ? [...new Set([from, ...at, to])].sort((a, b) => a - b) : [];
  const col = (name) => {
    const f = d.fields.find((x) => x.field === name);
    const by = new Map(f ? f.points.map((p) => [Date.parse(p.at) / 1000, p.psi]) : []);
    return ts.map((t) => (by.has(t) ? by.get(t) : null));
  };
  driftChart.setData(ts.length ? [ts, ...driftFields.map(col), ts.map(() => d.warn), ts.map(() => d.critical)] : [[], [], [], [], [], []]);
  const step = d.step_seconds >= 3600 ? d.step_seconds / 3600 + " h" : d.step_seconds / 60 + " min";
  let sub = "PSI of the last 15 minutes against the 60 before, mean per " + step + " over runs and processors; warning " + d.warn + ", critical " + d.critical + " (the defaults)";
  if (field) {
    const f = d.fields[0], last = f && f.points[f.points.length - 1];
    sub = field + ": " + (last ? "PSI " + fmt2.format(last.psi) + " (at most " + fmt2.format(last.max_psi) + ") at " + fmtTime(last.at) + ", " +
      fmtInt.format(last.cur) + " records against " + fmtInt.format(last.ref) : "no sample in this range") + "; pick every field to compare";
  }
  $("drift-sub").textContent = sub;
  return at.length;
}

page("quality", {
  async load(r) {
    // Whole minutes, as the API counts them (see the overview's tile).
    const to = Math.ceil(r.to / 60) * 60;
    const from = Math.max(Math.floor(r.from / 60) * 60, to - 7 * 86400);
    $("q-sub").textContent = "by the minute records were checked" + (from > r.from ? "; the last 7 days of the range (the API's longest)" : "");
    const q = await getJSON("api/v1/quality?from=" + iso(from) + "&to=" + iso(to));
    drawQuality(q);
    const fs = q.findings.map((f) => {
      const tr = el("tr");
      tr.append(el("td", f.severity, "sev-" + f.severity), el("td", f.detector + " · " + f.subject), el("td", f.message), el("td", f.source));
      return tr;
    });
    // "No drift" only where drift was measured: a processor's first
    // sample comes 15 minutes after its first records.
    const drift = await loadDrift(from, to);
    const none = drift === 0 ? "no findings; drift was not measured in this range" : "no findings: fresh, steady, no drift";
    $("q-findings").replaceChildren(...(fs.length ? fs : [emptyRow(4, none)]));
    await loadQuarantine(r);
  },
});

// qr is the quarantine panel's paging: the cursor of the next (older)
// page, and the filters (check and range) the pages shown were asked
// with; paged when the analyst opened older pages, which a refresh keeps.
const qr = { cursor: null, key: null, paged: false };

// loadQuarantine shows the newest quarantined records of the range (and
// check), or (more) the next older page below those shown.
async function loadQuarantine(r, more) {
  const check = state.params.get("check");
  const key = (check || "") + "|" + state.range + "|" + (state.params.get("from") || "") + "|" + (state.params.get("to") || "");
  if (!more && qr.paged && qr.key === key) return; // a refresh keeps the older pages opened
  const q = new URLSearchParams({ limit: "50", since: iso(r.from), until: iso(r.to + 60) });
  if (check) q.set("reason", check);
  if (more) {
    if (!qr.cursor || qr.key !== key) return;
    q.set("cursor", qr.cursor);
  }
  const page = await getJSON("api/v1/quarantine?" + q);
  const rows = page.records.map((x) => {
    const tr = el("tr");
    tr.dataset.id = String(x.id);
    const detail = el("td", x.detail, "reasons");
    detail.title = x.raw;
    tr.append(el("td", String(x.id), "num"), el("td", fmtTime(x.quarantined_at)), el("td", x.reason), detail, el("td", x.source),
      el("td", x.replay ? x.replay.outcome + " " + fmtTime(x.replay.at) : "open"));
    return tr;
  });
  if (more) {
    $("qr-body").append(...rows);
  } else {
    $("qr-body").replaceChildren(...(rows.length ? rows : [emptyRow(6, "nothing quarantined" + (check ? " by " + check : "") + " in this range of check times (records are listed by when they were checked, not by their event time)")]));
  }
  [qr.cursor, qr.key, qr.paged] = [page.next_cursor || null, key, more || false];
  $("qr-more").disabled = !qr.cursor;
  const shown = [...$("qr-body").querySelectorAll("tr[data-id]")];
  $("qr-count").textContent = fmtInt.format(shown.length) + " shown" + (qr.cursor ? ", older ones on the next page" : ", the oldest reached");
  $("qr-sub").textContent = (check ? "failing " + check + " (click the check again to clear)" : "every check") + ", newest first";
  $("qr-replay").disabled = !shown.some((tr) => tr.lastChild.textContent === "open");
}
$("qr-more").addEventListener("click", () => loadQuarantine(timeRange(), true));

$("qr-replay").addEventListener("click", async () => {
  const ids = [...$("qr-body").querySelectorAll("tr[data-id]")].map((tr) => Number(tr.dataset.id));
  try {
    const out = await postJSON("api/v1/quarantine/replay", { ids });
    $("qr-sub").textContent = "replayed: " + JSON.stringify(out);
    qr.paged = false;
    await loadQuarantine(timeRange());
  } catch (e) {
    $("qr-sub").textContent = "replay failed: " + e.message;
  }
});

on("quality", (q) => {
  if (state.page === "overview" && q.overall.score != null) $("o-quality").querySelector(".value").textContent = fmtPct(q.overall.score, 2);
});

// ---- System ----

// sys.hist holds the lag the stream sent since the page opened, sys.back
// the server's samples of it over the range (GET /api/v1/metrics/series),
// each by partition and "all".
const sys = { hist: {}, back: {}, parts: [], tps: null, list: null };

function drawLag() {
  const key = state.params.get("partition") || "all";
  const h = sys.hist[key] || [[], []], b = sys.back[key] || [[], []];
  if (h[0].length || b[0].length) lagChart.setData(withLive(b, h, timeRange()));
}
const lagChart = new Chart($("chart-lag"), { height: 220, series: [{ label: "lag", color: "--c2", fmt: (v) => fmtInt.format(v) }], axes: [{ scale: "y", ints: true }] });

// The dashboard's own series, which the server samples wherever it runs;
// the pipeline's are in /metrics only where the pipeline runs.
const seriesStored = "dashboard:stored_transactions_total", seriesLag = "dashboard:consumer_lag";

// metricSeries asks the server's samples of its metrics for the range r:
// names, the quantiles of histograms, a step of about 240 points over the
// range (the server answers a range older than two hours from its
// coarser samples: resolution_seconds).
function metricSeries(names, r, quantiles, instance) {
  const p = new URLSearchParams();
  if (instance) p.set("instance", instance);
  for (const n of names) p.append("name", n);
  for (const q of quantiles || []) p.append("quantile", String(q));
  p.set("since", String(Math.floor(r.from)));
  if (r.custom) p.set("until", String(Math.ceil(r.to)));
  p.set("step", String(Math.min(86400, Math.max(1, Math.ceil(r.seconds / 240)))));
  return getJSON("api/v1/metrics/series?" + p);
}

// fmtHeld is how long the server keeps samples: minutes, hours or days.
function fmtHeld(secs) {
  if (secs < 7200) return Math.round(secs / 60) + " min";
  if (secs < 3 * 86400) return Math.round(secs / 3600) + " h";
  return Math.round(secs / 86400) + " d";
}

// fmtEvery is the interval of samples: seconds, or minutes.
const fmtEvery = (secs) => (secs < 120 ? secs + " s" : Math.round(secs / 60) + " min");

// rangeNote says where the samples of an answer start when the range
// reaches before them: "" when it does not.
function rangeNote(out, r) {
  if (out.source === "store") {
    if (!out.capped || !out.held_since) return "";
    const held = Date.parse(out.held_since);
    if (r.custom && r.to * 1000 < held) return "the range ends before the oldest sample " + out.instance + " saved, " + fmtTime(held);
    return "since " + fmtTime(held) + ", the oldest sample " + out.instance + " saved that the store keeps (" + fmtHeld(out.held_seconds) + ")";
  }
  if (!out.started) return "this server samples no metrics";
  if (!out.capped) return "";
  const held = Date.parse(out.held_since);
  if (r.custom && r.to * 1000 < held) return "the range ends before the server's oldest sample, " + fmtTime(held);
  if (held === Date.parse(out.started)) return "since the server started at " + fmtTime(held);
  return "since " + fmtTime(held) + ", the oldest sample the server keeps (" + fmtHeld(out.held_seconds) + ")";
}

const fmtBytes = (v) => {
  if (v == null) return "–";
  const u = ["B", "kB", "MB", "GB", "TB"];
  let i = 0;
  while (Math.abs(v) >= 1000 && i < u.length - 1) { v /= 1000; i++; }
  return fmt1.format(v) + " " + u[i];
};
const fmtMs = (v) => (v == null ? "–" : fmt1.format(v * 1000) + " ms");
// sysX spans a lone point's five minutes before it, where uPlot would
// span years.
const sysX = { x: { time: true, range: (u, min, max) => (min == null ? [Date.now() / 1000 - 300, Date.now() / 1000] : min === max ? [min - 300, max + 15] : [min, max]) } };
const sysCharts = {
  throughput: new Chart($("chart-throughput"), { height: 180, scales: sysX, series: [{ label: "stored/s", color: "--c0", fmt: (v) => fmt1.format(v) },
    { label: "quarantined/s", color: "--c3", fmt: (v) => fmt1.format(v) }] }),
  batches: new Chart($("chart-batches"), { height: 180, scales: sysX, series: [{ label: "p50", color: "--c1", fmt: (v) => fmt1.format(v) },
    { label: "p95", color: "--c4", fmt: (v) => fmt1.format(v) }] }),
  latency: new Chart($("chart-latency"), { height: 180, scales: { ...sysX, y: { range: (u, min, max) => [0, Math.max(0.001, (max || 0) * 1.1)] } }, series: [{ label: "p50", color: "--c1", fmt: fmtMs }, { label: "p95", color: "--c4", fmt: fmtMs }],
    axes: [{ scale: "y", fmt: fmtMs }] }),
  retries: new Chart($("chart-retries"), { height: 180, scales: sysX, series: [{ label: "retries/min", color: "--c3", fmt: (v) => fmt1.format(v) },
    { label: "stalls/min", color: "--c5", fmt: (v) => fmt1.format(v) }] }),
  outbox: new Chart($("chart-outbox"), { height: 180, scales: sysX, series: [{ label: "pending", color: "--c2", fmt: (v) => fmtInt.format(v) }], axes: [{ scale: "y", ints: true }] }),
  store: new Chart($("chart-store"), { height: 180, scales: sysX, series: [{ label: "size", color: "--c0", fmt: fmtBytes }], axes: [{ scale: "y", fmt: fmtBytes }] }),
  latencyDist: new Chart($("chart-latency-dist"), { height: 200, time: false, categories: true, xLabel: "produce to commit, at most", xFmt: String,
    series: [{ label: "records", color: "--c1", bars: true, fmt: (v) => fmtInt.format(v) }], axes: [{ scale: "y", ints: true }] }),
};

// sumOf is, at each time of metric m, the sum of its series that pick
// takes, times k; null where none of them has a value.
function sumOf(m, pick, k) {
  return m.times.map((_, i) => {
    let v = null;
    for (const s of m.series) if (pick(s.labels) && s.values[i] != null) v = (v || 0) + s.values[i] * k;
    return v;
  });
}

// sysChart draws the columns cols(m) of metric name of an answer, or
// says why there is nothing: the pipeline runs in another process, the
// store says nothing of its size, or the server has too few samples.
function sysChart(c, out, name, cols, absent, note) {
  const m = out.metrics.find((x) => x.name === name);
  const empty = c.el.querySelector(".empty-note");
  if (!m) {
    c.setData([[], ...c.spec.series.map(() => [])]);
    empty.textContent = absent;
    return;
  }
  c.setData([m.times.slice(), ...cols(m)]);
  if (!m.times.length) {
    empty.textContent = note || "Waiting for the server's samples: it takes one every " + out.sample_seconds + " s, and a point is of two.";
  }
}

const pipelineSeries = ["shopstream_records_total", "shopstream_batch_records", "shopstream_e2e_latency_seconds",
  "shopstream_pipeline_retries_total", "shopstream_pipeline_stalls_total", "shopstream_outbox_pending_messages"];

// sys.list is the answer of GET /api/v1/metrics/instances: this server's
// own sampling and the processes whose samples are saved in the store.

// chosenInstance is the process whose samples the charts show: the URL's
// instance, else this server's own when it runs the pipeline (run,
// process --addr), else (serve) the process seen last; "" is this
// server's own samples.
function chosenInstance(list) {
  const p = state.params.get("instance") || "";
  if (!list) return p;
  const own = list.server.instance || "";
  if (p) return p === own ? "" : p;
  if (list.server.pipeline) return "";
  let last = null;
  for (const i of list.instances) if (!i.self && (!last || Date.parse(i.last_seen) > Date.parse(last.last_seen))) last = i;
  return last ? last.instance : "";
}

// drawInstancePicker lists this server's own samples (where it runs the
// pipeline) and each process that saved samples, inst chosen; a choice
// goes to the URL (instance=).
function drawInstancePicker(list, inst) {
  const opts = [];
  if (list && list.server.pipeline) {
    opts.push(["", "this process" + (list.server.instance ? " (" + list.server.instance + ")" : "") + ": 15 s samples, then 5 min and 1 h"]);
  }
  for (const i of list ? list.instances : []) {
    if (!i.self) opts.push([i.instance, i.instance + ": saved samples, last seen " + fmtTime(Date.parse(i.last_seen))]);
  }
  if (inst && !opts.some((o) => o[0] === inst)) opts.push([inst, inst + ": no saved samples"]);
  const sel = $("sys-instance");
  sel.replaceChildren(...opts.map(([v, label]) => {
    const o = el("option", label);
    o.value = v;
    return o;
  }));
  sel.value = inst;
  $("sys-pick").classList.toggle("hidden", !opts.some((o) => o[0] !== ""));
}
$("sys-instance").addEventListener("change", () => setParam("instance", $("sys-instance").value));
$("sys-pick").addEventListener("submit", (ev) => ev.preventDefault());

// loadSystemCharts backfills the System page's charts and its lag chart
// from the samples over the range: this server's own, or those a
// process saved in the store (the charts of the pipeline then, the lag
// still this server's, as the stream's live points are).
async function loadSystemCharts(r) {
  let list = null;
  try {
    list = await getJSON("api/v1/metrics/instances");
  } catch (e) { /* an older server: its own samples only */ }
  sys.list = list;
  const inst = chosenInstance(list);
  drawInstancePicker(list, inst);
  let out, own;
  try {
    if (inst) {
      [out, own] = await Promise.all([metricSeries([...pipelineSeries, "shopstream_store_size_bytes"], r, [0.5, 0.95], inst),
        metricSeries([seriesLag], r, [])]);
    } else {
      out = own = await metricSeries([...pipelineSeries, "shopstream_store_size_bytes", seriesLag], r, [0.5, 0.95]);
    }
  } catch (e) {
    $("sys-range").textContent = "No samples" + (inst ? " of " + inst : " from the server") + ": " + e.message;
    if (inst) {
      for (const c of Object.values(sysCharts)) {
        c.setData([[], ...c.spec.series.map(() => [])]);
        c.el.querySelector(".empty-note").textContent = "No samples of " + inst + ".";
      }
    }
    return;
  }
  $("sys-range").dataset.instance = inst;
  $("sys-range").dataset.resolution = String(out.resolution_seconds);
  const note = rangeNote(out, r);
  const pipelineAbsent = pipelineSeries.every((n) => out.unknown.includes(n));
  const none = !note || !note.startsWith("the range ends") ? "" : "No samples: " + note + ".";
  let serve, waiting = "";
  if (inst) {
    const seen = (list ? list.instances : []).find((i) => i.instance === inst);
    $("sys-range").textContent = "From the samples " + inst + " saved in the store, one every " + fmtEvery(out.resolution_seconds) + ", kept " +
      fmtHeld(out.held_seconds) + (seen ? " (last seen " + fmtTime(Date.parse(seen.last_seen)) + ")" : "") + (note ? "; " + note : "") + ". " +
      "A process saves a sample every 15 s (kept two hours), every 5 min (two days) and every hour (32 days); the range picks the finest that reaches its start. The lag is this server's.";
    serve = "The samples " + inst + " saved have no such metric.";
    waiting = "Waiting for " + inst + "'s samples: it saves one every 15 s, and a point is of two.";
  } else {
    const others = list ? list.instances.filter((i) => !i.self).length : 0;
    $("sys-range").textContent = "From the server's samples of its metrics, one every " + fmtEvery(out.resolution_seconds) + ", kept " +
      fmtHeld(out.held_seconds) + (out.resolution_seconds > out.sample_seconds ? " (older than two hours: coarser than its " + out.sample_seconds + " s samples)" : "") +
      (note ? "; " + note : "") + "." +
      (pipelineAbsent ? " The pipeline runs in other processes (shopstream serve): only the store's size and the lag are charted here" +
        (others ? "; pick a process above for its saved samples." : ", and no process has saved its samples in the store yet (each saves one at its start, then every 15 s).") : "");
    serve = "No pipeline in this process: under shopstream serve the processors run elsewhere" +
      (others ? "; pick one above for the samples it saved." : ", and none has saved its samples in the store yet.");
  }
  const lag = own.metrics.find((m) => m.name === seriesLag);
  sys.back = {};
  for (const s of lag ? lag.series : []) sys.back[s.labels.partition || "all"] = [lag.times, s.values];
  drawLag();
  const empty = none || waiting;
  sysChart(sysCharts.throughput, out, "shopstream_records_total",
    (m) => [sumOf(m, (l) => l.outcome === "stored", 1), sumOf(m, (l) => l.outcome === "quarantined", 1)], serve, empty);
  const q = (v) => (m) => sumOf(m, (l) => l.quantile === v, 1);
  sysChart(sysCharts.batches, out, "shopstream_batch_records", (m) => [q("0.5")(m), q("0.95")(m)], serve, empty);
  sysChart(sysCharts.latency, out, "shopstream_e2e_latency_seconds", (m) => [q("0.5")(m), q("0.95")(m)], serve, empty);
  // Stalls and retries live in two metrics: the retries' answer times both.
  const stalls = out.metrics.find((m) => m.name === "shopstream_pipeline_stalls_total");
  sysChart(sysCharts.retries, out, "shopstream_pipeline_retries_total",
    (m) => [sumOf(m, () => true, 60), stalls && stalls.times.length === m.times.length ? sumOf(stalls, () => true, 60) : m.times.map(() => null)], serve, empty);
  sysChart(sysCharts.outbox, out, "shopstream_outbox_pending_messages", (m) => [sumOf(m, () => true, 1)],
    pipelineAbsent || inst ? serve : "No outbox backlog in this process's metrics: the outbox deliverer runs where the pipeline does.", empty);
  sysChart(sysCharts.store, out, "shopstream_store_size_bytes", (m) => [sumOf(m, () => true, 1)],
    inst ? serve : "This process does not say the store's size (shopstream_store_size_bytes: run, process and serve do).", empty);
  await loadLatencyDist(r, pipelineAbsent && !inst ? serve : "", none, inst);
}

// fmtBound is a latency bucket's bound: ms below a second, s above.
const fmtBound = (v) => (v < 1 ? fmt1.format(v * 1000).replace(/\.0$/, "") + " ms" : fmt1.format(v).replace(/\.0$/, "") + " s");

// loadLatencyDist draws how the produce-to-commit latencies of the range
// spread over the histogram's buckets (GET /api/v1/metrics/histograms),
// the empty buckets at either end left out.
async function loadLatencyDist(r, absent, none, instance) {
  const c = sysCharts.latencyDist, empty = c.el.querySelector(".empty-note");
  const clear = (why) => {
    c.setData([[], []]);
    empty.textContent = why;
    $("latency-dist-sub").textContent = "records per bucket of the histogram, over the range";
  };
  let h, liveSince = null;
  try {
    // As the overview's p95 tile: under run, a range from before the
    // history's backfill was stored is read from the first sample after
    // it, so the distribution is the live stream's.
    const stored = instance ? null : await backfillStoredIn(r);
    const out = await getJSON("api/v1/metrics/histograms?name=shopstream_e2e_latency_seconds&" +
      (stored != null ? "after=" + iso(stored) : "since=" + Math.floor(r.from)) + (r.custom ? "&until=" + Math.ceil(r.to) : "") +
      (instance ? "&instance=" + encodeURIComponent(instance) : ""));
    if (stored != null && out.from) liveSince = out.from;
    h = out.histograms[0];
  } catch (e) {
    clear("No samples from the server: " + e.message);
    return;
  }
  if (!h) return clear(absent || "No produce-to-commit histogram in this process's metrics.");
  const lo = h.buckets.findIndex((b) => b.count > 0);
  if (lo < 0) return clear(none || "Nothing committed in the range.");
  let hi = h.buckets.length - 1;
  while (h.buckets[hi].count === 0) hi--;
  const bs = h.buckets.slice(lo, hi + 1);
  const before = lo > 0 ? h.buckets[lo - 1].le : 0;
  c.spec.xFmt = (i) => {
    const b = bs[i];
    if (!b) return "";
    if (b.le == null) return "> " + fmtBound(i > 0 ? bs[i - 1].le : before);
    return "≤ " + fmtBound(b.le);
  };
  c.build();
  c.setData([bs.map((_, i) => i), bs.map((b) => b.count)]);
  $("latency-dist-sub").textContent = fmtInt.format(h.count) + " records committed over the range, per bucket of the histogram" +
    (h.value != null ? "; p95 " + fmtBound(h.value) : h.above != null ? "; p95 above " + fmtBound(h.above) : "") +
    (liveSince != null ? "; since " + fmtTime(liveSince) + ", live: the history's backfill left out" : "");
}

// histQuantile is the q-quantile of a histogram: bs its [upper bound,
// cumulative count] pairs ascending, the last +Inf; sum the observations'
// sum. As the server's (histring.go): linear inside a bucket (from 0 in the
// first); past the last finite bound {above: that bound}; and for
// non-negative observations at most what the sum leaves for the ones
// ranked at or above it, so sixteen runs of 86 s in all never have a p95
// of 98 s; and at least what it leaves for those ranked at or below it.
// histLeast is the least value an observation of the histogram can take:
// 1 for records per batch (a committed batch holds at least one), 0 for
// durations and sizes; as the server's histLeast.
const histLeast = (name) => (name.endsWith("_records") ? 1 : 0);

function histQuantile(q, bs, sum, least = 0) {
  const total = bs.length ? bs[bs.length - 1][1] : 0;
  if (!(total > 0)) return { value: null, above: null };
  const rank = q * total;
  let i = 0;
  while (i < bs.length && bs[i][1] < rank) i++;
  if (i >= bs.length || bs[i][0] === Infinity) return { value: null, above: i > 0 ? bs[i - 1][0] : null };
  // The first bucket interpolates from the least value an observation can
  // take: 1 for records per batch (histLeast), 0 otherwise.
  const [lo, below] = i ? bs[i - 1] : [Math.min(least, bs[0][0]), 0];
  if (!i && bs[0][0] <= 0) return { value: bs[0][0], above: null };
  const [hi, cum] = bs[i];
  let value = cum > below ? lo + (hi - lo) * ((rank - below) / (cum - below)) : hi;
  const r = Math.max(1, Math.ceil(rank)), n = total - r + 1;
  if (n >= 1 && bs[0][0] > 0 && Number.isFinite(sum)) {
    let low = i ? bs[0][1] * Math.min(least, bs[0][0]) : 0;
    for (let j = 1; j < i; j++) low += (bs[j][1] - bs[j - 1][1]) * bs[j - 1][0];
    low += (r - 1 - below) * lo;
    const limit = (sum - low) / n;
    if (limit >= lo && limit < value) value = limit;
    // At least what the sum leaves for the r ranked at or below it, when
    // every observation has a finite bound: a hundred batches of one
    // record have a median of 1, not 0.5.
    const finite = bs.length > 1 ? bs[bs.length - 2][1] : 0;
    if (bs[bs.length - 1][0] !== Infinity || finite === total) {
      let most = (cum - r) * hi;
      for (let j = i + 1; j < bs.length && bs[j][0] !== Infinity; j++) most += (bs[j][1] - bs[j - 1][1]) * bs[j][0];
      const floor = Math.min((sum - most) / r, hi);
      if (floor > value) value = floor;
    }
  }
  return { value, above: null };
}

// metricsSnapshot parses /metrics (Prometheus text): samples, and for each
// histogram its p95 since the process started (histQuantile).
async function metricsSnapshot() {
  const r = await fetch("metrics", { cache: "no-store" });
  if (!r.ok) throw new Error("/metrics: " + r.status);
  const text = await r.text();
  const samples = [], buckets = new Map(), sums = new Map();
  for (const line of text.split("\n")) {
    if (!line || line[0] === "#") continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const [, name, , labels = "", v] = m;
    const value = Number(v);
    if (name.endsWith("_bucket")) {
      const le = /le="([^"]*)"/.exec(labels);
      const key = name.slice(0, -7) + "{" + labels.replace(/,?le="[^"]*"/, "").replace(/^,/, "") + "}";
      if (!buckets.has(key)) buckets.set(key, []);
      buckets.get(key).push([le ? Number(le[1] === "+Inf" ? Infinity : le[1]) : Infinity, value]);
      continue;
    }
    if (name.endsWith("_sum")) sums.set(name.slice(0, -4) + "{" + labels + "}", value);
    samples.push({ name, labels, value });
  }
  const histograms = [];
  for (const [key, bs] of buckets) {
    bs.sort((a, b) => a[0] - b[0]);
    const total = bs.length ? bs[bs.length - 1][1] : 0;
    const name = key.slice(0, key.indexOf("{"));
    const { value, above } = histQuantile(0.95, bs, sums.get(key), histLeast(name));
    histograms.push({ name, labels: key.slice(name.length + 1, -1), p95: value, above, count: total });
  }
  return { samples, histograms };
}

function drawPartitions() {
  const sel = state.params.get("partition");
  const rows = sys.parts.map((p) => {
    const tr = el("tr", undefined, String(p.partition) === sel ? "selected" : "");
    tr.dataset.partition = String(p.partition);
    tr.append(el("td", String(p.partition)), el("td", fmtInt.format(p.committed), "num"), el("td", fmtInt.format(p.end), "num"), el("td", fmtInt.format(p.lag), "num"));
    tr.addEventListener("click", () => setParam("partition", String(p.partition) === sel ? "" : String(p.partition)));
    return tr;
  });
  $("part-body").replaceChildren(...(rows.length ? rows : [emptyRow(4, "no partition assigned: is the processor running?")]));
  $("lag-sub").textContent = (sel ? "partition " + sel : "all partitions") + ", from the server's samples, then live" + (sel ? " (click it again for all)" : "");
  drawLag();
}

page("system", {
  async load(r) {
    drawPartitions();
    await loadSystemCharts(r);
    const m = await metricsSnapshot();
    const f = ($("m-filter").value || "").toLowerCase();
    const p95 = new Map(m.histograms.map((h) => [h.name + "{" + h.labels + "}", h]));
    const rows = [];
    for (const s of m.samples) {
      if (!s.name.startsWith("shopstream_") || (f && !(s.name + s.labels).toLowerCase().includes(f))) continue;
      let q = "";
      if (s.name.endsWith("_count")) {
        const h = p95.get(s.name.slice(0, -6) + "{" + s.labels + "}");
        if (h && (h.p95 != null || h.above != null)) q = fmtQuantile(h.p95, h.above, s.name.includes("seconds"));
      }
      const tr = el("tr");
      tr.append(el("td", s.name), el("td", s.labels.replace(/"/g, ""), "reasons"), el("td", fmt2.format(s.value).replace(/\.00$/, ""), "num"), el("td", q, "num"));
      rows.push(tr);
      if (rows.length >= 300) break;
    }
    $("m-body").replaceChildren(...(rows.length ? rows : [emptyRow(4, f ? "no metric matches " + f : "no shopstream metrics on this server")]));
    const sum = await getJSON("api/v1/summary");
    const lookupNames = { ip_country: "IP → country", ip_asn: "IP → network (ASN)", hosting_ip: "hosting IP", bin_country: "card BIN → country" };
    const lk = (sum.lookups || []).map((l) => {
      const tr = el("tr");
      tr.append(el("td", lookupNames[l.lookup] || l.lookup), el("td", l.active ? "on" : "off"),
        el("td", l.source + (l.attribution ? " — " + l.attribution : "")));
      return tr;
    });
    $("lk-body").replaceChildren(...(lk.length ? lk : [emptyRow(3, "this server scores nothing")]));
    try {
      const d = await getJSON("api/v1/alerts/deliveries?limit=20");
      const dr = d.deliveries.map((x) => {
        const tr = el("tr");
        tr.append(el("td", x.summary), el("td", x.destination), el("td", x.status), el("td", fmtInt.format(x.attempts), "num"), el("td", x.last_error || ""));
        return tr;
      });
      if (dr.length) $("dl-body").replaceChildren(...dr);
    } catch (e) { /* no deliveries API: the empty state says how to route alerts */ }
  },
});
$("m-filter").addEventListener("input", () => loadPage());
$("m-filter").closest("form").addEventListener("submit", (ev) => ev.preventDefault());

on("ready", (rd) => {
  const d = rd.detail || {};
  $("s-ready").textContent = rd.ready ? "ready" : "not ready";
  $("s-lag").textContent = d.lag == null ? "–" : fmtInt.format(d.lag);
  $("s-pending").textContent = d.pending_batches == null ? "–" : fmtInt.format(d.pending_batches);
  $("s-commit").textContent = d.last_commit ? new Date(d.last_commit).toLocaleTimeString() : "–";
  sys.parts = d.partitions || [];
  // The lag of all partitions and of each, so a drill-down shows the
  // partition's own history.
  const t = Date.now() / 1000;
  const push = (key, v) => {
    const h = (sys.hist[key] = sys.hist[key] || [[], []]);
    h[0].push(t);
    h[1].push(v);
    while (h[0].length > 900) { h[0].shift(); h[1].shift(); }
  };
  if (d.lag != null) push("all", d.lag);
  for (const p of sys.parts) push(String(p.partition), p.lag);
  drawLag();
  if (state.page === "system") drawPartitions();
});
