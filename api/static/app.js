/* assetplan dashboard: one run of the planner on a map, with its KPIs.
 *
 * Every word comes from GET /i18n (the one catalogue): the page's sentences are English msgids
 * written as _("...") or N_("..."), their Vietnamese in planner/locale; Vietnamese by default,
 * English with the VI | EN switch (kept in localStorage).
 * Reads only this server's own API (relative URLs): /i18n, /health, /runs, /provinces, /communes,
 * /runs/{id}/kpis, /runs/{id}/plan?table=...&format=json|geojson&province=... and
 * /runs/{id}/decisions; a planner's key pins a property's use or forbids its sale from the
 * property's popup and re-plans with POST /runs/{id}/replan.
 * The API key travels in the X-API-Key header; it is kept in localStorage when the user asks.
 * Leaflet is vendored under static/vendor/; map tiles are optional (none by default): the map is
 * drawn from the GeoJSON answers alone.
 */
(function () {
  "use strict";

  var KEY_STORE = "assetplan.apiKey";
  var LANG_STORE = "assetplan.lang";
  var TILE_STORE = "assetplan.tileUrl";
  var TILE_ATTR_STORE = "assetplan.tileAttribution";
  var PAGE = 100000; // the largest page /runs/{id}/plan answers

  var USE_COLOURS = {
    health: "#d62728", education: "#1f77b4", office: "#8c564b", service_point: "#9467bd",
    housing: "#e377c2", culture: "#17becf", transfer: "#bcbd22", sale: "#ff7f0e", hold: "#7f7f7f"
  };
  var USES = Object.keys(USE_COLOURS);
  var CATEGORY_COLOURS = {
    car: "#d62728", computer: "#1f77b4", printer: "#2ca02c", photocopier: "#9467bd",
    scanner: "#8c564b", projector: "#17becf"
  };
  var NEED_CLASSES = {
    unmet: { colour: "#d62728", label: N_("Need left unmet") },
    met: { colour: "#2ca02c", label: N_("Every need met by the plan") },
    none: { colour: "#9aa5ad", label: N_("No need") }
  };
  // The words of index.html, by the name its data-i18n attributes give.
  var PAGE_TEXTS = {
    subtitle: N_("Public-asset dashboard"), run: N_("Run"), province: N_("Province"),
    all: N_("All"), apiKey: N_("API key"), apiKeys: N_("API keys"),
    synthetic: N_("SYNTHETIC DATA: the inventory of this run is a synthetic demo calibrated " +
      "to published totals, not real asset data."),
    findUnit: N_("Find a unit"), find: N_("Find"), startRun: N_("Start a run"), scenario: N_("Scenario"), overrides: N_("Overrides"),
    start: N_("Start"), compareRuns: N_("Compare two runs"), compare: N_("Compare"),
    kpi: N_("KPI"), unit: N_("Unit of measure"), difference: N_("Difference (B − A)"),
    role: N_("Role"), roleViewer: N_("Viewer: reads"),
    rolePlanner: N_("Planner: also starts runs"), roleAdmin: N_("Admin: also manages keys"),
    wholeCountry: N_("Whole country"), keyName: N_("Who uses it"), createKey: N_("Create key"),
    secretOnce: N_("The new key, shown this once: copy it now."), keyPrefix: N_("Key"),
    created: N_("Created"),
    decisions: N_("Planner's decisions"),
    decisionsNote: N_("Click a property on the map to pin its use or forbid its sale, then " +
      "re-plan from this run."),
    replan: N_("Re-plan"), kpis: N_("KPIs"), before: N_("Before"), after: N_("After"),
    change: N_("Change"),
    about: N_("Geography: tranngocminhhieu/vietnamadminunits (MIT), source " +
      "sapnhap.bando.com.vn / NQ-UBTVQH15 resolutions of 16/06/2025; " +
      "thanglequoc/vietnamese-provinces-database (MIT). Map: Leaflet (BSD-2-Clause), no " +
      "internet needed."),
    keyInput: N_("Key (X-API-Key)"), remember: N_("Remember in this browser (localStorage)"),
    tileUrl: N_("Tile server URL template (optional)"), tileAttribution: N_("Tile attribution"),
    noTiles: N_("Without a tile server the map draws the GeoJSON layers alone."),
    forgetKey: N_("Forget key"), cancel: N_("Cancel"), save: N_("Save")
  };
  var HEADLINE = ["units_without_car", "units_below_equipment_norm", "surplus_properties",
    "priority_units_with_unmet_need", "renovation_spend_vnd", "items_transferred"];

  // Everything the page knows, exposed for tests and for the curious (read-only use, please).
  var state = {
    key: null, lang: "vi", role: null, runs: [], provinces: new Map(), run: null, province: "", kpis: [],
    map: null, renderer: null, layers: {}, layerControl: null, tiles: null, backdrop: null,
    counts: {}, ready: false, seq: 0,
    // The planner's decisions for the next re-plan: the run's own, then those added here.
    decisions: [], decisionsOf: null, propertyMarkers: {}, replanning: null
  };
  window.assetplanDashboard = state;

  // ---------------------------------------------------------------------------- words

  // GET /i18n's answer; until it comes (or if it fails) the English msgids are shown.
  var T = { lang: "en", messages: {}, labels: {}, columns: {}, kpis: {} };
  // Other panels (work.js) redraw on these: the language changed, the runs were listed, the
  // page started with a key (its role known).
  var textHooks = [];
  var runHooks = [];
  var startHooks = [];

  function N_(msg) { return msg; } // marks a msgid for the catalogue; translated where shown

  // msgid in the page's language, its {placeholders} filled from values.
  function _(msg, values) {
    var text = T.messages[msg] || msg;
    if (!values) return text;
    return text.replace(/\{(\w+)\}/g, function (m, k) {
      return Object.prototype.hasOwnProperty.call(values, k) ? String(values[k]) : m;
    });
  }

  function label(family, code) {
    var f = T.labels[family] || {};
    return Object.prototype.hasOwnProperty.call(f, code) ? f[code] : code;
  }

  function column(col) { return T.columns[col] || col; }

  // Money is shown in billions on this page.
  function unitLabel(unit) { return unit === "VND" ? _("bn VND") : label("unit", unit); }

  function needUnit(use) { return use === "service_point" ? label("unit", "points") : "m²"; }

  function locale() { return state.lang === "vi" ? "vi-VN" : "en-GB"; }

  function applyTexts() {
    document.documentElement.lang = state.lang;
    document.title = "assetplan · " + _("Dashboard");
    document.querySelectorAll("[data-i18n]").forEach(function (e) {
      e.textContent = _(PAGE_TEXTS[e.dataset.i18n] || e.dataset.i18n);
    });
    document.querySelectorAll("#lang-switch [data-lang]").forEach(function (b) {
      b.setAttribute("aria-pressed", String(b.dataset.lang === state.lang));
    });
  }

  async function loadTexts(lang) {
    state.lang = lang === "en" ? "en" : "vi";
    nf0 = new Intl.NumberFormat(locale(), { maximumFractionDigits: 0 });
    nf1 = new Intl.NumberFormat(locale(), { maximumFractionDigits: 1 });
    try {
      T = await api("i18n", { lang: state.lang });
    } catch (err) {
      T = { lang: "en", messages: {}, labels: {}, columns: {}, kpis: {} };
      handle(err);
    }
    applyTexts();
  }

  async function switchLang(lang) {
    store(LANG_STORE, lang);
    await loadTexts(lang);
    health();
    textHooks.forEach(function (hook) { hook(); });
    if (state.runs.length) {
      fillRunSelect();
      fillProvinceSelect(state.run);
      await loadRun();
    } else {
      await start();
    }
  }

  // ------------------------------------------------------------------------------- helpers

  function $(id) { return document.getElementById(id); }

  function esc(s) {
    return String(s === null || s === undefined ? "" : s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  var nf0 = new Intl.NumberFormat("vi-VN", { maximumFractionDigits: 0 });
  var nf1 = new Intl.NumberFormat("vi-VN", { maximumFractionDigits: 1 });

  function isNum(v) { return typeof v === "number" && isFinite(v); }

  function fmt(v, unit) {
    if (!isNum(v)) return "";
    if (unit === "VND") return nf1.format(v / 1e9);
    return Math.abs(v) >= 100 || Number.isInteger(v) ? nf0.format(v) : nf1.format(v);
  }

  function fmtDelta(before, after, unit) {
    if (!isNum(before) || !isNum(after)) return "";
    var d = after - before;
    if (d === 0) return "0";
    return (d > 0 ? "+" : "−") + fmt(Math.abs(d), unit);
  }

  function store(name, value) {
    try {
      if (value === null || value === undefined || value === "") localStorage.removeItem(name);
      else localStorage.setItem(name, value);
    } catch (e) { /* storage disabled: keep it in memory only */ }
  }

  function stored(name) {
    try { return localStorage.getItem(name); } catch (e) { return null; }
  }

  function say(text, kind) {
    var el = $("message");
    el.textContent = text || "";
    el.className = "message" + (kind ? " " + kind : "");
  }

  function ApiError(status, code, message) {
    this.status = status;
    this.code = code;
    this.message = message;
  }
  ApiError.prototype = Object.create(Error.prototype);

  // GET (POST with a body, or the method given) of this server's API; JSON back.
  async function api(path, params, body, method) {
    var url = new URL(path, document.baseURI);
    Object.keys(params || {}).forEach(function (k) {
      var v = params[k];
      if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
    });
    var headers = { Accept: "application/json, application/geo+json" };
    if (state.key) headers["X-API-Key"] = state.key;
    var init = { headers: headers, credentials: "same-origin" };
    if (method) init.method = method;
    if (body !== undefined) {
      init.method = method || "POST";
      init.body = JSON.stringify(body);
      headers["Content-Type"] = "application/json";
    }
    var resp;
    try {
      resp = await fetch(url, init);
    } catch (e) {
      throw new ApiError(0, "network", _("Cannot reach the server"));
    }
    var text = await resp.text();
    var answer = null;
    try { answer = text ? JSON.parse(text) : null; } catch (e) { answer = null; }
    if (!resp.ok) {
      var msg = answer && answer.message ? answer.message : resp.status + " " + resp.statusText;
      var err = new ApiError(resp.status, (answer && answer.code) || "http", msg);
      err.problems = (answer && answer.problems) || [];
      throw err;
    }
    return answer;
  }

  async function download(path, params, filename) {
    var url = new URL(path, document.baseURI);
    Object.keys(params).forEach(function (k) { if (params[k]) url.searchParams.set(k, params[k]); });
    try {
      var resp = await fetch(url, { headers: state.key ? { "X-API-Key": state.key } : {} });
      if (!resp.ok) throw new Error(resp.status + " " + resp.statusText);
      var blob = await resp.blob();
      var a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = filename;
      document.body.appendChild(a);
      a.click();
      setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
    } catch (e) {
      say(_("Download failed: {error}", { error: e.message }), "error");
    }
  }

  // Every row of a plan table (pages of PAGE rows until the total is reached).
  async function planTable(runId, table, format, province) {
    var out = [];
    var offset = 0;
    var total = Infinity;
    while (offset < total) {
      var page = await api("runs/" + encodeURIComponent(runId) + "/plan",
        { table: table, format: format, province: province, limit: PAGE, offset: offset });
      var rows = format === "geojson" ? page.features : page.items;
      total = page.total;
      for (var i = 0; i < rows.length; i++) out.push(rows[i]);
      if (!rows.length) break;
      offset += rows.length;
    }
    return out;
  }

  function handle(err) {
    if (err instanceof ApiError && err.status === 401) {
      say(_("A valid API key is needed: {error}", { error: err.message }), "error");
      openKeyDialog(_("The server asks for an API key: {error}", { error: err.message }));
    } else if (err instanceof ApiError && err.status === 403) {
      say(_("This key may not do this: {error}", { error: err.message }), "error");
    } else {
      say((err && err.message) || String(err), "error");
      if (!(err instanceof ApiError) && window.console) console.error(err);
    }
  }

  // ----------------------------------------------------------------------------------- map

  function initMap() {
    state.renderer = L.canvas({ padding: 0.5 });
    state.map = L.map("map", { preferCanvas: true, renderer: state.renderer, zoomSnap: 0.25,
      minZoom: 4, maxZoom: 16 }).setView([16.0, 106.0], 5.5);
    L.control.scale({ metric: true, imperial: false }).addTo(state.map);
    var legend = L.control({ position: "bottomleft" });
    legend.onAdd = function () {
      var el = $("legend");
      L.DomEvent.disableClickPropagation(el);
      L.DomEvent.disableScrollPropagation(el);
      return el;
    };
    legend.addTo(state.map);
    applyTiles();
  }

  function applyTiles() {
    if (state.tiles) { state.map.removeLayer(state.tiles); state.tiles = null; }
    var url = stored(TILE_STORE);
    if (url) {
      state.tiles = L.tileLayer(url, { maxZoom: 19, attribution: esc(stored(TILE_ATTR_STORE) || "") });
      state.tiles.addTo(state.map);
      state.tiles.bringToBack();
    }
  }

  // Every unit of the country as faint dots: without map tiles this draws the country's shape.
  async function loadBackdrop() {
    if (state.backdrop) return;
    var features = [];
    var total = Infinity;
    while (features.length < total) {
      var page = await api("communes", { format: "geojson", limit: 5000, offset: features.length });
      total = page.total;
      if (!page.features.length) break;
      for (var i = 0; i < page.features.length; i++) features.push(page.features[i]);
    }
    var group = L.featureGroup();
    features.forEach(function (f) {
      if (!f.geometry) return;
      L.circleMarker(latlng(f.geometry.coordinates), { renderer: state.renderer, radius: 1.4,
        stroke: false, fillColor: "#7d8d99", fillOpacity: 0.45, interactive: false }).addTo(group);
    });
    group.addTo(state.map);
    state.backdrop = group;
  }

  function clearLayers() {
    Object.keys(state.layers).forEach(function (k) { state.map.removeLayer(state.layers[k]); });
    state.layers = {};
    if (state.layerControl) { state.layerControl.remove(); state.layerControl = null; }
  }

  // Per unit: need before, unmet after, equipment shortfall before/after, car before.
  function unitNeeds(needs, equipment) {
    var agg = new Map();
    function get(code) {
      var a = agg.get(code);
      if (!a) {
        a = { need: 0, unmet: 0, eqBefore: 0, eqAfter: 0, noCarBefore: false, noCarAfter: false,
          unmetUses: [], shortItems: [] };
        agg.set(code, a);
      }
      return a;
    }
    needs.forEach(function (r) {
      var a = get(r.commune_code);
      a.need += r.need || 0;
      a.unmet += r.unmet || 0;
      if ((r.unmet || 0) > 1e-6) a.unmetUses.push(r);
    });
    equipment.forEach(function (r) {
      var a = get(r.commune_code);
      a.eqBefore += r.shortfall_before || 0;
      a.eqAfter += r.shortfall_after || 0;
      if (r.category === "car") {
        a.noCarBefore = r.held_before === 0;
        a.noCarAfter = r.held_after === 0;
      }
      if ((r.shortfall_before || 0) > 0) a.shortItems.push(r);
    });
    return agg;
  }

  function needClass(a) {
    if (!a) return "none";
    if (a.unmet > 1e-6 || a.eqAfter > 0) return "unmet";
    if (a.need > 0 || a.eqBefore > 0) return "met";
    return "none";
  }

  function unitTip(p, a) {
    var html = "<div class='tip-title'>" + esc(p.name) + " (" + esc(p.commune_code) + ")</div>" +
      esc(p.province_name) + " · " + esc(label("terrain", p.terrain)) + " · " +
      esc(_("population {count}", { count: fmt(p.population) }));
    if (a) {
      if (a.noCarBefore) {
        html += "<br>" + esc(_("No car before the plan")) + " — " +
          esc(a.noCarAfter ? _("still none") : _("one transferred"));
      }
      a.unmetUses.forEach(function (r) {
        html += "<br><b>" + esc(label("use", r.use)) + "</b>: " +
          esc(_("unmet {unmet} {unit} of {need}", { unmet: fmt(r.unmet), unit: needUnit(r.use),
            need: fmt(r.need) })) +
          (r.reason ? "<br><span class='tip-reason'>" + esc(r.reason) + "</span>" : "");
      });
      a.shortItems.forEach(function (r) {
        html += "<br>" + esc(label("category", r.category)) + ": " +
          esc(_("short {before} → {after}", { before: fmt(r.shortfall_before),
            after: fmt(r.shortfall_after) })) +
          (r.reason ? " <span class='tip-reason'>" + esc(r.reason) + "</span>" : "");
      });
    }
    return html;
  }

  function propertyTip(p) {
    return "<div class='tip-title'>" + esc(p.name) + " (" + esc(p.property_id) + ")</div>" +
      esc(_("Decided use")) + ": <b>" + esc(label("use", p.use)) + "</b><br>" +
      esc(column("origin")) + ": " + esc(label("origin", p.origin)) + " · " +
      esc(label("condition", p.condition)) + " · " +
      esc(_("floor {area} m²", { area: fmt(p.floor_area_m2) })) +
      (p.renovation_cost_vnd ? "<br>" + esc(_("Renovation {amount} bn VND",
        { amount: fmt(p.renovation_cost_vnd, "VND") })) : "") +
      (p.revenue_vnd ? "<br>" + esc(_("Revenue {amount} bn VND",
        { amount: fmt(p.revenue_vnd, "VND") })) : "") +
      (p.served_commune_code ? "<br>" + esc(_("Serves {unit}", { unit: p.served_commune_code }))
        : "") +
      (p.reason ? "<br><span class='tip-reason'>" + esc(p.reason) + "</span>" : "");
  }

  function latlng(coords) { return [coords[1], coords[0]]; }

  function drawRun(data) {
    clearLayers();
    state.propertyMarkers = {};
    var map = state.map;
    var r = state.renderer;
    var agg = unitNeeds(data.needs, data.equipment);
    var byClass = { unmet: 0, met: 0, none: 0 };
    var noCar = 0;
    var bounds = L.latLngBounds([]);

    var conv = L.featureGroup();
    data.service.forEach(function (f) {
      if (!f.geometry) return;
      var p = f.properties;
      L.polyline(f.geometry.coordinates.map(latlng), { renderer: r, color: USE_COLOURS[p.use] || "#555",
        weight: 1.3, opacity: 0.65 })
        .bindTooltip(esc(label("use", p.use)) + ": " + esc(p.property_id) + " → " +
          esc(p.commune_code) + ", " + fmt(p.quantity) + " " + esc(needUnit(p.use)) +
          ", " + nf1.format(p.distance_km) + " km", { sticky: true })
        .addTo(conv);
    });

    var trans = L.featureGroup();
    var byCat = {};
    data.transfers.forEach(function (f) {
      if (!f.geometry) return;
      var p = f.properties;
      byCat[p.category] = (byCat[p.category] || 0) + (p.quantity || 0);
      L.polyline(f.geometry.coordinates.map(latlng), { renderer: r,
        color: CATEGORY_COLOURS[p.category] || "#333", weight: 1.6, opacity: 0.8, dashArray: "5 4" })
        .bindTooltip(fmt(p.quantity) + " × " + esc(label("category", p.category)) +
          ": " + esc(p.holder_code) + " → " + esc(p.commune_code) + ", " +
          nf1.format(p.distance_km) + " km", { sticky: true })
        .addTo(trans);
    });

    var props = L.featureGroup();
    var byUse = {};
    data.dispositions.forEach(function (f) {
      if (!f.geometry) return;
      var p = f.properties;
      byUse[p.use] = (byUse[p.use] || 0) + 1;
      var planner = p.decided_by === "planner";
      if (planner) byUse.planner = (byUse.planner || 0) + 1;
      var m = L.circleMarker(latlng(f.geometry.coordinates), { renderer: r,
        radius: planner ? 4.2 : 3.2, stroke: planner, color: "#111", weight: 1.6,
        fillColor: USE_COLOURS[p.use] || "#000", fillOpacity: 0.85 })
        .bindTooltip(function () { return propertyTip(p); }, { sticky: true })
        .on("click", function (ev) { openDecision(p, ev.target.getLatLng()); });
      m.property = p;
      state.propertyMarkers[p.property_id] = m;
      m.addTo(props);
    });

    var units = L.featureGroup();
    data.units.forEach(function (f) {
      if (!f.geometry) return;
      var p = f.properties;
      var a = agg.get(p.commune_code);
      var cls = needClass(a);
      byClass[cls] += 1;
      if (a && a.noCarBefore) noCar += 1;
      var ll = latlng(f.geometry.coordinates);
      bounds.extend(ll);
      var m = L.circleMarker(ll, { renderer: r, radius: cls === "unmet" ? 5.5 : 4.5,
        color: a && a.noCarBefore ? "#111" : "#ffffff", weight: a && a.noCarBefore ? 2 : 0.8,
        fillColor: NEED_CLASSES[cls].colour, fillOpacity: 0.92 });
      m.commune_code = p.commune_code;
      m.needClass = cls;
      m.bindTooltip(function () { return unitTip(p, a); }, { sticky: true });
      m.addTo(units);
    });

    var labels = L.featureGroup();
    var inRun = new Set(data.units.map(function (f) { return f.properties.province_code; }));
    state.provinces.forEach(function (p, code) {
      if (!inRun.has(code) || !isNum(p.lon) || !isNum(p.lat)) return;
      L.tooltip({ permanent: true, direction: "center", className: "province-label" })
        .setLatLng([p.lat, p.lon]).setContent(esc(p.name)).addTo(labels);
    });

    state.layers = { conversions: conv, transfers: trans, properties: props, units: units,
      labels: labels };
    [conv, trans, props, units, labels].forEach(function (l) { l.addTo(map); });
    state.counts = { units: data.units.length, properties: data.dispositions.length,
      conversions: data.service.length, transfers: data.transfers.length,
      unmet: byClass.unmet, met: byClass.met, none: byClass.none, noCarBefore: noCar };

    var overlays = {};
    overlays[esc(_("Units by need ({count})", { count: nf0.format(state.counts.units) }))] = units;
    overlays[esc(_("Surplus properties by use ({count})",
      { count: nf0.format(state.counts.properties) }))] = props;
    overlays[esc(_("Conversions, property → unit served ({count})",
      { count: nf0.format(state.counts.conversions) }))] = conv;
    overlays[esc(_("Transfers of cars and equipment ({count})",
      { count: nf0.format(state.counts.transfers) }))] = trans;
    overlays[esc(_("Province names"))] = labels;
    if (state.backdrop) {
      overlays[esc(_("Backdrop: every unit ({count})",
        { count: nf0.format(state.backdrop.getLayers().length) }))] = state.backdrop;
    }
    state.layerControl = L.control.layers(null, overlays, { collapsed: false, position: "topright" })
      .addTo(map);
    if (bounds.isValid()) map.fitBounds(bounds, { padding: [24, 24], maxZoom: 11, animate: false });
    drawLegend(byClass, byUse, byCat, noCar);
  }

  function legendRow(swatchClass, colour, label, count, key) {
    var row = document.createElement("div");
    row.className = "legend-row";
    if (key) row.dataset.key = key;
    if (count !== undefined) row.dataset.count = String(count);
    var sw = document.createElement("span");
    sw.className = "swatch " + swatchClass;
    sw.style.background = colour;
    sw.style.color = colour;
    row.appendChild(sw);
    var text = document.createElement("span");
    text.textContent = label + (count !== undefined ? " (" + nf0.format(count) + ")" : "");
    row.appendChild(text);
    return row;
  }

  function drawLegend(byClass, byUse, byCat, noCar) {
    var u = $("legend-units");
    u.replaceChildren();
    var h = document.createElement("h3");
    h.className = "note";
    h.textContent = _("Units after the plan");
    u.appendChild(h);
    Object.keys(NEED_CLASSES).forEach(function (k) {
      u.appendChild(legendRow("", NEED_CLASSES[k].colour, _(NEED_CLASSES[k].label), byClass[k],
        "units-" + k));
    });
    u.appendChild(legendRow("ring", "#111", _("Black ring: no car before the plan"), noCar,
      "no-car"));
    var s = $("legend-uses");
    s.replaceChildren();
    h = document.createElement("h3");
    h.className = "note";
    h.textContent = _("Surplus houses and land by decided use");
    s.appendChild(h);
    USES.forEach(function (k) {
      if (byUse[k]) s.appendChild(legendRow("", USE_COLOURS[k], label("use", k), byUse[k], "use-" + k));
    });
    if (byUse.planner) {
      s.appendChild(legendRow("ring", "#111", _("Black ring: as the planner decided"),
        byUse.planner, "use-planner"));
    }
    var l = $("legend-lines");
    l.replaceChildren();
    h = document.createElement("h3");
    h.className = "note";
    h.textContent = _("Lines");
    l.appendChild(h);
    l.appendChild(legendRow("line", "#9467bd", _("Solid: property → unit served, coloured by use"),
      state.counts.conversions, "conversions"));
    Object.keys(CATEGORY_COLOURS).forEach(function (k) {
      if (byCat[k]) {
        l.appendChild(legendRow("line dashed", CATEGORY_COLOURS[k],
          _("Dashed: transfer, {category}, items", { category: label("category", k).toLowerCase() }), byCat[k],
          "transfer-" + k));
      }
    });
    $("counts").textContent = _("On the map: {units} units, {properties} properties, " +
      "{conversions} conversions, {transfers} transfers.", {
      units: nf0.format(state.counts.units), properties: nf0.format(state.counts.properties),
      conversions: nf0.format(state.counts.conversions),
      transfers: nf0.format(state.counts.transfers) });
  }


  // ---------------------------------------------------------------- planner's decisions

  var PINNABLE = ["health", "education", "office", "service_point", "housing", "culture",
    "transfer", "hold", "sale"];

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "className") e.className = attrs[k];
      else e.setAttribute(k, attrs[k]);
    });
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function decisionText(d) {
    var what = d.rule === "forbid" ? (d.use === "sale" ? _("Sale forbidden")
      : _("Forbid {use}", { use: label("use", d.use) }))
      : _("Require {use}", { use: d.use ? label("use", d.use) : "" });
    var who = d.property_id ? d.property_id : d.holder_code ? d.holder_code + " · " +
      label("category", d.category) : d.commune_code;
    return who + ": " + what + (d.commune_code && d.property_id ? " → " + d.commune_code : "") +
      (d.quantity ? " × " + d.quantity : "") + (d.note ? " (" + d.note + ")" : "");
  }

  // A new decision on a property replaces the ones the list holds for it.
  function decide(row) {
    state.decisions = state.decisions.filter(function (d) {
      return d.property_id !== row.property_id;
    });
    state.decisions.push(row);
    drawDecisions();
    state.map.closePopup();
  }

  function decisionPopup(p) {
    var box = el("div", { className: "decide", "data-property": p.property_id });
    var title = el("div", { className: "tip-title" }, p.name + " (" + p.property_id + ")");
    box.appendChild(title);
    box.appendChild(el("div", {}, _("Current use: {use}", { use: label("use", p.use) }) +
      (p.decided_by === "planner" ? " — " + _("as the planner decided") : "")));
    var sel = el("select", { className: "decide-use", "aria-label": _("Decided use") });
    PINNABLE.forEach(function (u) {
      var o = el("option", { value: u }, label("use", u));
      if (u === p.use) o.selected = true;
      sel.appendChild(o);
    });
    var note = el("input", { className: "decide-note", type: "text", maxlength: "200",
      placeholder: _("Why (optional)") });
    var pin = el("button", { type: "button", className: "decide-require" }, _("Pin this use"));
    pin.addEventListener("click", function () {
      var row = { property_id: p.property_id, rule: "require", use: sel.value };
      if (note.value.trim()) row.note = note.value.trim();
      decide(row);
    });
    var forbid = el("button", { type: "button", className: "decide-forbid-sale" },
      _("Forbid its sale"));
    forbid.addEventListener("click", function () {
      var row = { property_id: p.property_id, rule: "forbid", use: "sale" };
      if (note.value.trim()) row.note = note.value.trim();
      decide(row);
    });
    var row1 = el("div", { className: "decide-row" });
    row1.appendChild(sel);
    row1.appendChild(pin);
    box.appendChild(row1);
    box.appendChild(note);
    box.appendChild(forbid);
    var mine = state.decisions.filter(function (d) { return d.property_id === p.property_id; });
    mine.forEach(function (d) {
      box.appendChild(el("div", { className: "note" },
        _("Decided: {decision}", { decision: decisionText(d) })));
    });
    L.DomEvent.disableClickPropagation(box);
    return box;
  }

  // The popup is panned clear of the layer list, which covers the map's top right corner.
  function openDecision(p, ll) {
    var pad = L.point(20, 20);
    var right = pad;
    var top = pad;
    if (state.layerControl) {
      var c = state.layerControl.getContainer();
      right = L.point(c.offsetWidth + 20, 20);
      top = L.point(20, c.offsetHeight + 20);
    }
    L.popup({ maxWidth: 340, autoPanPaddingTopLeft: top, autoPanPaddingBottomRight: right })
      .setLatLng(ll).setContent(decisionPopup(p)).openOn(state.map);
  }

  function drawDecisions() {
    var list = $("decision-list");
    list.replaceChildren();
    state.decisions.forEach(function (d, i) {
      var li = el("li", { "data-property": d.property_id || "", "data-rule": d.rule,
        "data-use": d.use || "" }, decisionText(d) + " ");
      var rm = el("button", { type: "button", className: "decision-remove",
        title: _("Drop this decision") }, "×");
      rm.addEventListener("click", function () {
        state.decisions.splice(i, 1);
        drawDecisions();
      });
      li.appendChild(rm);
      list.appendChild(li);
    });
    $("decision-count").textContent = nf0.format(state.decisions.length);
    $("replan-button").disabled = !state.run || !!state.replanning;
  }

  async function loadDecisions(run) {
    if (state.decisionsOf === run.id) return;
    var got = await api("runs/" + encodeURIComponent(run.id) + "/decisions");
    state.decisions = got.items.map(function (d) {
      var row = {};
      Object.keys(d).forEach(function (k) {
        if (k !== "row" && d[k] !== null && d[k] !== undefined && d[k] !== "") row[k] = d[k];
      });
      return row;
    });
    state.decisionsOf = run.id;
    drawDecisions();
  }

  function sleep(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }

  // The stages a run reports (GET /runs/{id}); the planner's own three have labels.
  var RUN_STAGES = {
    queued: N_("waiting for a worker"), start: N_("starting"), load: N_("reading the data"),
    kpis: N_("computing the KPIs"), write: N_("writing the plan"), done: N_("done")
  };

  // "seats 40 %": a run's stage and its share done.
  function progressText(run) {
    var stage = run.stage || "";
    return (RUN_STAGES[stage] ? _(RUN_STAGES[stage]) : label("stage", stage)) + " " +
      nf0.format(Math.round((run.progress || 0) * 100)) + " %";
  }

  function problemText(pr) {
    return (pr.row ? _("row {row}", { row: pr.row }) + ", " : "") +
      (pr.column ? pr.column + ": " : "") + pr.rule;
  }

  // Follow a queued run until it ends (status shows its progress); the final run back.
  async function follow(run, status, words) {
    while (run.status === "queued" || run.status === "running") {
      status.textContent = _(words, { run: run.id.slice(0, 8), progress: progressText(run) });
      await sleep(1000);
      run = await api("runs/" + encodeURIComponent(run.id));
    }
    return run;
  }

  // Select a finished run (listing the runs again) and draw it.
  async function showRun(runId) {
    await loadRuns();
    state.run = state.runs.find(function (r) { return r.id === runId; }) || state.runs[0];
    if (!state.run) return;
    $("run-select").value = state.run.id;
    fillProvinceSelect(state.run);
    await loadRun();
  }

  async function replan() {
    var from = state.run;
    if (!from || state.replanning) return;
    var status = $("replan-status");
    status.replaceChildren();
    status.dataset.state = "running";
    try {
      var run = await api("runs/" + encodeURIComponent(from.id) + "/replan", {},
        { decisions: state.decisions });
      state.replanning = run.id;
      drawDecisions();
      run = await follow(run, status, N_("Re-planning {run}: {progress}"));
      if (run.status !== "succeeded") {
        throw new ApiError(0, run.status, _("The run ended {status}: {error}",
          { status: run.status, error: run.error || run.message || "" }));
      }
      status.textContent = _("Re-planned: {run} (from {from})", { run: run.id.slice(0, 8),
        from: from.id.slice(0, 8) });
      status.dataset.state = "done";
      status.dataset.run = run.id;
      state.replanning = null;
      await showRun(run.id);
    } catch (err) {
      status.dataset.state = "error";
      status.textContent = (err && err.message) || String(err);
      if (err instanceof ApiError && err.problems && err.problems.length) {
        var ul = el("ul", { className: "problems" });
        err.problems.forEach(function (pr) {
          ul.appendChild(el("li", {}, problemText(pr)));
        });
        status.appendChild(ul);
      }
      if (err instanceof ApiError && (err.status === 401 || err.status === 403)) handle(err);
    } finally {
      state.replanning = null;
      drawDecisions();
    }
  }

  // ---------------------------------------------------------------------------------- KPIs

  // A KPI's label from the catalogue (the table's own Vietnamese for one it does not know).
  function kpiLabel(k) { return T.kpis[k.kpi] || k.kpi_vi || k.kpi; }

  function drawKpis(items, scopeLabel) {
    state.kpis = items;
    $("kpi-scope").textContent = scopeLabel;
    var cards = $("kpi-cards");
    cards.replaceChildren();
    var byKpi = new Map(items.map(function (k) { return [k.kpi, k]; }));
    HEADLINE.forEach(function (name) {
      var k = byKpi.get(name);
      if (!k) return;
      var card = document.createElement("div");
      card.className = "card";
      card.dataset.kpi = k.kpi;
      card.dataset.after = isNum(k.after) ? String(k.after) : "";
      var label = document.createElement("div");
      label.className = "label";
      label.textContent = kpiLabel(k) + " (" + unitLabel(k.unit) + ")";
      var value = document.createElement("div");
      value.className = "value";
      value.textContent = fmt(k.after, k.unit);
      if (isNum(k.before)) {
        var b = document.createElement("span");
        b.className = "before";
        b.textContent = "  " + _("before {value}", { value: fmt(k.before, k.unit) });
        value.appendChild(b);
      }
      card.appendChild(label);
      card.appendChild(value);
      cards.appendChild(card);
    });
    var body = $("kpi-table").querySelector("tbody");
    body.replaceChildren();
    items.forEach(function (k) {
      var tr = document.createElement("tr");
      tr.dataset.kpi = k.kpi;
      tr.dataset.before = isNum(k.before) ? String(k.before) : "";
      tr.dataset.after = isNum(k.after) ? String(k.after) : "";
      var name = document.createElement("td");
      name.textContent = kpiLabel(k);
      name.title = k.kpi; // the code, as the API and the CSV name it
      tr.appendChild(name);
      var cells = [unitLabel(k.unit), fmt(k.before, k.unit), fmt(k.after, k.unit),
        fmtDelta(k.before, k.after, k.unit)];
      cells.forEach(function (text, i) {
        var td = document.createElement("td");
        td.textContent = text;
        if (i > 0) td.className = "num";
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    $("kpi-panel").dataset.state = "ready";
  }

  // ---------------------------------------------------------------------------- run, runs

  function runLabel(run) {
    var when = run.finished_at || run.created_at || "";
    var d = when ? new Date(when) : null;
    return run.scenario_name + (run.overrides && run.overrides.length ? " +" + run.overrides.join("+") : "") +
      " · " + (run.provinces && run.provinces.length ? run.provinces.join(", ") : _("Whole country")) +
      (d && !isNaN(d) ? " · " + d.toLocaleString(locale()) : "") + " · " + run.id.slice(0, 8);
  }

  function provincesText(codes) {
    return (codes || []).map(function (c) {
      var p = state.provinces.get(c);
      return p ? p.name + " (" + c + ")" : c;
    }).join(", ") || _("Whole country");
  }

  function drawRunInfo(run) {
    var el = $("run-info");
    el.replaceChildren();
    var dl = document.createElement("dl");
    [[N_("Scenario"), run.scenario_name],
      [N_("Overrides"), (run.overrides || []).join(", ") || "—"],
      [N_("Provinces"), provincesText(run.provinces)],
      [N_("Dataset"), run.synthetic ? _("{dataset} (synthetic)", { dataset: run.dataset_id })
        : run.dataset_id],
      [N_("Run id"), run.id],
      [N_("Finished"), run.finished_at ? new Date(run.finished_at).toLocaleString(locale()) : "—"]
    ].forEach(function (pair) {
      var dt = document.createElement("dt");
      dt.textContent = _(pair[0]);
      var dd = document.createElement("dd");
      dd.textContent = pair[1];
      dl.appendChild(dt);
      dl.appendChild(dd);
    });
    el.appendChild(dl);
    var xlsx = document.createElement("button");
    xlsx.type = "button";
    xlsx.id = "download-xlsx";
    xlsx.textContent = _("Download Excel");
    xlsx.addEventListener("click", function () {
      download("runs/" + encodeURIComponent(run.id) + "/plan", { format: "xlsx", province: state.province },
        run.id + "-plan" + (state.province ? "-" + state.province : "") + ".xlsx");
    });
    var csv = document.createElement("button");
    csv.type = "button";
    csv.textContent = _("Download KPIs (CSV)");
    csv.addEventListener("click", function () {
      download("runs/" + encodeURIComponent(run.id) + "/kpis", { format: "csv" }, run.id + "-kpis.csv");
    });
    el.appendChild(xlsx);
    el.appendChild(document.createTextNode(" "));
    el.appendChild(csv);
    $("synthetic-banner").hidden = !run.synthetic;
  }

  function fillProvinceSelect(run) {
    var sel = $("province-select");
    var codes = run && run.provinces && run.provinces.length ? run.provinces.slice()
      : Array.from(state.provinces.keys());
    codes.sort();
    sel.replaceChildren();
    var all = document.createElement("option");
    all.value = "";
    all.textContent = _("All");
    sel.appendChild(all);
    codes.forEach(function (c) {
      var o = document.createElement("option");
      o.value = c;
      var p = state.provinces.get(c);
      o.textContent = c + " · " + (p ? p.name : c);
      sel.appendChild(o);
    });
    if (codes.indexOf(state.province) < 0) state.province = "";
    sel.value = state.province;
    sel.disabled = false;
  }

  function writeHash() {
    var parts = [];
    if (state.run) parts.push("run=" + encodeURIComponent(state.run.id));
    if (state.province) parts.push("province=" + encodeURIComponent(state.province));
    history.replaceState(null, "", "#" + parts.join("&"));
  }

  function readHash() {
    var out = {};
    location.hash.replace(/^#/, "").split("&").forEach(function (kv) {
      var i = kv.indexOf("=");
      if (i > 0) out[decodeURIComponent(kv.slice(0, i))] = decodeURIComponent(kv.slice(i + 1));
    });
    return out;
  }

  async function loadRun() {
    var run = state.run;
    if (!run) return;
    var seq = ++state.seq;
    state.ready = false;
    $("map").dataset.state = "loading";
    $("kpi-panel").dataset.state = "loading";
    writeHash();
    drawRunInfo(run);
    var province = state.province;
    var provName = province ? (state.provinces.get(province) || {}).name || province : "";
    say(_("Loading run {run} …", { run: run.id + (province ? " · " + provName : "") }));
    try {
      var id = encodeURIComponent(run.id);
      var kpiParams = province ? { scope: "province", scope_id: province } : { scope: "national" };
      var got = await Promise.all([
        api("runs/" + id + "/kpis", kpiParams),
        planTable(run.id, "units", "geojson", province),
        planTable(run.id, "needs", "json", province),
        planTable(run.id, "equipment", "json", province),
        planTable(run.id, "dispositions", "geojson", province),
        planTable(run.id, "service", "geojson", province),
        planTable(run.id, "transfers", "geojson", province),
        loadDecisions(run)
      ]);
      if (seq !== state.seq) return; // a newer selection won
      drawKpis(got[0].items, province ? "· " + provName + " (" + province + ")"
        : "· " + _("whole plan"));
      drawRun({ units: got[1], needs: got[2], equipment: got[3], dispositions: got[4],
        service: got[5], transfers: got[6] });
      say("");
      // Ready once the canvas has drawn (the renderer redraws on the next animation frame).
      requestAnimationFrame(function () {
        requestAnimationFrame(function () {
          if (seq !== state.seq) return;
          state.ready = true;
          $("map").dataset.run = run.id;
          $("map").dataset.province = province;
          $("map").dataset.state = "ready";
        });
      });
    } catch (err) {
      if (seq !== state.seq) return;
      $("map").dataset.state = "error";
      handle(err);
    }
  }

  async function loadRuns() {
    var sel = $("run-select");
    var page = await api("runs", { status: "succeeded", limit: 1000 });
    state.runs = page.items || [];
    sel.replaceChildren();
    if (!state.runs.length) {
      var o = document.createElement("option");
      o.value = "";
      o.textContent = _("No finished run yet");
      sel.appendChild(o);
      sel.disabled = true;
      say(_("No succeeded run yet: start one under Start a run, or with POST /runs (see /docs)."));
      $("map").dataset.state = "empty";
      runHooks.forEach(function (hook) { hook(); });
      return;
    }
    fillRunSelect();
    sel.disabled = false;
    runHooks.forEach(function (hook) { hook(); });
  }

  function fillRunSelect() {
    var sel = $("run-select");
    sel.replaceChildren();
    state.runs.forEach(function (run) {
      var opt = document.createElement("option");
      opt.value = run.id;
      opt.textContent = runLabel(run);
      sel.appendChild(opt);
    });
    if (state.run) sel.value = state.run.id;
  }

  // The key's own role: the panels it may use are shown.
  async function loadRole() {
    var me = await api("keys/me");
    state.role = me.role;
    state.keyId = me.id;
  }

  async function loadProvinces() {
    var list = await api("provinces");
    state.provinces = new Map(list.map(function (p) { return [p.province_code, p]; }));
  }

  async function start() {
    say(_("Loading …"));
    try {
      await Promise.all([loadProvinces(), loadRuns(), loadRole()]);
    } catch (err) {
      handle(err);
      return;
    }
    startHooks.forEach(function (hook) { hook(); });
    try {
      await loadBackdrop();
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) { handle(err); return; }
      // The map works without the backdrop.
    }
    if (!state.runs.length) return;
    var want = readHash();
    state.run = state.runs.find(function (r) { return r.id === want.run; }) || state.runs[0];
    state.province = want.province || "";
    $("run-select").value = state.run.id;
    fillProvinceSelect(state.run);
    await loadRun();
  }

  async function health() {
    var el = $("health");
    try {
      var h = await api("health");
      el.textContent = _("API {version} · {store} · workers {busy}/{max} · queued {queued}", {
        version: h.version, store: h.store, busy: h.workers_busy, max: h.workers_max,
        queued: h.runs_queued });
      el.classList.remove("down");
    } catch (e) {
      el.textContent = _("API not answering");
      el.classList.add("down");
    }
  }

  // --------------------------------------------------------------------------- key dialog

  function openKeyDialog(reason) {
    var d = $("key-dialog");
    $("key-reason").textContent = reason || "";
    $("key-input").value = state.key || "";
    $("tile-input").value = stored(TILE_STORE) || "";
    $("tile-attribution").value = stored(TILE_ATTR_STORE) || "";
    if (!d.open) d.showModal();
    $("key-input").focus();
  }

  function wireKeyDialog() {
    var d = $("key-dialog");
    $("key-button").addEventListener("click", function () { openKeyDialog(""); });
    $("key-cancel").addEventListener("click", function () { d.close(); });
    $("key-forget").addEventListener("click", function () {
      store(KEY_STORE, null);
      state.key = null;
      $("key-input").value = "";
      say(_("Key forgotten in this browser"));
    });
    $("key-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var key = $("key-input").value.trim();
      state.key = key || null;
      store(KEY_STORE, $("key-remember").checked ? key : null);
      var tiles = $("tile-input").value.trim();
      var tilesBefore = stored(TILE_STORE) || "";
      store(TILE_STORE, tiles);
      store(TILE_ATTR_STORE, $("tile-attribution").value.trim());
      if (tiles !== tilesBefore) applyTiles();
      d.close();
      start();
    });
  }

  // -------------------------------------------------------------------------------- start

  document.addEventListener("DOMContentLoaded", function () {
    state.key = stored(KEY_STORE);
    initMap();
    wireKeyDialog();
    $("run-select").addEventListener("change", function (ev) {
      state.run = state.runs.find(function (r) { return r.id === ev.target.value; }) || null;
      fillProvinceSelect(state.run);
      loadRun();
    });
    $("replan-button").addEventListener("click", replan);
    $("province-select").addEventListener("change", function (ev) {
      state.province = ev.target.value;
      loadRun();
    });
    document.querySelectorAll("#lang-switch [data-lang]").forEach(function (b) {
      b.addEventListener("click", function () { switchLang(b.dataset.lang); });
    });
    loadTexts(stored(LANG_STORE) || "vi").then(function () {
      health();
      start();
    });
  });

  // What work.js (starting, comparing runs, keys) shares with this file.
  window.assetplanLib = {
    state: state, api: api, _: _, label: label, unitLabel: unitLabel, kpiLabel: kpiLabel,
    fmt: fmt, fmtDelta: fmtDelta, el: el, say: say, handle: handle, follow: follow,
    showRun: showRun, problemText: problemText, runLabel: runLabel,
    provincesText: provincesText, locale: locale, ApiError: ApiError,
    textHooks: textHooks, runHooks: runHooks, startHooks: startHooks
  };
})();
