// leefbaar dashboard: a small router over five pages. View state lives in the URL (shareable); the
// language in ?lang=en (Dutch by default). All data comes from the same-origin JSON API.
import * as maplibregl from "/static/vendor/maplibre-gl.mjs";
import { TEXT } from "/static/i18n.js";
import { groupedBars, lineChart, stackedBars, timeline } from "/static/charts.js";
import { pageGrid } from "/static/pages/grid.js";
import { notFound, searchBox } from "/static/pages/notfound.js";
import { pagePerception } from "/static/pages/perception.js";
import { evaluationCards } from "/static/pages/programmes.js";
import { segregationSection } from "/static/pages/segregation.js";

const state = { lang: "nl", meta: null, map: null, mapLevel: null, page: null };
const main = document.getElementById("main");
const DIM_COLORS = { area: "#1f4e9e", gemeente: "#e08214", nederland: "#7a7a7a" };

// ---------- helpers ----------
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}
const t = (key, vars = {}) => (TEXT[state.lang][key] ?? TEXT.nl[key] ?? key).replace(/\{(\w+)\}/g, (_, k) => vars[k] ?? "");
const L = (obj, base = "label") => (obj ? obj[`${base}_${state.lang}`] ?? obj[base]?.[state.lang] ?? obj[base] : "");
// Numbers by the locale (nl-NL: "1.518", "0,44", "+0,04"): a value that rounds to zero is written without a sign
// (never "-0,00"), an increase with a plus sign; counts and classes as integers.
const LOCALE = () => (state.lang === "nl" ? "nl-NL" : "en-GB");
const nf = (d) => new Intl.NumberFormat(LOCALE(), { minimumFractionDigits: d, maximumFractionDigits: d });
const missing = (v) => v === null || v === undefined || typeof v !== "number" || !Number.isFinite(v);
const rounded = (v, d) => { const r = Number(v.toFixed(d)); return r === 0 ? 0 : r; };
const fmt = (v, d = 3) => (missing(v) ? "–" : nf(d).format(rounded(v, d)));
const fmtSigned = (v, d = 3) => { if (missing(v)) return "–"; const r = rounded(v, d); return (r > 0 ? "+" : "") + nf(d).format(r); };
const fmtInt = (v) => (missing(v) ? "–" : nf(0).format(Math.round(v)));
const fmtAuto = (v) => (missing(v) ? "–" : Math.abs(v) >= 100 ? fmt(v, 0) : Math.abs(v) >= 1 ? fmt(v, 2) : fmt(v, 3));
const pct = (v, d = 1) => (missing(v) ? "–" : new Intl.NumberFormat(LOCALE(), { style: "percent", minimumFractionDigits: d, maximumFractionDigits: d }).format(rounded(v, d + 2)));
const announce = (msg) => { document.getElementById("status").textContent = msg; };

class ApiError extends Error { constructor(status, detail) { super(detail); this.status = status; } }
async function api(path) {
  const res = await fetch(path, { headers: { Accept: "application/json" } });
  if (!res.ok) {
    let detail = res.statusText;
    try { detail = (await res.json()).detail || detail; } catch { /* not JSON */ }
    throw new ApiError(res.status, detail);
  }
  return res.json();
}

// the meta data: the answer to the request index.html started (boot.js), once; otherwise asked for here
async function meta() {
  const early = window.leefbaarBoot?.meta;
  if (early) window.leefbaarBoot.meta = null;
  const res = early ? await early.catch(() => null) : null;
  return res && res.ok ? res.json() : api("/api/meta");
}

function params() { return new URLSearchParams(location.search); }
function url(path, q = {}) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (Array.isArray(v)) v.forEach((x) => p.append(k, x));
    else if (v !== undefined && v !== null && v !== "") p.set(k, v);
  }
  if (state.lang !== "nl") p.set("lang", state.lang);
  const s = p.toString();
  return s ? `${path}?${s}` : path;
}
function go(href, replace = false) {
  if (replace) history.replaceState(null, "", href); else history.pushState(null, "", href);
  route();
}
function setQuery(q) { // update view state in the URL without re-rendering
  history.replaceState(null, "", url(location.pathname, q));
}

function emptyState(text, kind = "empty") { return h("p", { class: `empty ${kind}`, role: kind === "error" ? "alert" : null }, text); }
function errorState(err, retry) {
  const box = h("div", { class: "empty error", role: "alert" }, h("strong", {}, t("error")), " ", err.message || String(err));
  if (retry) box.append(" ", h("button", { type: "button", onclick: retry }, t("retry")));
  return box;
}
function section(title, ...children) {
  const id = `s-${title.replace(/\W+/g, "-").toLowerCase()}`;
  return h("section", { class: "card", "aria-labelledby": id }, h("h2", { id }, title), ...children);
}
function downloads(base, q, formats = ["csv", "xlsx"]) { // CSV in the page's language (Dutch: ';' and decimal comma)
  return h("p", { class: "downloads" }, `${t("download")}: `, ...formats.flatMap((f, i) => [
    i ? " · " : "", h("a", { href: url(base, { ...q, format: f, lang: f === "csv" ? state.lang : undefined }), download: "" }, t(f))]));
}
function table(columns, rows, caption) {
  return h("div", { class: "table-wrap" }, h("table", {},
    caption ? h("caption", {}, caption) : null,
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.num ? "num" : null }, c.label)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, columns.map((c, i) => {
      const v = c.value(r);
      return i === 0 ? h("th", { scope: "row" }, v) : h("td", { class: c.num ? "num" : null }, v);
    }))))));
}
function classSwatch(k) {
  if (!k) return h("span", { class: "swatch nodata", "aria-hidden": "true" });
  return h("span", { class: `swatch k${k}`, "aria-hidden": "true" });
}
function classLabel(k) {
  if (!k) return t("no_data");
  return state.meta.classes[`labels_${state.lang}`][k - 1];
}
function levelLabel(id) { const lv = [...state.meta.levels, ...(state.meta.grid_levels || [])].find((l) => l.id === id); return lv ? lv.label[state.lang] : id; }

// ---------- language ----------
function applyLanguage() {
  document.documentElement.lang = state.lang;
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.querySelectorAll("[data-i18n-placeholder]").forEach((el) => { el.placeholder = t(el.dataset.i18nPlaceholder); });
  document.getElementById("nav").setAttribute("aria-label", t("nav.label"));
  const btn = document.getElementById("lang");
  btn.textContent = t("lang_button");
  btn.setAttribute("aria-label", t("lang_label"));
  document.querySelectorAll("a[data-nav]").forEach((a) => {
    const path = new URL(a.href, location.origin).pathname;
    a.href = url(path);
  });
}

// ---------- search ----------
function setupSearch() {
  const input = document.getElementById("search");
  const list = document.getElementById("search-results");
  let timer = null, items = [];
  const close = () => { list.hidden = true; input.setAttribute("aria-expanded", "false"); };
  const pick = (a) => { close(); input.value = ""; (state.onPick || openArea)(a); };
  input.setAttribute("aria-expanded", "false");
  input.addEventListener("input", () => {
    clearTimeout(timer);
    const q = input.value.trim();
    if (!q) { close(); return; }
    timer = setTimeout(async () => {
      try { items = await api(`/api/search?q=${encodeURIComponent(q)}`); } catch { items = []; }
      list.replaceChildren(...(items.length ? items.map((a, i) => h("li", { role: "option", id: `opt${i}`, tabindex: "-1" },
        h("button", { type: "button", onclick: () => pick(a) }, h("strong", {}, a.label), ` · ${levelLabel(a.level)}`,
          a.gemeente_name && a.level !== "pc4" ? ` · ${a.gemeente_name}` : ""))) : [h("li", { class: "none" }, t("search.none"))]));
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
    }, 150);
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Escape") close();
    if (e.key === "ArrowDown" && !list.hidden) { e.preventDefault(); list.querySelector("button")?.focus(); }
  });
  list.addEventListener("keydown", (e) => {
    const btns = [...list.querySelectorAll("button")];
    const i = btns.indexOf(document.activeElement);
    if (e.key === "ArrowDown" && i < btns.length - 1) { e.preventDefault(); btns[i + 1].focus(); }
    if (e.key === "ArrowUp") { e.preventDefault(); (i > 0 ? btns[i - 1] : input).focus(); }
    if (e.key === "Escape") { close(); input.focus(); }
  });
  document.getElementById("search-form").addEventListener("submit", (e) => {
    e.preventDefault();
    if (items.length) pick(items[0]);
  });
  document.addEventListener("click", (e) => { if (!e.target.closest(".search")) close(); });
}
function openArea(a) { go(url(`/area/${a.level}/${a.code}`)); }

// ---------- map page ----------
const dims = () => state.meta.dimensions.map((d) => d.code ?? d.id);
const dimLabel = (code) => { const d = state.meta.dimensions.find((x) => (x.code ?? x.id) === code); return d ? d.label[state.lang] : code; };
const mapIndicators = (level) => (state.meta.map_indicators || []).filter((i) => i.levels.includes(level));
const namesCache = {};
function areaNames(level) { // display names, gemeente and wijk per code (facts layer), fetched once per level
  if (!namesCache[level]) {
    namesCache[level] = api(`/api/names/${level}`).then((d) => {
      const by = new Map();
      d.codes.forEach((c, i) => by.set(c, { label: d.labels[i] || c, gm: d.gemeente_codes[i], wk: d.wijk_codes[i] }));
      return by;
    }).catch(() => new Map());
  }
  return namesCache[level];
}

// the level choice of the map: score levels (all levels with boundaries on indicator maps), then the grid levels
function levelOptions(all) {
  const levels = all ? state.meta.levels : state.meta.levels.filter((l) => l.score_years.length);
  return [...levels, ...(state.meta.grid_levels || [])].map((l) => [l.id, l.label[state.lang]]);
}

async function pageMap() {
  const q = params();
  const grid = (state.meta.grid_levels || []).find((g) => g.id === q.get("level"));
  if (grid) { await pageGrid(ui, { ensureMap, loadLevel, paint, levelOptions }, grid); return; }
  const levels = state.meta.levels;
  const withScores = levels.filter((l) => l.score_years.length);
  let level = q.get("level") || (withScores[0] || levels[0] || {}).id;
  let lv = levels.find((l) => l.id === level) || levels[0];
  if (!lv) { main.replaceChildren(emptyState(t("map_no_geometry"))); return; }
  level = lv.id;
  let measure = q.get("measure") || "total";
  if (measure === "afw" || measure === "klasse") measure = "total"; // one control per distinct map
  let indicator = q.get("indicator") || "";
  const sensitive = q.get("sensitive") === "1";
  const scheme = q.get("scheme") || "quantiles";
  const gemeente = q.get("gemeente") || "";
  const wijk = q.get("wijk") || "";
  const years = lv.score_years;
  let year = Number(q.get("year")) || (lv.default_year ?? lv.score_years.at(-1) ?? null);  // latest official year
  let baseYear = Number(q.get("base_year")) || null;
  const highlight = q.get("area");
  const view = (extra) => ({ level, measure, year, base_year: measure === "change" ? baseYear : "", indicator: measure === "indicator" ? indicator : "",
    scheme: measure === "indicator" && scheme !== "quantiles" ? scheme : "", sensitive: sensitive ? "1" : "", gemeente, wijk, area: highlight, ...extra });
  const reload = (extra) => go(url("/map", view(extra)), true);

  const measures = ["total", ...dims(), "change", "indicator"];
  const mLabel = (m) => (m === "total" ? t("mp.total") : m === "indicator" ? t("mp.indicator") : dims().includes(m) ? dimLabel(m) : t(`m.${m}`));
  const sel = (id, label, options, value, onchange) => h("label", { class: "field" }, h("span", {}, label),
    h("select", { id, onchange }, options.map(([v, text]) => h("option", { value: v, selected: String(v) === String(value) ? true : null }, text))));
  const yearKind = (y) => (lv.year_kinds && lv.year_kinds[y] && lv.year_kinds[y] !== "official" ? ` (${t(`yk.${lv.year_kinds[y]}`)})` : "");
  const isModelled = (y) => y && lv.year_kinds && lv.year_kinds[y] && lv.year_kinds[y] !== "official";

  // indicator picker: grouped by theme, searchable; sensitive indicators only on request, with a warning
  const offered = mapIndicators(level).filter((i) => sensitive || !i.sensitive);
  if (measure === "indicator" && !offered.some((i) => i.id === indicator)) indicator = offered[0]?.id || "";
  const picker = () => {
    const select = h("select", { id: "f-indicator", size: 8, onchange: (e) => reload({ indicator: e.target.value }) });
    const fill = (text) => {
      const words = text.toLowerCase().split(/\s+/).filter(Boolean);
      const hits = offered.filter((i) => words.every((w) => `${i.label[state.lang]} ${i.id} ${i.theme_label[state.lang]}`.toLowerCase().includes(w)));
      const groups = new Map();
      hits.forEach((i) => { const g = i.theme_label[state.lang]; if (!groups.has(g)) groups.set(g, []); groups.get(g).push(i); });
      select.replaceChildren(...[...groups].map(([g, items]) => h("optgroup", { label: g },
        items.map((i) => h("option", { value: i.id, selected: i.id === indicator ? true : null, "data-sensitive": i.sensitive ? "1" : null },
          `${i.label[state.lang]} (${i.unit_label[state.lang]})`)))));
      if (!hits.length) select.append(h("option", { disabled: true }, t("mp.ind_none")));
    };
    fill("");
    const search = h("input", { id: "f-indicator-search", type: "search", placeholder: t("mp.ind_search"), "aria-label": t("mp.ind_search"), oninput: (e) => fill(e.target.value) });
    return h("div", { class: "ind-picker" },
      h("label", { class: "field" }, h("span", {}, t("mp.indicator")), search, select),
      h("label", { class: "check" }, h("input", { type: "checkbox", id: "f-sensitive", checked: sensitive ? true : null, onchange: (e) => reload({ sensitive: e.target.checked ? "1" : "" }) }), " ", t("mp.sensitive")),
      sensitive ? h("p", { class: "warning", id: "sensitive-warning", role: "note" }, t("mp.sensitive_warning")) : null,
      sel("f-scheme", t("mp.scheme"), (state.meta.map_schemes || []).map((s) => [s.id, s.label[state.lang]]), scheme, (e) => reload({ scheme: e.target.value })));
  };

  const controls = h("form", { class: "controls", "aria-label": t("measure"), onsubmit: (e) => e.preventDefault() },
    sel("f-level", t("level"), levelOptions(measure === "indicator"), level, (e) => go(url("/map", { level: e.target.value, measure, indicator, sensitive: sensitive ? "1" : "" }), true)),
    sel("f-measure", t("measure"), measures.map((m) => [m, mLabel(m)]), measure, (e) => reload({ measure: e.target.value, base_year: "" })),
    measure === "indicator" ? picker() : null,
    h("span", { id: "year-slot" }), h("span", { id: "base-slot" }));
  const mapBox = h("div", { id: "map", class: "map", tabindex: "0", role: "application", "aria-describedby": "map-help" });
  const legend = h("div", { class: "legend", id: "legend", "aria-live": "polite" });
  const tooltip = h("div", { class: "tooltip", id: "tooltip", hidden: true });
  const picked = h("p", { class: "map-selected", id: "map-selected", hidden: true });
  const tableBox = h("div", { id: "map-table" });
  main.replaceChildren(
    h("div", { class: "map-layout" },
      h("div", { class: "map-side" }, h("h1", {}, t("nav.map")), controls, legend,
        h("p", { id: "map-help", class: "help" }, t("map_help")), h("div", { id: "map-downloads" })),
      h("div", { class: "map-wrap" }, mapBox, tooltip, picked)),
    tableBox);

  let yearChoices = years;
  if (measure === "indicator") {
    try { yearChoices = indicator ? await api(`/api/years/${level}?indicator=${encodeURIComponent(indicator)}`) : []; } catch { yearChoices = []; }
    if (!yearChoices.includes(year)) year = yearChoices.at(-1) ?? null;
  }
  const kindOfYear = (y) => (measure !== "indicator" ? yearKind(y) : "");
  document.getElementById("year-slot").replaceWith(sel("f-year", t("year"), (yearChoices || []).map((y) => [y, `${y}${kindOfYear(y)}`]), year,
    (e) => reload({ year: e.target.value })));
  if (measure === "change") {
    const earlier = years.filter((y) => y < year);
    if (!earlier.includes(baseYear)) baseYear = earlier.at(-1) ?? null;
    document.getElementById("base-slot").replaceWith(sel("f-base-year", t("mp.base_year"), earlier.map((y) => [y, `${y}${yearKind(y)}`]), baseYear,
      (e) => reload({ base_year: e.target.value })));
  }
  setQuery(view());

  if (!year) { legend.replaceChildren(emptyState(t("map_empty"))); }
  let values = null; // asked for before the map is made, so the map is made with its colours
  if (year) {
    try {
      values = await api(url(`/api/map/${level}`, { year, measure, indicator: measure === "indicator" ? indicator : "",
        base_year: measure === "change" ? baseYear : "", scheme: measure === "indicator" ? scheme : "" }).replace(/[?&]lang=en/, ""));
    } catch (err) {
      legend.replaceChildren(err.status === 404 ? emptyState(`${t("map_empty")} (${err.message})`) : errorState(err, () => route()));
    }
  }
  const map = await ensureMap(mapBox, null, level, values);
  loadLevel(map, level, null, values);
  paint(map, level, values);
  const ind = measure === "indicator" ? mapIndicators(level).find((i) => i.id === indicator) : null;
  const title = mLabel(measure) + (ind ? `: ${ind.label[state.lang]}` : "");
  if (values) {
    // a change map is modelled when either of its years is
    const modelled = [values.base_year, values.year].filter((y) => y && measure !== "indicator" && isModelled(y));
    values.modelled_years = modelled;
    drawLegend(legend, values, title);
    mapBox.setAttribute("aria-label", t("map_label", { level: levelLabel(level), measure: title, year: values.base_year ? `${values.base_year}–${year}` : year }));
    const names = await areaNames(level);
    if (!state.gemeenten) state.gemeenten = await api("/api/gemeenten").catch(() => []);
    const dl = { year, measure, indicator: measure === "indicator" ? indicator : "", base_year: values.base_year || "", scheme: measure === "indicator" ? scheme : "", gemeente, wijk };
    document.getElementById("map-downloads").replaceChildren(downloads(`/api/download/map/${level}`, dl, ["csv", "xlsx", "gpkg"]));
    const wijkNames = level === "buurt" && gemeente ? await areaNames("wijk") : new Map();
    drawMapTable(tableBox, values, level, names, { gemeente, wijk, wijkNames, onFilter: (g, w) => reload({ gemeente: g, wijk: w }) });
    setupHover(map, level, values, tooltip, names);
    if (highlight) selectOnMap(map, highlight, names.get(highlight)?.label);
  } else setupHover(map, level, null, tooltip, new Map());
  announce(t("map_label", { level: levelLabel(level), measure: title, year }));
}

// ``level``: the level to draw when the map is made here, coloured by ``values`` (fillColor); its tiles are then
// asked for with the map's style, and their first frame is already coloured
async function ensureMap(container, bounds = null, level = null, values = null) {
  if (state.map) {
    container.replaceWith(state.map.getContainer());
    state.map.getContainer().id = "map";
    state.map.resize();
    return state.map;
  }
  const map = new maplibregl.Map({
    container, attributionControl: false, dragRotate: false, pitchWithRotate: false, maxZoom: 14, minZoom: 5,
    fadeDuration: 0, renderWorldCopies: false,
    bounds: bounds || [[3.31, 50.75], [7.23, 53.56]], fitBoundsOptions: { padding: 10, maxZoom: FIT_MAX_ZOOM },
    style: { version: 8, sources: level ? firstSources(level, values) : {},
      layers: level ? firstLayers(level, values) : [] }, // no background layer: the map's box is coloured (app.css), a full-canvas pass less per frame
  });
  if (level) levelDrawn(map, level, values);
  map.touchZoomRotate.disableRotation();
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
  map.addControl(new maplibregl.ScaleControl({ maxWidth: 120, unit: "metric" }), "bottom-left");
  state.map = map;
  // ready once the style is (not after the tiles, 'load'): paint then waits for the first frame with every tile
  await new Promise((resolve) => (map.isStyleLoaded() || map.loaded() ? resolve() : map.once("style.load", resolve)));
  return map;
}

const geoCache = {};
async function topo(level) {
  if (!geoCache[level]) {
    geoCache[level] = api(`/api/geometry/${level}`).then((tj) => window.topojson.feature(tj, tj.objects.areas));
  }
  return geoCache[level];
}

// water and gemeente names, derived from the store's boundaries (/api/context); added after the first paint
let contextData = null;
function addContext(map) {
  if (!contextData) contextData = api("/api/context").catch(() => null);
  contextData.then((fc) => {
    if (!fc || !map.getLayer("areas-fill")) return;
    if (!map.getSource("water")) {
      map.addSource("water", { type: "geojson", data: { type: "FeatureCollection", features: fc.features.filter((f) => f.properties.kind === "water") }, tolerance: 0.4 });
    }
    if (!map.getLayer("water-fill")) map.addLayer({ id: "water-fill", type: "fill", source: "water", paint: { "fill-color": "#a4c2dc", "fill-outline-color": "#6f9ac0" } }, "areas-hover");
    if (!state.gmLabels) {
      // no font server offline: names as small HTML labels, shown from zoom 8.5 for the gemeenten in view
      state.gmLabels = fc.features.filter((f) => f.properties.kind === "gemeente_label").map((f) => {
        const el = h("span", { class: "gm-label", "data-code": f.properties.code }, f.properties.name);
        return { f, marker: new maplibregl.Marker({ element: el, anchor: "center" }).setLngLat(f.geometry.coordinates), on: false };
      });
      const update = () => {
        const z = map.getZoom(), b = map.getBounds();
        for (const l of state.gmLabels) {
          const big = l.f.properties.area_km2 >= 150;
          const want = state.page === "map" && (z >= 9 || (z >= 8 && big)) && b.contains(l.f.geometry.coordinates);
          if (want !== l.on) { if (want) l.marker.addTo(map); else l.marker.remove(); l.on = want; }
        }
      };
      map.on("moveend", update);
      state.updateLabels = update;
    }
    state.updateLabels();
  });
}
// The map draws a level from its vector tiles (source "areas", source layer "areas", feature id = property
// "code"): only the tiles in view are loaded, each generalised to its zoom. Feature state therefore names the
// source layer: { source: "areas", sourceLayer: "areas", id: code }.
// A regional level (grid) is first shown whole, at most at zoom 9.99, which is drawn from zoom-9 tiles (at zoom 10:
// from zoom-10 tiles). Its tiles are asked for only within the level's bounds: for Rijnmond the first view then
// needs the two zoom-9 tiles with cells (Rijnmond straddles a tile edge at zooms 8-11), not also the two empty
// ones north of them in view.
// A grid level with values is first drawn from one image of its coloured cells (source "cells",
// /api/grid/{level}/image: Web Mercator, corners = the level's bounds): one texture instead of thousands of
// polygons under a pixel each. Its vector tiles (pointer, outlines, deeper zooms) are added after the first paint.
const FIT_MAX_ZOOM = 9.99;
const NO_DATA = "#d9d9d9"; // an area without a value (the facts layer's no_data_color)
const gridLevel = (level) => (state.meta.grid_levels || []).find((g) => g.id === level);
function tileSource(level) {
  const bounds = gridLevel(level)?.bounds; // [[w, s], [e, n]]
  return { type: "vector", tiles: [`${location.origin}/api/tiles/${level}/{z}/{x}/{y}`], minzoom: 4, maxzoom: 11, promoteId: "code",
    ...(bounds ? { bounds: bounds.flat() } : {}) };
}

function cellsImage(level, values) {
  const [[w, s], [e, n]] = gridLevel(level).bounds;
  const q = new URLSearchParams({ indicator: values.indicator, year: values.year, scheme: values.legend.scheme });
  return { url: `${location.origin}/api/grid/${level}/image?${q}`, coordinates: [[w, n], [e, n], [e, s], [w, s]] };
}

const imageFirst = (level, values) => Boolean(values && gridLevel(level));
function firstSources(level, values) {
  return imageFirst(level, values) ? { cells: { type: "image", ...cellsImage(level, values) } } : { areas: tileSource(level) };
}
function firstLayers(level, values) {
  return imageFirst(level, values)
    ? [{ id: "cells-image", type: "raster", source: "cells", paint: { "raster-resampling": "nearest", "raster-fade-duration": 0 } }]
    : levelLayers(level, values);
}

function loadLevel(map, level, bounds = null, values = null) {
  if (state.mapLevel === level) return;
  if (bounds) map.fitBounds(bounds, { padding: 10, animate: false, maxZoom: FIT_MAX_ZOOM }); // a regional level (grid): its own view
  for (const id of ["cells-image", "areas-fill", "areas-hover", "areas-selected", "context-line", "water-fill"]) if (map.getLayer(id)) map.removeLayer(id);
  for (const id of ["cells", "areas", "context"]) if (map.getSource(id)) map.removeSource(id);
  Object.entries(firstSources(level, values)).forEach(([id, source]) => map.addSource(id, source));
  firstLayers(level, values).forEach((layer) => map.addLayer(layer));
  levelDrawn(map, level, values);
}

// The colour of each area: its class colour looked up by code (one "match" over the codes of each class), or the
// no-data grey. It is part of the layer when the layer is made, so the worker colours the tiles as it reads them:
// no second pass over the tiles (a new data-driven colour makes the worker read them again) and no feature state
// (applying state to a tile reads it again on the page's own thread).
function fillColor(values) {
  if (!values) return NO_DATA;
  const groups = values.legend.colors.map(() => []), seen = new Set(); // a label may occur once in a match
  values.codes.forEach((code, i) => {
    const c = String(code); // the tiles' property "code" is a string
    if (values.bins[i] >= 0 && !seen.has(c)) { seen.add(c); groups[values.bins[i]].push(c); }
  });
  const match = ["match", ["get", "code"]];
  groups.forEach((codes, i) => { if (codes.length) match.push(codes, values.legend.colors[i]); });
  return match.length > 2 ? [...match, values.legend.no_data_color] : values.legend.no_data_color;
}

function levelLayers(level, values = null) {
  const src = { source: "areas", "source-layer": "areas" };
  const grid = (state.meta.grid_levels || []).some((g) => g.id === level); // cells of a few pixels: no outline
  const fill = { "fill-color": fillColor(values) };
  return [{ id: "areas-fill", type: "fill", ...src, paint: grid ? { ...fill, "fill-antialias": false } : { ...fill, "fill-outline-color": "#ffffff" } },
    { id: "areas-hover", type: "line", ...src, paint: { "line-color": "#111", "line-width": 2 }, filter: ["==", ["get", "code"], ""] },
    { id: "areas-selected", type: "line", ...src, paint: { "line-color": "#000", "line-width": 3 }, filter: ["==", ["get", "code"], ""] }];
}

function levelDrawn(map, level, values) {
  // water, gemeente names and boundaries as context, added once the areas are drawn and coloured (paint): not
  // on the critical path of the first paint
  state.afterPaint = () => {
    if (!map.getSource("areas")) { // drawn from its image first: now the vector tiles, coloured by the values shown
      map.addSource("areas", tileSource(level));
      levelLayers(level, state.mapValues).forEach((layer) => map.addLayer(layer));
    }
    addContext(map);
    if (level === "gemeente" || !state.meta.levels.some((l) => l.id === "gemeente")) return;
    if (state.mapLevel !== level || map.getSource("context")) return;
    map.addSource("context", tileSource("gemeente"));
    map.addLayer({ id: "context-line", type: "line", source: "context", "source-layer": "areas", paint: { "line-color": "#4d4d4d", "line-width": ["interpolate", ["linear"], ["zoom"], 6, 0.4, 10, 1.4], "line-opacity": 0.7 } }, "areas-hover");
  };
  state.mapLevel = level;
  state.mapValues = values; // the values whose colours the layer has
}

// the attribution line names the sources of what the map draws, in the page's language: a grid level's cells
// are CBS vierkantstatistieken and show no Leefbaarometer figure
function setAttribution(map, level) {
  const text = t((state.meta.grid_levels || []).some((g) => g.id === level) ? "map.attribution_grid" : "map.attribution");
  if (state.attribution?.text === text) return;
  if (state.attribution) map.removeControl(state.attribution.control);
  const control = new maplibregl.AttributionControl({ compact: true, customAttribution: text });
  map.addControl(control);
  state.attribution = { text, control };
}

function paint(map, level, values) {
  setAttribution(map, level);
  const context = () => { const add = state.afterPaint; state.afterPaint = null; add?.(); };
  if (state.mapValues !== values) { // another measure or year on the same level
    if (map.getLayer("areas-fill")) map.setPaintProperty("areas-fill", "fill-color", fillColor(values));
    if (map.getLayer("cells-image")) { // a grid level drawn from its image: the new colours, or none without values
      if (values) map.getSource("cells").updateImage(cellsImage(level, values));
      map.setLayoutProperty("cells-image", "visibility", values ? "visible" : "none");
    }
    state.mapValues = values;
  }
  if (!values) { map.once("idle", context); map.triggerRepaint(); return; }
  map.once("idle", () => {
    document.body.dataset.mapReadyMs = String(Math.round(performance.now()));
    document.body.dataset.mapReady = `${level}:${values.year}:${values.measure}`;
    context();
  });
  map.triggerRepaint();
}

function drawLegend(box, values, title) {
  const lg = values.legend;
  const counts = lg.colors.map(() => 0);
  let missing = 0;
  values.bins.forEach((b) => { if (b >= 0) counts[b] += 1; else missing += 1; });
  const labels = lg[`labels_${state.lang}`];
  const modelled = values.modelled_years || [];
  const kind = modelled.length ? ` · ${t("mp.modelled_years", { years: modelled.join(", ") })}` : "";
  const unclassed = values.classed ? values.classed.filter((c) => !c).length : 0;
  const diverging = lg.kind === "component" || lg.kind === "development";
  box.replaceChildren(h("h2", { id: "legend-title", "data-kind": modelled.length ? "modelled" : (values.kind ?? "official"), "data-base-year": values.base_year ?? "" },
    `${t("legend")}: ${title}`, values.base_year ? ` ${values.base_year}–${values.year} (${t("change_since", { year: values.base_year })})` : ` ${values.year}`, kind),
  ...(lg.scheme ? [h("p", { class: "help", id: "legend-scheme", "data-scheme": lg.scheme }, t("mp.legend_scheme", { scheme: lg.scheme_label[state.lang], n: lg.colors.length, unit: lg.unit_label[state.lang] }))] : []),
  h("ol", { class: `legend-list${diverging ? " diverging" : ""}`, "aria-label": `${t("legend")} (${t("mp.count")})` }, [...lg.colors.map((c, i) => [c, labels[i], counts[i], i])].reverse().map(([c, label, n, i]) =>
    h("li", { "data-bin": i, "data-count": n }, h("span", { class: `swatch bin${i}`, "data-color": c, "aria-hidden": "true" }), h("span", {}, label), h("span", { class: "count" }, nf(0).format(n))))),
  h("p", { class: "help" }, t("areas_n", { n: nf(0).format(values.codes.length) }), unclassed ? ` · ${t("not_classed")}: ${nf(0).format(unclassed)}` : "", missing - unclassed > 0 ? ` · ${t("no_data")}: ${nf(0).format(missing - unclassed)}` : ""));
  box.querySelectorAll(".swatch[data-color]").forEach((el) => { el.style.background = el.dataset.color; });
}

function drawMapTable(box, values, level, names, filter) {
  const all = values.codes.map((c, i) => ({ code: c, v: values.values[i], b: values.bins[i], classed: values.classed ? values.classed[i] : true, kind: values.kinds ? values.kinds[i] : null, n: names.get(c) }));
  all.sort((a, b) => (b.classed - a.classed) || ((b.v ?? -Infinity) - (a.v ?? -Infinity)));
  const rankOf = new Map(all.filter((r) => r.classed).map((r, i) => [r, i + 1]));
  const gmOf = (r) => (level === "gemeente" ? r.code : r.n?.gm);
  const rows = all.filter((r) => (!filter.gemeente || gmOf(r) === filter.gemeente) && (!filter.wijk || r.n?.wk === filter.wijk));
  const labels = values.legend[`labels_${state.lang}`];
  const gms = state.gemeenten || [];
  const wijken = level === "buurt" && filter.gemeente ? [...new Set(all.filter((r) => gmOf(r) === filter.gemeente).map((r) => r.n?.wk).filter(Boolean))].sort() : [];
  const filters = h("form", { class: "controls inline", id: "map-filter", onsubmit: (e) => e.preventDefault() },
    h("label", { class: "field" }, h("span", {}, t("mp.filter")), h("select", { id: "f-gemeente", onchange: (e) => filter.onFilter(e.target.value, "") },
      [h("option", { value: "" }, t("mp.filter_all")), ...gms.map((g) => h("option", { value: g.code, selected: g.code === filter.gemeente ? true : null }, `${g.name} (${g.code})`))])),
    wijken.length ? h("label", { class: "field" }, h("span", {}, t("mp.wijk")), h("select", { id: "f-wijk", onchange: (e) => filter.onFilter(filter.gemeente, e.target.value) },
      [h("option", { value: "" }, t("mp.wijk_all")), ...wijken.map((w) => h("option", { value: w, selected: w === filter.wijk ? true : null }, filter.wijkNames.get(w)?.label || w))])) : null);
  let shown = 25;
  const render = () => {
    const tb = table([
      { label: t("mp.rank_nl"), value: (r) => (r.classed ? nf(0).format(rankOf.get(r)) : "–"), num: true },
      { label: t("area"), value: (r) => h("a", { href: url(`/area/${level}/${r.code}`), "data-nav": true }, r.n?.label || r.code) },
      { label: t("value"), value: (r) => (values.measure === "change" ? fmtSigned(r.v) : fmtAuto(r.v)), num: true },
      { label: t("klasse"), value: (r) => (!r.classed ? t("not_classed") : r.b >= 0 ? labels[r.b] : t("no_data")) },
      { label: t("p.kind"), value: (r) => (r.kind === "modelled" ? t("p.modelled") : r.kind === "aggregated" ? t("yk.aggregated") : r.kind ? t("p.official") : "–") },
    ], rows.slice(0, shown), `${t("table_title")} (${nf(0).format(rows.length)})`);
    box.replaceChildren(section(t("table_title"), filters, tb, shown < rows.length ? h("button", { type: "button", onclick: () => { shown += 100; render(); } }, t("show_more")) : null,
      downloads(`/api/download/map/${level}`, { year: values.year, measure: values.measure, indicator: values.indicator || "", base_year: values.base_year || "", scheme: values.legend.scheme || "", gemeente: filter.gemeente, wijk: filter.wijk })));
    box.querySelectorAll("a[data-nav]").forEach((a) => a.addEventListener("click", navClick));
  };
  render();
}

function setupHover(map, level, values, tooltip, names) {
  const byCode = new Map(values ? values.codes.map((c, i) => [c, i]) : []);
  if (state.hoverHandlers) for (const [ev, fn] of state.hoverHandlers) map.off(ev, "areas-fill", fn);
  const modelled = values && values.modelled_years && values.modelled_years.length ? ` · ${t("mp.modelled")}` : "";
  const move = (e) => {
    const f = e.features && e.features[0];
    if (!f) return;
    const code = f.properties.code;
    map.setFilter("areas-hover", ["==", ["get", "code"], code]);
    map.getCanvas().style.cursor = "pointer";
    const i = byCode.get(code);
    const cls = values && i !== undefined ? (values.classed && !values.classed[i] ? t("not_classed") : values.legend[`labels_${state.lang}`][values.bins[i]] ?? "") : "";
    const kd = values && values.kinds && i !== undefined && values.kinds[i] !== "official" ? ` · ${t(`yk.${values.kinds[i]}`)}` : modelled;
    const v = values && i !== undefined ? (values.measure === "change" ? fmtSigned(values.values[i]) : fmtAuto(values.values[i])) : null;
    const span = values && values.base_year ? ` (${values.base_year}–${values.year})` : "";
    const label = v !== null ? `${v}${span} · ${cls}${kd}` : t("no_data");
    const name = names.get(code)?.label || code;
    tooltip.replaceChildren(h("strong", {}, name), ...(name.startsWith(code) ? [] : [h("span", { class: "muted" }, ` ${code}`)]), h("br"), label);
    tooltip.hidden = false;
    tooltip.style.left = `${e.point.x + 12}px`;
    tooltip.style.top = `${e.point.y + 12}px`;
  };
  const leave = () => { map.setFilter("areas-hover", ["==", ["get", "code"], ""]); tooltip.hidden = true; map.getCanvas().style.cursor = ""; };
  const click = (e) => { const f = e.features && e.features[0]; if (f) go(url(`/area/${level}/${f.properties.code}`)); };
  map.on("mousemove", "areas-fill", move);
  map.on("mouseleave", "areas-fill", leave);
  map.on("click", "areas-fill", click);
  state.hoverHandlers = [["mousemove", move], ["mouseleave", leave], ["click", click]];
}

async function selectOnMap(map, code, name) {
  map.setFilter("areas-selected", ["==", ["get", "code"], code]);
  const box = document.getElementById("map-selected");
  if (box) { box.replaceChildren(h("strong", {}, `${t("mp.selected")}: `), name || code); box.hidden = false; }
  const fc = await topo(state.mapLevel);
  const f = fc.features.find((x) => x.properties.code === code);
  if (!f) return;
  const b = [[180, 90], [-180, -90]];
  const walk = (c) => { if (typeof c[0] === "number") { b[0][0] = Math.min(b[0][0], c[0]); b[0][1] = Math.min(b[0][1], c[1]); b[1][0] = Math.max(b[1][0], c[0]); b[1][1] = Math.max(b[1][1], c[1]); } else c.forEach(walk); };
  walk(f.geometry.coordinates);
  map.fitBounds(b, { padding: 80, maxZoom: 12, duration: 0 });
}

function kindOf(x) { return x.kind_label ? x.kind_label[state.lang] : (x.kind === "official" ? t("p.official") : t("p.modelled")); }

// ---------- area profile ----------
async function pageArea(level, code) {
  if (level && !state.meta.levels.some((l) => l.id === level)) { notFound(ui, t("nf.level", { level })); return; }
  if (!level || !code) {
    main.replaceChildren(h("h1", {}, t("p.title")), emptyState(t("p.choose")), searchBox(ui));
    return;
  }
  const year = params().get("year");
  main.replaceChildren(h("p", { class: "loading" }, t("loading")));
  let p;
  try { p = await api(`/api/profile/${level}/${encodeURIComponent(code)}${year ? `?year=${encodeURIComponent(year)}` : ""}`); } catch (err) {
    if (err.status !== 404 && err.status !== 422) { main.replaceChildren(h("h1", {}, `${levelLabel(level)} ${code}`), errorState(err, route)); return; }
    let known = false; // an unknown year of a known area, or an unknown area
    if (year && err.status === 404) { try { await api(`/api/areas/${level}/${encodeURIComponent(code)}`); known = true; } catch { known = false; } }
    notFound(ui, known ? t("nf.year", { code, year }) : t("nf.area", { code, level: levelLabel(level) }));
    return;
  }
  const a = p.area, sc = p.score;
  const head = h("header", { class: "profile-head" },
    h("h1", {}, a.label, " ", h("span", { class: "muted" }, `(${levelLabel(level)})`)),
    h("p", { class: "muted" }, [a.gemeente_name ? `${t("gemeente")}: ${a.gemeente_name} (${a.gemeente_code})` : null, a.name && level !== "pc4" ? a.code : null].filter(Boolean).join(" · ")),
    h("p", { class: "actions" },
      h("a", { href: url("/map", { level, area: code, year: p.year }), "data-nav": true }, t("p.on_map")), " · ",
      h("a", { href: url("/compare", { area: [...new Set([...(loadCompare()), `${level}:${code}`])].slice(-5) }), "data-nav": true }, t("p.compare_add"))),
    p.years.length > 1 ? h("label", { class: "field inline" }, h("span", {}, t("year")),
      h("select", { id: "p-year", onchange: (e) => go(url(`/area/${level}/${code}`, { year: e.target.value }), true) },
        p.years.map((y) => h("option", { value: y, selected: y === p.year ? true : null }, y)))) : null);
  if (!sc) { main.replaceChildren(head, emptyState(t("p.no_scores"))); return; }

  const kindText = sc.kind_label ? sc.kind_label[state.lang] : sc.kind;
  const interval = sc.interval
    ? t("p.interval_text", { level: sc.interval.level, lo: fmt(sc.interval.lo), hi: fmt(sc.interval.hi), klo: sc.klasse_lo ?? "–", khi: sc.klasse_hi ?? "–", p: sc.p_class_differs === null ? "–" : pct(sc.p_class_differs) })
    : t("p.interval_none");
  const classText = sc.classed ? `${t("p.class")} ${sc.klasse}: ${classLabel(sc.klasse)}` : sc.not_classed[state.lang];
  const scoreCard = h("section", { class: "card score", "aria-labelledby": "s-score" },
    h("h2", { id: "s-score" }, `${t("p.score")} ${p.year}`),
    h("div", { class: "score-row" },
      h("div", { class: "big", id: "score-total", "data-value": sc.total }, fmt(sc.total)),
      h("div", {}, h("div", { class: "klasse", id: "score-class", "data-klasse": sc.klasse ?? "none" }, sc.classed ? classSwatch(sc.klasse) : null, " ", classText),
        h("div", { class: "muted" }, `afw ${fmtSigned(sc.afw)} · ${t("p.kind")}: `, h("span", { id: "score-kind", "data-kind": sc.kind }, kindText)),
        h("div", { class: "muted", id: "score-rank", "data-rank": sc.rank ?? "none" }, sc.rank ? t("p.rank", { rank: nf(0).format(sc.rank), n: nf(0).format(sc.n_areas) }) : t("p.rank_none")))),
    h("p", { class: "interval", id: "score-interval", "data-level": sc.interval_level }, h("strong", {}, `${t("p.interval")}: `), interval));

  // dimensions
  const dims = p.dimensions.filter((d) => d.value !== null);
  const series = [{ name: t("p.this_area"), color: DIM_COLORS.area }, { name: `${t("p.gemeente")} ${a.gemeente_name ?? ""}`.trim(), color: DIM_COLORS.gemeente }, { name: t("p.nederland"), color: DIM_COLORS.nederland }];
  const dimCard = section(t("p.dimensions"), h("p", { class: "help" }, t("p.dimensions_desc")),
    dims.length ? [h("ul", { class: "key" }, series.map((s) => h("li", {}, h("span", { class: "swatch", "data-color": s.color, "aria-hidden": "true" }), s.name))),
      groupedBars({ groups: dims.map((d) => ({ label: d.label[state.lang], values: [d.value, d.gemeente, d.nederland] })), series, fmt: (v) => fmtSigned(v, 2),
        title: `${t("p.dimensions")} ${a.label} ${p.year}`, desc: dims.map((d) => `${d.label[state.lang]}: ${fmtSigned(d.value)}`).join("; ") }),
      table([{ label: t("p.dimensions"), value: (d) => d.label[state.lang] }, { label: series[0].name, value: (d) => fmtSigned(d.value), num: true },
        { label: t("p.class"), value: (d) => String(d.klasse ?? "–"), num: true },
        { label: series[1].name, value: (d) => fmtSigned(d.gemeente), num: true }, { label: series[2].name, value: (d) => fmtSigned(d.nederland), num: true }], dims)]
      : emptyState(t("p.dims_none")));

  // trend
  const progs = p.programmes.member.filter((x) => x.first_post_year);
  const markers = progs.map((x) => ({ x: x.first_post_year, label: x.name[state.lang], short: (x.name[state.lang] || "").split(/[ (]/)[0] }));
  const tr = p.trend.filter((x) => x.total !== null);
  const trendCard = section(t("p.trend"), h("p", { class: "help" }, t("p.trend_desc")),
    lineChart({ series: [{ name: t("p.score"), color: "#1f4e9e", points: tr.map((x) => ({ x: x.year, y: x.total, hollow: x.kind !== "official", note: kindOf(x) })) }],
      bands: tr.some((x) => x.total_lo !== null) ? [{ lo: tr.filter((x) => x.total_lo !== null).map((x) => ({ x: x.year, y: x.total_lo })), hi: tr.filter((x) => x.total_hi !== null).map((x) => ({ x: x.year, y: x.total_hi })), color: "rgba(31,78,158,0.15)" }] : [],
      markers, fmt: (v) => fmt(v, 2), title: `${t("p.trend")} ${a.label}`, desc: tr.map((x) => `${x.year}: ${fmt(x.total)} (${kindOf(x)})`).join("; ") }),
    table([{ label: t("year"), value: (x) => String(x.year) }, { label: t("p.score"), value: (x) => fmt(x.total), num: true }, { label: "afw", value: (x) => fmtSigned(x.afw), num: true },
      { label: `${t("p.interval")} (${p.interval_level}%)`, value: (x) => (x.interval ? `${fmt(x.interval.lo)} – ${fmt(x.interval.hi)}` : "–") },
      { label: t("p.class"), value: (x) => (x.klasse ? `${x.klasse} ${classLabel(x.klasse)}` : (x.small ? t("not_classed") : "–")) }, { label: t("p.kind"), value: (x) => kindOf(x) }], tr),
    downloads(`/api/download/profile/${level}/${code}`, {}));

  // change
  const ch = p.change;
  let changeBody;
  if (!ch) changeBody = emptyState(t("p.change_none"));
  else {
    const dev = ch.development_label[state.lang] || "–";
    // the largest parts, then the rest summed into one bar: the bars add up to the change shown
    const top = ch.items.slice(0, 10), restSum = ch.items.slice(10).reduce((acc, it) => acc + it.delta, 0);
    const items = ch.items.length > 10 ? [...top, { label_nl: `overige ${ch.items.length - 10} delen`, label_en: `other ${ch.items.length - 10} parts`, delta: restSum }] : top;
    changeBody = [h("p", { id: "change-text", "data-total": ch.total, "data-development": ch.development_class }, t("p.change_text", { from: ch.from, to: ch.to, delta: fmtSigned(ch.total), dev }),
      ch.kind_from !== "official" || ch.kind_to !== "official" ? ` (${t("p.modelled")})` : ""),
      items.length ? [h("p", {}, ch.by === "indicator" ? t("p.change_ind") : t("p.change_dims", { from: ch.from, to: ch.to })),
        groupedBars({ groups: items.map((it) => ({ label: L(it), values: [it.delta] })), series: [{ name: "Δ", color: "#5e3c99" }], fmt: (v) => fmtSigned(v, 3),
          title: t("p.change"), desc: items.map((it) => `${L(it)}: ${fmtSigned(it.delta)}`).join("; ") })] : null];
  }
  const changeCard = section(t("p.change"), changeBody);

  // vulnerability
  const v = p.vulnerability;
  const crit = { level: t("v.level"), decline: t("v.decline"), cumulation: t("v.cumulation") };
  const vulnCard = section(t("p.vulnerable"), !v.available ? emptyState(`${t("p.vuln_na")}${v.note ? ` (${v.note})` : ""}`) : [
    h("p", { id: "vuln-status", class: v.flagged ? "flag on" : "flag off" },
      h("strong", {}, v.flagged ? t("v.flagged", { rank: v.rank }) : t("p.vuln_none"))),
    h("p", {}, `${t("v.why")}: `, v[`reason_${state.lang}`] || "–"),
    h("ul", { class: "criteria" }, v.flags.map((f) => h("li", {}, f.met ? "✔ " : "✘ ", crit[f.criterion] ?? f.criterion))),
    h("p", { class: "help" }, t("v.definition", { name: v[`definition_${state.lang}`], year: v.year, since: v.since }))]);

  // programmes
  const pr = p.programmes;
  const factList = (kind, title) => (pr[kind].length ? [h("h3", {}, title), h("ul", { class: "progs", id: `programmes-${kind}` }, pr[kind].map((x) => h("li", { "data-programme": x.programme, "data-fact": kind }, x.text[state.lang])))] : null);
  const progCard = section(t("p.programmes"), pr.member.length + pr.touched.length + pr.gemeente.length
    ? [factList("member", t("p.member")), factList("touched", t("p.touched")), factList("gemeente", t("p.gemeente_has"))] : emptyState(t("p.prog_none")),
  h("p", { class: "help" }, `${t("p.rule")}: ${pr.rule[state.lang]}`));

  main.replaceChildren(head, h("div", { class: "cols" }, h("div", { class: "col" }, scoreCard, vulnCard, changeCard, progCard),
    h("div", { class: "col" }, dimCard, trendCard)));
  main.querySelectorAll(".swatch[data-color]").forEach((el) => { el.style.background = el.dataset.color; });
  document.title = `${a.label} – leefbaar`;
  announce(`${a.label}: ${fmt(sc.total)}, ${classLabel(sc.klasse)}`);
}

// ---------- compare ----------
function loadCompare() { try { return JSON.parse(sessionStorage.getItem("compare") || "[]"); } catch { return []; } }
async function pageCompare() {
  const refs = params().getAll("area").slice(0, 5);
  sessionStorage.setItem("compare", JSON.stringify(refs));
  const setRefs = (r) => go(url("/compare", { area: r }), true);
  state.onPick = (a) => { const ref = `${a.level}:${a.code}`; if (!refs.includes(ref) && refs.length < 5) setRefs([...refs, ref]); };
  const head = [h("h1", {}, t("c.title")), h("p", { class: "help" }, t("c.help")),
    h("ul", { class: "chips" }, refs.map((r) => h("li", {}, r, " ", h("button", { type: "button", "aria-label": t("c.remove", { name: r }), onclick: () => setRefs(refs.filter((x) => x !== r)) }, "×")))),
    h("p", {}, h("button", { type: "button", onclick: () => document.getElementById("search").focus() }, t("c.add")))];
  if (refs.length < 2) { main.replaceChildren(...head, emptyState(t("c.too_few"))); return; }
  main.replaceChildren(...head, h("p", { class: "loading" }, t("loading")));
  let profiles;
  try { profiles = await api(url("/api/compare", { area: refs }).replace(/[?&]lang=en/, "")); } catch (err) {
    main.replaceChildren(...head, err.status === 404 ? emptyState(err.message) : errorState(err, route)); return;
  }
  const palette = ["#1f4e9e", "#e08214", "#2ca25f", "#8856a7", "#c51b7d"];
  const dimsIds = dims();
  const series = profiles.map((p, i) => ({ name: p.area.label, color: palette[i] }));
  const bars = groupedBars({ groups: dimsIds.map((d) => ({ label: state.meta.dimensions.find((x) => x.id === d).label[state.lang], values: profiles.map((p) => p.dimensions.find((x) => x.id === d)?.value ?? null) })),
    series, fmt: (v) => fmtSigned(v, 2), title: t("p.dimensions"), desc: profiles.map((p) => p.area.label).join(", ") });
  const lines = lineChart({ series: profiles.map((p, i) => ({ name: p.area.label, color: palette[i], points: p.trend.filter((x) => x.total !== null).map((x) => ({ x: x.year, y: x.total, hollow: x.kind !== "official" })) })),
    fmt: (v) => fmt(v, 2), title: t("p.trend"), desc: profiles.map((p) => `${p.area.label}: ${fmt(p.score?.total)}`).join("; ") });
  const tb = table([{ label: t("area"), value: (p) => h("a", { href: url(`/area/${p.area.level}/${p.area.code}`), "data-nav": true }, p.area.label) },
    { label: t("year"), value: (p) => String(p.year ?? "–"), num: true },
    { label: t("p.score"), value: (p) => fmt(p.score?.total), num: true },
    { label: t("p.class"), value: (p) => (p.score?.klasse ? `${p.score.klasse} ${classLabel(p.score.klasse)}` : "–") },
    ...dimsIds.map((d) => ({ label: state.meta.dimensions.find((x) => x.id === d).label[state.lang], value: (p) => fmtSigned(p.dimensions.find((x) => x.id === d)?.value ?? null), num: true }))], profiles);
  main.replaceChildren(...head, h("div", { class: "grid" },
    h("div", { class: "wide" }, section(t("c.title"), tb, downloads("/api/download/compare", { area: refs }))),
    section(t("p.dimensions"), h("ul", { class: "key" }, series.map((s) => h("li", {}, h("span", { class: "swatch", "data-color": s.color, "aria-hidden": "true" }), s.name))), bars),
    section(t("p.trend"), lines)));
  main.querySelectorAll(".swatch[data-color]").forEach((el) => { el.style.background = el.dataset.color; });
}

// ---------- gap ----------
async function pageGap() {
  const q = params();
  const levels = state.meta.levels.filter((l) => l.score_years.length);
  const level = q.get("level") || levels[0]?.id;
  const gemeente = q.get("gemeente") || "";
  if (!level) { main.replaceChildren(h("h1", {}, t("g.title")), emptyState(t("g.none"))); return; }
  let gms = [];
  try { gms = await api("/api/gemeenten"); } catch { gms = []; }
  const controls = h("form", { class: "controls inline", onsubmit: (e) => e.preventDefault() },
    h("label", { class: "field" }, h("span", {}, t("level")), h("select", { id: "g-level", onchange: (e) => go(url("/gap", { level: e.target.value, gemeente }), true) },
      levels.map((l) => h("option", { value: l.id, selected: l.id === level ? true : null }, l.label[state.lang])))),
    h("label", { class: "field" }, h("span", {}, t("gemeente")), h("select", { id: "g-gemeente", onchange: (e) => go(url("/gap", { level, gemeente: e.target.value }), true) },
      [h("option", { value: "" }, t("all_nl")), ...gms.map((g) => h("option", { value: g.code, selected: g.code === gemeente ? true : null }, `${g.name} (${g.code})`))])));
  main.replaceChildren(h("h1", {}, t("g.title")), h("p", { class: "help" }, t("g.desc")), controls, h("p", { class: "loading" }, t("loading")));
  let d;
  try { d = await api(url(`/api/gap/${level}`, { gemeente }).replace(/[?&]lang=en/, "")); } catch (err) { main.lastChild.replaceWith(errorState(err, route)); return; }
  if (!d.years.length) { main.lastChild.replaceWith(emptyState(t("g.none"))); return; }
  const Y = d.years;
  const fan = lineChart({ series: [{ name: t("g.median"), color: "#1f4e9e", points: Y.map((r) => ({ x: r.year, y: r.p50 })) }, { name: t("g.mean"), color: "#e08214", dashed: true, points: Y.map((r) => ({ x: r.year, y: r.mean })) }],
    bands: [{ lo: Y.map((r) => ({ x: r.year, y: r.p10 })), hi: Y.map((r) => ({ x: r.year, y: r.p90 })), color: "rgba(31,78,158,0.12)" }, { lo: Y.map((r) => ({ x: r.year, y: r.p25 })), hi: Y.map((r) => ({ x: r.year, y: r.p75 })), color: "rgba(31,78,158,0.22)" }],
    fmt: (v) => fmtSigned(v, 2), yLabel: "afw", title: t("g.fan"), desc: Y.map((r) => `${r.year}: P10 ${fmt(r.p10)}, P50 ${fmt(r.p50)}, P90 ${fmt(r.p90)}`).join("; ") });
  const names = state.meta.classes[`labels_${state.lang}`];
  const mix = stackedBars({ rows: Y.map((r) => ({ x: r.year, counts: r.classes })), colors: state.meta.classes.colors, names, title: t("g.classes"), desc: Y.map((r) => `${r.year}: ${r.classes.join(", ")}`).join("; ") });
  const tb = table([{ label: t("year"), value: (r) => String(r.year) }, { label: t("areas_n", { n: "" }).trim(), value: (r) => nf(0).format(r.n_areas), num: true },
    { label: t("g.mean"), value: (r) => fmtSigned(r.mean), num: true }, { label: "P10", value: (r) => fmtSigned(r.p10), num: true }, { label: t("g.median"), value: (r) => fmtSigned(r.p50), num: true },
    { label: "P90", value: (r) => fmtSigned(r.p90), num: true }, { label: t("g.spread"), value: (r) => fmt(r.p90_p10), num: true }, { label: t("g.gap"), value: (r) => fmtSigned(r.gap_bottom10), num: true },
    { label: t("g.insuff"), value: (r) => pct(r.share_insufficient), num: true }], Y);
  const an = d.analysis;
  let gapCard = null;
  if (an && an.available) {
    const rows = (m) => an.by_year.filter((r) => r.measure === m);
    const ch = an.change.find((c) => c.measure === "p90_p10") || an.change[0];
    gapCard = section(t("g.verdict_title"),
      h("p", { id: "gap-verdict", class: "verdict", "data-verdict": an.verdict }, h("strong", {}, `${an.verdict_text[state.lang]}.`), " ",
        t("g.verdict_text", { from: ch.from_year, to: ch.to_year, a: fmt(ch.from_value), b: fmt(ch.to_value), d: fmtSigned(ch.change), lo: fmtSigned(ch.lo), hi: fmtSigned(ch.hi), n: nf(0).format(an.n_areas) })),
      lineChart({ series: [{ name: t("g.per_area"), color: "#1f4e9e", points: rows("p90_p10").map((r) => ({ x: r.year, y: r.estimate })) },
        { name: t("g.per_inhabitant"), color: "#e08214", dashed: true, points: rows("p90_p10_w").map((r) => ({ x: r.year, y: r.estimate })) }],
      bands: [{ lo: rows("p90_p10").map((r) => ({ x: r.year, y: r.lo })), hi: rows("p90_p10").map((r) => ({ x: r.year, y: r.hi })), color: "rgba(31,78,158,0.15)" },
        { lo: rows("p90_p10_w").map((r) => ({ x: r.year, y: r.lo })), hi: rows("p90_p10_w").map((r) => ({ x: r.year, y: r.hi })), color: "rgba(224,130,20,0.15)" }],
      fmt: (v) => fmt(v, 2), yLabel: "P90 − P10", title: t("g.verdict_title"), desc: rows("p90_p10_w").map((r) => `${r.year}: ${fmt(r.estimate)} (${fmt(r.lo)} – ${fmt(r.hi)})`).join("; ") }),
      h("ul", { class: "key" }, h("li", {}, h("span", { class: "swatch", "data-color": "#1f4e9e", "aria-hidden": "true" }), t("g.per_area")), h("li", {}, h("span", { class: "swatch", "data-color": "#e08214", "aria-hidden": "true" }), t("g.per_inhabitant"))));
  }
  const segCard = segregationSection(ui, gemeente, gms.find((g) => g.code === gemeente)?.name);
  main.lastChild.replaceWith(h("div", { class: "grid" }, gapCard, segCard, section(t("g.fan"), h("p", { class: "help" }, t("g.fan_desc")), fan),
    section(t("g.classes"), h("ul", { class: "key" }, names.map((n, i) => h("li", {}, h("span", { class: `swatch k${i + 1}`, "aria-hidden": "true" }), n))), mix),
    h("div", { class: "wide" }, section(t("g.title"), tb, downloads(`/api/download/gap/${level}`, { gemeente })))));
  main.querySelectorAll(".swatch[data-color]").forEach((el) => { el.style.background = el.dataset.color; });
}

// ---------- programmes ----------
async function pageProgrammes() {
  main.replaceChildren(h("h1", {}, t("pr.title")), h("p", { class: "loading" }, t("loading")));
  let d;
  try { d = await api("/api/programmes"); } catch (err) { main.lastChild.replaceWith(errorState(err, route)); return; }
  const reg = d.registry;
  const now = new Date().getFullYear();
  const detail = h("div", { id: "prog-detail", "aria-live": "polite" });
  const show = (id) => {
    const p = reg.find((x) => x.id === id);
    if (!p) return;
    setQuery({ id });
    const list = (items) => (items && items.length ? h("ul", {}, items.map((x) => h("li", {}, x))) : null);
    detail.replaceChildren(section(`${L(p, "name")} (${p.start}–${p.end ?? t("pr.running")})`,
      p[`notes_${state.lang}`] ? h("p", {}, p[`notes_${state.lang}`]) : null,
      h("h3", {}, t("pr.problems")), list(p[`core_problems_${state.lang}`]),
      p[`instruments_${state.lang}`]?.length ? [h("h3", {}, t("pr.instruments")), list(p[`instruments_${state.lang}`])] : null,
      p.areas?.length ? [h("h3", {}, t("pr.areas")), list(p.areas.map((a) => `${a.id} (${a.adoption_year})`))] : null,
      p.evaluations?.length ? [h("h3", {}, t("pr.evaluations")), list(p.evaluations.map((e) => `${e.title} (${e.publisher ?? ""} ${e.year ?? ""}): ${e[`finding_${state.lang}`] ?? ""}`))] : null));
    detail.querySelector("h2")?.focus?.();
  };
  const kinds = { programme: "#1f4e9e", phase: "#74add1", policy_note: "#e08214", law: "#5e3c99", classification: "#2ca25f" };
  const kindLabel = (k) => t(`kind.${k}`);
  const items = reg.map((p) => ({ id: p.id, label: L(p, "name"), start: p.start, end: p.end, kind: p.kind, depth: p.parent ? 1 : 0 }));
  const body = reg.length ? [h("p", { class: "help" }, t("pr.desc")),
    h("ul", { class: "key" }, Object.entries(kinds).map(([k, c]) => h("li", {}, h("span", { class: "swatch", "data-color": c, "aria-hidden": "true" }), kindLabel(k)))),
    h("div", { class: "timeline-wrap" }, timeline({ items, minYear: Math.min(...reg.map((p) => p.start)), maxYear: now, colors: kinds, onSelect: show, runningLabel: t("pr.running"),
      title: t("pr.title"), desc: reg.map((p) => `${L(p, "name")} ${p.start}–${p.end ?? t("pr.running")}`).join("; ") })),
    detail,
    section(t("pr.title"), table([{ label: t("pr.name"), value: (p) => h("button", { type: "button", class: "link", onclick: () => show(p.id) }, L(p, "name")) },
      { label: t("pr.period"), value: (p) => `${p.start}–${p.end ?? ""}` }, { label: t("pr.kind"), value: (p) => kindLabel(p.kind) },
      { label: t("pr.members"), value: (p) => h("span", { "data-programme": p.id, "data-members": p.pc4_members ?? "" }, p.pc4_members === null ? "–" : nf(0).format(p.pc4_members)), num: true },
      { label: t("pr.touched"), value: (p) => (p.pc4_touched === null ? "–" : nf(0).format(p.pc4_touched)), num: true }], reg),
    h("p", { class: "help", id: "membership-rule" }, d.membership_rule[state.lang]),
    downloads("/api/download/programmes", {}))] : [emptyState(t("pr.none"))];
  let cards = [];
  try { cards = await api("/api/evaluations"); } catch (err) { cards = err; }
  const evalCard = cards instanceof Error ? section(t("ev.title"), errorState(cards, route)) : evaluationCards(ui, cards);
  const listsCard = section(t("pr.lists"), table([{ label: t("pr.list_id"), value: (r) => r.list_id }, { label: t("pr.entries"), value: (r) => fmtInt(r.entries), num: true },
    { label: t("pr.gemeenten"), value: (r) => fmtInt(r.gemeenten), num: true }], d.lists));
  main.replaceChildren(h("h1", {}, t("pr.title")), evalCard, ...body, listsCard);
  main.querySelectorAll(".swatch[data-color]").forEach((el) => { el.style.background = el.dataset.color; });
  const id = params().get("id");
  if (id) show(id);
}

// ---------- router ----------
const PAGES = ["map", "area", "compare", "gap", "programmes", "perception"];
// what the page modules (pages/*.js) use of this one
const ui = {
  state, main, h, t, L, nf, fmt, fmtSigned, fmtInt, fmtAuto, pct, api, url, go, params, setQuery, section, table, emptyState,
  errorState, downloads, announce, levelLabel, classLabel, classSwatch, lineChart, groupedBars, route,
};
async function route() {
  const q = params();
  state.lang = q.get("lang") === "en" ? "en" : "nl";
  applyLanguage();
  state.onPick = null;
  const parts = location.pathname.split("/").filter(Boolean).map((x) => { try { return decodeURIComponent(x); } catch { return x; } });
  const page = parts[0] || "map";
  state.page = page;
  document.querySelectorAll("#nav a").forEach((a) => a.removeAttribute("aria-current"));
  document.querySelector(`#nav a[data-page="${page}"]`)?.setAttribute("aria-current", "page");
  document.title = `${PAGES.includes(page) ? t(`nav.${page}`) : t("nf.title")} – leefbaar`;
  try {
    if (page === "map" && !state.map) maplibregl.prewarm(); // the map's worker starts while the meta data load
    if (!state.meta) state.meta = await meta();
    if (page === "map" && parts.length === 1 || !parts.length) await pageMap();
    else if (page === "area" && parts.length <= 3) await pageArea(parts[1], parts[2]);
    else if (page === "compare" && parts.length === 1) await pageCompare();
    else if (page === "gap" && parts.length === 1) await pageGap();
    else if (page === "programmes" && parts.length === 1) await pageProgrammes();
    else if (page === "perception" && parts.length <= 2) await pagePerception(ui, parts[1]);
    else notFound(ui, t("nf.page", { path: location.pathname }));
  } catch (err) {
    console.error(err);
    main.replaceChildren(errorState(err, route));
  }
  main.querySelectorAll("a[data-nav]").forEach((a) => a.addEventListener("click", navClick));
}

function navClick(e) {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
  const a = e.currentTarget;
  if (a.hasAttribute("download")) return;
  e.preventDefault();
  go(a.getAttribute("href"));
  main.focus({ preventScroll: true });
}

document.querySelectorAll("a[data-nav]").forEach((a) => a.addEventListener("click", navClick));
document.getElementById("lang").addEventListener("click", () => {
  const p = params();
  if (state.lang === "nl") p.set("lang", "en"); else p.delete("lang");
  const s = p.toString();
  go(`${location.pathname}${s ? `?${s}` : ""}`, true);
});
window.addEventListener("popstate", route);
setupSearch();
route();
