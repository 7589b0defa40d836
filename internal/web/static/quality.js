// Data quality: the score per minute, failures by check and the stream
// detectors' current findings, from GET /api/v1/quality.
const qualityPct = (x) => (x == null ? "–" : (100 * x).toFixed(x > 0.999 && x < 1 ? 2 : 1) + "%");
const qualityEl = $("chart-quality");
const qualityChart = new uPlot({
  width: chartWidth(qualityEl), height: 220,
  series: [{}, { label: "score", stroke: "#3ecf8e", width: 2, scale: "s", value: (u, v) => qualityPct(v) },
    { label: "failed", stroke: "#ff6b6b", width: 1, scale: "n" }],
  axes: [axes[0], { scale: "s", stroke: "#3ecf8e", grid: { stroke: "#252b40" }, size: 56, values: (u, vals) => vals.map(qualityPct) },
    { scale: "n", side: 1, stroke: "#ff6b6b", grid: { show: false } }],
  scales: { x: { time: true }, s: { range: (u, min, max) => [Math.min(min, 0.9), 1.005] }, n: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
}, [[], [], []], qualityEl);

async function pollQuality() {
  try {
    const q = await getJSON("api/v1/quality");
    $("q-score").textContent = qualityPct(q.overall.score);
    $("q-checked").textContent = fmtInt.format(q.overall.checked);
    $("q-failed").textContent = fmtInt.format(q.overall.failed);
    $("q-warned").textContent = fmtInt.format(q.overall.warned);
    const ts = q.minutes.map((m) => Date.parse(m.minute) / 1000);
    qualityChart.setData([ts, q.minutes.map((m) => m.score ?? null), q.minutes.map((m) => m.failed)]);
    const checks = $("q-checks");
    checks.replaceChildren();
    for (const c of q.checks.filter((c) => c.failed > 0 || c.warned > 0)) {
      const tr = document.createElement("tr");
      tr.append(el("td", c.check), el("td", fmtInt.format(c.failed), "num"), el("td", fmtInt.format(c.warned), "num"), el("td", qualityPct(c.score), "num"));
      checks.append(tr);
    }
    if (!checks.children.length) checks.append(emptyRow(4, "nothing failed"));
    const fs = $("q-findings");
    fs.replaceChildren();
    for (const f of q.findings) {
      const tr = document.createElement("tr");
      tr.append(el("td", f.severity, "sev-" + f.severity), el("td", f.detector + " · " + f.subject), el("td", f.message), el("td", f.source));
      fs.append(tr);
    }
    if (!fs.children.length) fs.append(emptyRow(1, "no findings: fresh, steady, no drift"));
    $("q-findings-count").textContent = q.findings.length ? q.findings.length + " finding" + (q.findings.length > 1 ? "s" : "") : "";
  } catch (e) {
    // The summary poll reports an unreachable API.
  }
}
pollQuality();
setInterval(pollQuality, 10000);
