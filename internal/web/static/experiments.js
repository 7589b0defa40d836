// shopstream dashboard: the experiments panel. One row per variant; the
// lift and the verdict compare each variant with the first (control) by
// the sequential test, whose interval stays valid however often this
// page polls. The panel stays hidden without the experiment API.
"use strict";

(function () {
  const body = document.getElementById("exp-body");
  const panel = document.getElementById("experiments");
  const pct = (v, d) => (v == null ? "–" : (v * 100).toFixed(d) + "%");
  const signed = (v) => (v > 0 ? "+" : "") + (v * 100).toFixed(1) + "%";
  const money = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const int = new Intl.NumberFormat("en-US");

  function td(text, cls) {
    const e = document.createElement("td");
    e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }

  function verdict(res, cmp) {
    if (res.sample_ratio.mismatch) return ["sample-ratio mismatch", "verdict-srm"];
    const t = res.experiment.metric === "revenue" ? cmp.revenue : cmp.conversion;
    if (!t.sequential) return ["too little data", "verdict-none"];
    if (cmp.significant) return t.sequential.lift > 0 ? ["better", "verdict-better"] : ["worse", "verdict-worse"];
    return ["no difference yet", "verdict-none"];
  }

  async function poll() {
    let list;
    try {
      const r = await fetch("api/v1/experiments", { cache: "no-store" });
      if (!r.ok) { panel.classList.add("unavailable"); return; }
      list = (await r.json()).experiments;
    } catch (e) {
      return;
    }
    panel.classList.remove("unavailable");
    const rows = [];
    for (const x of list) {
      let res;
      try {
        const r = await fetch("api/v1/experiments/" + encodeURIComponent(x.name), { cache: "no-store" });
        if (!r.ok) continue;
        res = await r.json();
      } catch (e) {
        continue;
      }
      res.variants.forEach((v, i) => {
        const tr = document.createElement("tr");
        tr.dataset.experiment = x.name;
        tr.dataset.variant = v.name;
        if (i === 0) tr.className = "first";
        const name = i === 0 ? x.name + " (" + res.status + ")" : "";
        let lift = "control", verd = ["", ""];
        if (i > 0) {
          const cmp = res.comparisons[i - 1];
          const s = cmp.conversion.sequential;
          lift = s ? signed(s.lift) + " [" + signed(s.low) + ", " + signed(s.high) + "]" : "–";
          verd = verdict(res, cmp);
        }
        tr.append(td(name), td(v.name), td(v.recommender), td(int.format(v.exposures), "num"), td(int.format(v.conversions), "num"),
          td(pct(v.conversion_rate, 2), "num"), td(money.format(v.revenue_per_exposed), "num"), td(lift, "num"), td(verd[0], verd[1]));
        rows.push(tr);
      });
    }
    if (rows.length === 0) {
      const tr = document.createElement("tr");
      tr.className = "empty";
      const c = td("no experiments");
      c.colSpan = 9;
      tr.append(c);
      rows.push(tr);
    }
    body.replaceChildren(...rows);
  }

  poll();
  setInterval(poll, 5000);
})();
