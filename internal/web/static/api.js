// The API reference page: renders the OpenAPI document the server serves
// at api/v1/openapi.json, with plain DOM calls (no framework, no inline
// script: the CSP allows the server's own files only).
"use strict";

(function () {
  const methods = ["get", "post", "put", "patch", "delete"];

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function refName(ref) { return ref.split("/").pop(); }

  // resolve follows a local $ref of the document.
  function resolve(doc, v) {
    while (v && v.$ref) {
      v = v.$ref.replace(/^#\//, "").split("/").reduce((o, k) => o[k.replace(/~1/g, "/").replace(/~0/g, "~")], doc);
    }
    return v;
  }

  // schemaText shows a schema compactly: a reference by its name, an
  // object by its properties (* marks required ones), an array by its items.
  function schemaText(s, depth) {
    if (!s) return "any";
    if (s.$ref) return refName(s.$ref);
    if (s.allOf) return s.allOf.map((x) => schemaText(x, depth)).join(" & ");
    let t = Array.isArray(s.type) ? s.type.join(" | ") : (s.type || "any");
    if (s.enum) return s.enum.map((x) => JSON.stringify(x)).join(" | ");
    if (s.type === "array" || (Array.isArray(s.type) && s.type.includes("array"))) return "[" + schemaText(s.items, depth) + "]" + (Array.isArray(s.type) ? " | null" : "");
    if (s.properties && depth < 3) {
      const req = new Set(s.required || []);
      const pad = "  ".repeat(depth + 1);
      const body = Object.entries(s.properties).map(([k, v]) => pad + k + (req.has(k) ? "*" : "") + ": " + schemaText(v, depth + 1));
      return "{\n" + body.join(",\n") + "\n" + "  ".repeat(depth) + "}" + (Array.isArray(s.type) && s.type.includes("null") ? " | null" : "");
    }
    if (s.format) t += " (" + s.format + ")";
    return t;
  }

  // schemaBlock shows a schema: a link to a named one, else its text.
  function schemaBlock(s) {
    if (s && s.$ref) {
      const p = el("p");
      const a = el("a", "", refName(s.$ref));
      a.href = "#schema-" + refName(s.$ref);
      p.append("schema ", a);
      return p;
    }
    return el("pre", "", schemaText(s, 0));
  }

  function operation(doc, path, method, op) {
    const card = el("section", "card");
    card.id = op.operationId || method + path;
    const h = el("h2");
    h.append(el("span", "method method-" + method, method.toUpperCase() + " "), el("code", "", path));
    if (op.security && op.security.length === 0) h.append(el("span", "pill", "no credentials"));
    card.append(h);
    if (op.summary) card.append(el("p", "", op.summary));
    if (op.description) card.append(el("p", "muted", op.description));
    const params = (op.parameters || []).map((p) => resolve(doc, p));
    if (params.length) {
      const t = el("table");
      const head = el("tr");
      for (const c of ["parameter", "in", "type", "description"]) head.append(el("th", "", c));
      t.append(head);
      for (const p of params) {
        const tr = el("tr");
        const s = p.schema || {};
        let type = schemaText(s, 0);
        if (s.default !== undefined) type += ", default " + JSON.stringify(s.default);
        if (s.minimum !== undefined || s.maximum !== undefined) type += ", " + (s.minimum ?? "") + ".." + (s.maximum ?? "");
        tr.append(el("td", "", p.name + (p.required ? "*" : "")), el("td", "", p.in), el("td", "", type), el("td", "", p.description || ""));
        t.append(tr);
      }
      card.append(t);
    }
    const body = op.requestBody && op.requestBody.content && op.requestBody.content["application/json"];
    if (body) {
      card.append(el("h3", "", "request body (application/json)"));
      card.append(schemaBlock(body.schema));
    }
    card.append(el("h3", "", "responses"));
    for (const [status, r0] of Object.entries(op.responses || {})) {
      const r = resolve(doc, r0);
      const c = r.content && r.content["application/json"];
      card.append(el("p", "", (status === "default" ? "other statuses" : status) + ": " + (r.description || "")));
      if (c) card.append(schemaBlock(c.schema));
    }
    return card;
  }

  function render(doc) {
    const main = document.getElementById("reference");
    main.textContent = "";
    const intro = el("section", "card");
    intro.append(el("h2", "", doc.info.title + " " + doc.info.version));
    for (const para of (doc.info.description || "").split(/\n\n/)) intro.append(el("p", "", para.replace(/\n/g, " ")));
    main.append(intro);
    const byTag = new Map();
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const m of methods) {
        if (!item[m]) continue;
        const tag = (item[m].tags || ["other"])[0];
        if (!byTag.has(tag)) byTag.set(tag, []);
        byTag.get(tag).push([path, m, item[m]]);
      }
    }
    for (const [tag, ops] of byTag) {
      main.append(el("h2", "tag", tag));
      for (const [path, m, op] of ops) main.append(operation(doc, path, m, op));
    }
    const schemas = el("section", "card");
    schemas.id = "schemas";
    schemas.append(el("h2", "", "schemas"));
    for (const [name, s] of Object.entries(doc.components.schemas)) {
      const h = el("h3", "", name);
      h.id = "schema-" + name;
      schemas.append(h);
      if (s.description) schemas.append(el("p", "muted", s.description.replace(/\n/g, " ")));
      schemas.append(el("pre", "", schemaText(s, 0)));
    }
    main.append(schemas);
    document.body.dataset.rendered = String(Object.keys(doc.paths).length);
  }

  fetch("api/v1/openapi.json", { cache: "no-store" })
    .then((r) => {
      if (!r.ok) throw new Error("api/v1/openapi.json: " + r.status);
      return r.json();
    })
    .then(render)
    .catch((err) => {
      document.getElementById("reference-status").textContent = "The API document could not be loaded: " + err.message;
    });
})();
