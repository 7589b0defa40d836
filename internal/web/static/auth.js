// shopstream dashboard: signing in, and what every API call needs.
// Loaded before the other scripts. It wraps window.fetch so that every
// panel's requests carry what the server asks of a change (a JSON content
// type, and the session's CSRF token), and so that a 401 anywhere shows
// the sign-in form. The token is sent once, to POST api/v1/session, and
// then lives only in an HttpOnly cookie that scripts cannot read.
"use strict";

(function () {
  let csrf = "";
  const plainFetch = window.fetch.bind(window);

  function sameOrigin(url) {
    try {
      return new URL(url, location.href).origin === location.origin;
    } catch (e) {
      return false;
    }
  }

  window.fetch = async function (input, init) {
    init = Object.assign({}, init || {});
    const method = (init.method || (input instanceof Request ? input.method : "GET")).toUpperCase();
    const url = input instanceof Request ? input.url : String(input);
    if (method !== "GET" && method !== "HEAD" && sameOrigin(url)) {
      const h = new Headers(init.headers || {});
      if (!h.has("Content-Type")) h.set("Content-Type", "application/json");
      if (csrf && !h.has("X-CSRF-Token")) h.set("X-CSRF-Token", csrf);
      init.headers = h;
    }
    const r = await plainFetch(input, init);
    if (r.status === 401 && sameOrigin(url) && !url.includes("api/v1/session")) showSignIn();
    return r;
  };

  const $ = (id) => document.getElementById(id);

  function showSignIn(message) {
    const box = $("signin");
    if (message) $("signin-error").textContent = message;
    if (!box.classList.contains("hidden")) return;
    box.classList.remove("hidden");
    $("signin-token").focus();
  }

  function showUser(s) {
    const who = $("who");
    who.textContent = s.open ? "local access (no API tokens yet)" : s.actor + " · " + s.role;
    $("signout").classList.toggle("hidden", !s.csrf_token);
  }

  async function session() {
    const r = await plainFetch("api/v1/session", { cache: "no-store" });
    if (r.status === 401) {
      showSignIn();
      return;
    }
    if (!r.ok) return;
    const s = await r.json();
    csrf = s.csrf_token || "";
    showUser(s);
  }

  $("signin-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const token = $("signin-token").value.trim();
    if (!token) return;
    const r = await plainFetch("api/v1/session", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ token: token }),
    });
    if (!r.ok) {
      const body = await r.json().catch(() => ({}));
      $("signin-error").textContent = (body.error && body.error.message) || "sign-in failed: " + r.status;
      return;
    }
    $("signin-token").value = "";
    location.reload();
  });

  $("signout").addEventListener("click", async () => {
    await window.fetch("api/v1/session", { method: "DELETE" });
    location.reload();
  });

  // The audit trail, for admins: hidden for everyone else.
  const fmt = (v) => (v === null || v === undefined ? "–" : JSON.stringify(v));
  async function pollAudit() {
    const panel = $("audit");
    let r;
    try {
      r = await plainFetch("api/v1/audit?limit=20", { cache: "no-store" });
    } catch (e) {
      return;
    }
    if (!r.ok) {
      panel.classList.add("unavailable");
      return;
    }
    panel.classList.remove("unavailable");
    const a = await r.json();
    const rows = a.entries.map((e) => {
      const tr = document.createElement("tr");
      for (const [text, cls] of [[new Date(e.at).toLocaleString(), ""], [e.actor, ""], [e.action, ""], [e.target, ""],
        [fmt(e.before), "json"], [fmt(e.after), "json"]]) {
        const td = document.createElement("td");
        td.textContent = text;
        if (cls) td.className = cls;
        tr.append(td);
      }
      return tr;
    });
    if (rows.length === 0) {
      const tr = document.createElement("tr");
      tr.className = "empty";
      const td = document.createElement("td");
      td.colSpan = 6;
      td.textContent = "no changes yet";
      tr.append(td);
      rows.push(tr);
    }
    $("audit-body").replaceChildren(...rows);
  }

  session().then(pollAudit);
  setInterval(pollAudit, 10000);
})();
