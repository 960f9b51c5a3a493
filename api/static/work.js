/* assetplan dashboard, the work beside the map: find a unit by name (GET /communes?q=), start a
 * run of a stored scenario (POST /runs, followed with GET /runs/{id}), compare two runs
 * (GET /compare) and, for an admin key, create and revoke API keys (GET, POST /keys,
 * DELETE /keys/{id}). Shares app.js's helpers through
 * window.assetplanLib; every word comes from the catalogue (_ and N_, as in app.js).
 */
(function () {
  "use strict";

  var lib = window.assetplanLib;
  var state = lib.state;
  var _ = lib._;
  var el = lib.el;
  var label = lib.label;

  function N_(msg) { return msg; }

  var ROLES = { viewer: N_("Viewer"), planner: N_("Planner"), admin: N_("Admin") };

  function $(id) { return document.getElementById(id); }

  function option(value, text) { return el("option", { value: value }, text); }

  function failed(status, err) {
    status.dataset.state = "error";
    status.textContent = (err && err.message) || String(err);
    if (err instanceof lib.ApiError && err.problems && err.problems.length) {
      var ul = el("ul", { className: "problems" });
      err.problems.forEach(function (pr) { ul.appendChild(el("li", {}, lib.problemText(pr))); });
      status.appendChild(ul);
    }
    if (err instanceof lib.ApiError && (err.status === 401 || err.status === 403)) lib.handle(err);
  }

  // ------------------------------------------------------------------------- start a run

  var scenarios = [];

  async function loadScenarios() {
    var page = await lib.api("scenarios", { limit: 1000 });
    scenarios = page.items || [];
    var sel = $("start-scenario");
    var was = sel.value;
    sel.replaceChildren();
    scenarios.forEach(function (sc) {
      sel.appendChild(option(sc.id, sc.name + (sc.description ? " · " + sc.description : "")));
    });
    if (was && scenarios.some(function (sc) { return sc.id === was; })) sel.value = was;
    drawScenario();
  }

  // The scenario's provinces (a run plans those) and the overrides it offers.
  function drawScenario() {
    var sc = scenarios.find(function (x) { return x.id === $("start-scenario").value; });
    var box = $("start-overrides");
    box.querySelectorAll("label").forEach(function (l) { l.remove(); });
    $("start-provinces").textContent = sc ? _("Provinces: {provinces}",
      { provinces: lib.provincesText(sc.provinces) }) : _("No scenario yet: create one with " +
      "POST /scenarios (see /docs).");
    $("start-button").disabled = !sc;
    if (!sc) return;
    var offered = sc.overrides_available.filter(function (o) { return sc.overrides.indexOf(o) < 0; });
    offered.forEach(function (name) {
      var l = el("label", { className: "inline" });
      l.appendChild(el("input", { type: "checkbox", value: name, name: "override" }));
      l.appendChild(document.createTextNode(" " + name));
      box.appendChild(l);
    });
    box.hidden = !offered.length;
  }

  async function startRun(ev) {
    ev.preventDefault();
    var status = $("start-status");
    status.replaceChildren();
    status.dataset.state = "running";
    $("start-button").disabled = true;
    try {
      var overrides = Array.from($("start-overrides").querySelectorAll("input:checked"))
        .map(function (i) { return i.value; });
      var run = await lib.api("runs", {}, { scenario_id: $("start-scenario").value,
        overrides: overrides });
      status.dataset.run = run.id;
      run = await lib.follow(run, status, N_("Running {run}: {progress}"));
      if (run.status !== "succeeded") {
        throw new lib.ApiError(0, run.status, _("The run ended {status}: {error}",
          { status: run.status, error: run.error || run.message || "" }));
      }
      status.textContent = _("Run {run} finished.", { run: run.id.slice(0, 8) });
      status.dataset.state = "done";
      await lib.showRun(run.id);
    } catch (err) {
      failed(status, err);
    } finally {
      $("start-button").disabled = false;
    }
  }

  // -------------------------------------------------------------------- compare two runs

  var compared = null; // the last answer of /compare, redrawn when the language changes

  function fillCompareSelects() {
    ["compare-a", "compare-b"].forEach(function (id, i) {
      var sel = $(id);
      var was = sel.value;
      sel.replaceChildren();
      state.runs.forEach(function (run) { sel.appendChild(option(run.id, lib.runLabel(run))); });
      var fallback = state.runs[i === 0 ? Math.min(1, state.runs.length - 1) : 0];
      if (state.runs.some(function (r) { return r.id === was; })) sel.value = was;
      else if (fallback) sel.value = fallback.id;
    });
    $("compare-button").disabled = state.runs.length < 2;
  }

  function provinceKey(run) { return (run.provinces || []).slice().sort().join(","); }

  // "health+office" or "seat:annex" as the planner reads it.
  function useText(code) {
    if (!code) return "—";
    if (code.indexOf("seat:") === 0) return label("role", code.slice(5));
    return code.split("+").map(function (u) { return label("use", u); }).join(" + ");
  }

  function drawCompare() {
    if (!compared) return;
    var a = compared.a;
    var b = compared.b;
    var warn = $("compare-warning");
    warn.hidden = provinceKey(a) === provinceKey(b);
    warn.textContent = warn.hidden ? "" : _("The two runs plan different provinces (A: {a}; " +
      "B: {b}): their totals are not like for like.", { a: lib.provincesText(a.provinces),
      b: lib.provincesText(b.provinces) });
    var body = $("compare-table").querySelector("tbody");
    body.replaceChildren();
    compared.answer.items.forEach(function (k) {
      var va = k.after[a.id];
      var vb = k.after[b.id];
      var tr = el("tr", { "data-kpi": k.kpi, "data-a": va === null ? "" : String(va),
        "data-b": vb === null ? "" : String(vb),
        "data-difference": va === null || vb === null ? "" : String(vb - va) });
      [lib.kpiLabel(k), lib.unitLabel(k.unit), lib.fmt(va, k.unit), lib.fmt(vb, k.unit),
        lib.fmtDelta(va, vb, k.unit)].forEach(function (text, i) {
        tr.appendChild(el("td", i > 1 ? { className: "num" } : {}, text));
      });
      body.appendChild(tr);
    });
    var changes = compared.answer.decisions_changed || [];
    var total = compared.answer.decisions_changed_total || 0;
    $("compare-changes-title").textContent = _("Property decisions changed: {count}",
      { count: total }) + (total > changes.length ? " " + _("(the first {shown} shown)",
      { shown: changes.length }) : "");
    var list = $("compare-changes");
    list.replaceChildren();
    changes.forEach(function (c) {
      var li = el("li", { "data-property": c.property_id },
        c.name + " (" + c.property_id + "): " + useText(c.before) + " → " + useText(c.after) +
        (c.decided_by === "planner" ? " — " + _("as the planner decided") : ""));
      if (c.reason_after) li.appendChild(el("div", { className: "tip-reason" }, c.reason_after));
      list.appendChild(li);
    });
    $("compare-result").dataset.state = "ready";
  }

  async function compareRuns(ev) {
    ev.preventDefault();
    var find = function (id) { return state.runs.find(function (r) { return r.id === id; }); };
    var a = find($("compare-a").value);
    var b = find($("compare-b").value);
    if (!a || !b || a.id === b.id) {
      lib.say(_("Pick two different runs."), "error");
      return;
    }
    $("compare-result").dataset.state = "loading";
    try {
      var answer = await lib.api("compare", { runs: a.id + "," + b.id, scope: "national" });
      compared = { a: a, b: b, answer: answer };
      drawCompare();
    } catch (err) {
      $("compare-result").dataset.state = "error";
      lib.handle(err);
    }
  }

  // ---------------------------------------------------------------------- keys (admin)

  function when(iso) { return iso ? new Date(iso).toLocaleString(lib.locale()) : ""; }

  async function loadKeys() {
    var keys = await lib.api("keys");
    var body = $("keys-table").querySelector("tbody");
    body.replaceChildren();
    keys.forEach(function (k) {
      var tr = el("tr", { "data-key": k.id, "data-revoked": k.revoked_at ? "true" : "false" });
      [k.prefix + "…", k.name, _(ROLES[k.role] || k.role), k.province_code || _("Whole country"),
        when(k.created_at)].forEach(function (text) { tr.appendChild(el("td", {}, text)); });
      var last = el("td");
      if (k.revoked_at) {
        last.textContent = _("Revoked {when}", { when: when(k.revoked_at) });
      } else if (k.id !== state.keyId) { // a key cannot revoke itself
        var revoke = el("button", { type: "button", className: "key-revoke" }, _("Revoke"));
        revoke.addEventListener("click", function () { revokeKey(k.id); });
        last.appendChild(revoke);
      }
      tr.appendChild(last);
      body.appendChild(tr);
    });
  }

  async function createKey(ev) {
    ev.preventDefault();
    try {
      var province = $("keys-province").value;
      var made = await lib.api("keys", {}, { role: $("keys-role").value,
        province_code: province || null, name: $("keys-name").value.trim() });
      $("keys-secret-value").textContent = made.key;
      $("keys-secret").dataset.key = made.id;
      $("keys-secret").hidden = false;
      $("keys-name").value = "";
      await loadKeys();
    } catch (err) {
      lib.handle(err);
    }
  }

  async function revokeKey(id) {
    try {
      await lib.api("keys/" + encodeURIComponent(id), {}, undefined, "DELETE");
      if ($("keys-secret").dataset.key === id) $("keys-secret").hidden = true;
      await loadKeys();
    } catch (err) {
      lib.handle(err);
    }
  }

  function fillKeyProvinces() {
    var sel = $("keys-province");
    Array.from(sel.options).slice(1).forEach(function (o) { o.remove(); });
    Array.from(state.provinces.keys()).sort().forEach(function (c) {
      sel.appendChild(option(c, c + " · " + state.provinces.get(c).name));
    });
  }

  // ------------------------------------------------------------------------ find a unit

  // By name, with or without diacritics (GET /communes?q= folds them); a hit is shown on the map.
  async function findUnit(ev) {
    ev.preventDefault();
    var list = $("find-results");
    list.replaceChildren();
    try {
      var page = await lib.api("communes", { q: $("find-input").value.trim(), limit: 20 });
      $("find-count").textContent = _("Units found: {count}", { count: page.total });
      page.items.forEach(function (u) {
        var li = el("li", { "data-code": u.code });
        var go = el("button", { type: "button", className: "find-go" }, u.name);
        go.addEventListener("click", function () {
          state.map.setView([u.lat, u.lon], 12, { animate: false });
          L.popup().setLatLng([u.lat, u.lon]).setContent(el("div", { className: "find-popup" },
            u.name + " (" + u.code + ") · " + u.province_name)).openOn(state.map);
        });
        li.appendChild(go);
        li.appendChild(document.createTextNode(" · " + u.province_name + " (" + u.code + ")"));
        list.appendChild(li);
      });
    } catch (err) {
      lib.handle(err);
    }
  }

  // ------------------------------------------------------------------------------ wiring

  async function onStart() {
    var planner = state.role === "planner" || state.role === "admin";
    $("start-panel").hidden = !planner;
    $("keys-panel").hidden = state.role !== "admin";
    try {
      if (planner) await loadScenarios();
      if (state.role === "admin") {
        fillKeyProvinces();
        await loadKeys();
      }
    } catch (err) {
      lib.handle(err);
    }
  }

  lib.startHooks.push(onStart);
  lib.runHooks.push(fillCompareSelects);
  lib.textHooks.push(function () {
    drawScenario();
    fillCompareSelects();
    drawCompare();
    if (state.role === "admin") loadKeys().catch(lib.handle);
  });
  document.addEventListener("DOMContentLoaded", function () {
    $("start-scenario").addEventListener("change", drawScenario);
    $("start-form").addEventListener("submit", startRun);
    $("compare-form").addEventListener("submit", compareRuns);
    $("keys-form").addEventListener("submit", createKey);
    $("find-form").addEventListener("submit", findUnit);
  });
})();
