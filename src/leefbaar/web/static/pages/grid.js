// The map of a grid level (CBS vierkantstatistieken: 100 m or 500 m cells). A cell has no Leefbaarometer score:
// the measures are the cells' own CBS indicators (facts layer, /api/meta grid_levels), the legend names the
// source and says that there is no score at this level; cells without a value are "no data", never 0.
// First paint: the values are asked for at once, the map is made with one image of the cells in their colours
// (/api/grid/{level}/image: the same classes) and fitted to the cells; the cells' vector tiles (already coloured,
// for the pointer and deeper zooms), the water and the gemeente context come after the first paint (kit.paint).

export async function pageGrid(ui, kit, gl) {
  const { h, t, state, main } = ui;
  const q = ui.params();
  const level = gl.id;
  const sensitive = q.get("sensitive") === "1";
  const offered = gl.measures.filter((m) => sensitive || !m.sensitive);
  let indicator = q.get("indicator");
  if (!offered.some((m) => m.id === indicator)) indicator = gl.default_measure || offered[0]?.id;
  const m = offered.find((x) => x.id === indicator);
  if (!m) { main.replaceChildren(ui.emptyState(t("map_empty"))); return; }
  let year = Number(q.get("year"));
  if (!m.years.includes(year)) year = m.years.at(-1);
  const scheme = q.get("scheme") || "quantiles";
  const view = (extra) => ({ level, indicator, year, scheme: scheme !== "quantiles" ? scheme : "", sensitive: sensitive ? "1" : "", ...extra });
  const reload = (extra) => ui.go(ui.url("/map", view(extra)), true);
  // asked for at once: the map's start-up and this request run side by side
  const valuesP = ui.api(`/api/grid/${level}?indicator=${encodeURIComponent(indicator)}&year=${year}&scheme=${scheme}`);
  valuesP.catch(() => {}); // handled below, after the map has started

  const L = (x) => x[state.lang];
  const field = (id, label, control) => h("label", { class: "field" }, h("span", {}, label), control);
  const select = (id, options, value, onchange) => h("select", { id, onchange },
    options.map(([v, text]) => h("option", { value: v, selected: String(v) === String(value) ? true : null }, text)));
  const groups = new Map();
  offered.forEach((x) => { const g = L(x.theme_label); if (!groups.has(g)) groups.set(g, []); groups.get(g).push(x); });
  const measureSelect = h("select", { id: "f-measure", onchange: (e) => reload({ indicator: e.target.value, year: "" }) },
    [...groups].map(([g, items]) => h("optgroup", { label: g }, items.map((x) => h("option", {
      value: x.id, selected: x.id === indicator ? true : null, "data-sensitive": x.sensitive ? "1" : null }, `${L(x.label)} (${L(x.unit_label)})`)))));
  const controls = h("form", { class: "controls", "aria-label": t("measure"), onsubmit: (e) => e.preventDefault() },
    field("f-level", t("level"), select("f-level", kit.levelOptions(true), level, (e) => ui.go(ui.url("/map", { level: e.target.value }), true))),
    field("f-measure", t("gr.measure"), measureSelect),
    h("label", { class: "check" }, h("input", { type: "checkbox", id: "f-sensitive", checked: sensitive ? true : null, onchange: (e) => reload({ sensitive: e.target.checked ? "1" : "" }) }), " ", t("mp.sensitive")),
    sensitive ? h("p", { class: "warning", id: "sensitive-warning", role: "note" }, t("mp.sensitive_warning")) : null,
    field("f-scheme", t("mp.scheme"), select("f-scheme", (state.meta.map_schemes || []).map((s) => [s.id, L(s.label)]), scheme, (e) => reload({ scheme: e.target.value }))),
    field("f-year", t("year"), select("f-year", m.years.map((y) => [y, String(y)]), year, (e) => reload({ year: e.target.value }))));
  const mapBox = h("div", { id: "map", class: "map", tabindex: "0", role: "application", "aria-describedby": "map-help" });
  const legend = h("div", { class: "legend", id: "legend", "aria-live": "polite" });
  const tooltip = h("div", { class: "tooltip", id: "tooltip", hidden: true });
  main.replaceChildren(h("div", { class: "map-layout" },
    h("div", { class: "map-side" }, h("h1", {}, t("nav.map")), controls, legend, h("p", { id: "map-help", class: "help" }, t("gr.help"))),
    h("div", { class: "map-wrap" }, mapBox, tooltip)));
  ui.setQuery(view());

  let values = null;
  try { values = await valuesP; } catch (err) {
    legend.replaceChildren(err.status === 404 ? ui.emptyState(err.message) : ui.errorState(err, () => ui.route()));
  }
  const map = await kit.ensureMap(mapBox, gl.bounds, level, values); // made with the cells' colours
  kit.loadLevel(map, level, gl.bounds, values);
  kit.paint(map, level, values);
  const title = `${L(m.label)} ${year}`;
  if (values) drawGridLegend(ui, legend, values, gl, title);
  mapBox.setAttribute("aria-label", t("map_label", { level: L(gl.label), measure: L(m.label), year }));
  setupGridHover(ui, map, values, m, tooltip);
  ui.announce(t("map_label", { level: L(gl.label), measure: L(m.label), year }));
}

function drawGridLegend(ui, box, values, gl, title) {
  const { h, t, state, nf } = ui;
  const lg = values.legend;
  const counts = lg.colors.map(() => 0);
  let missing = 0;
  values.bins.forEach((b) => { if (b >= 0) counts[b] += 1; else missing += 1; });
  const labels = lg[`labels_${state.lang}`];
  const rows = lg.colors.map((c, i) => [c, labels[i], counts[i], i]).reverse();
  box.replaceChildren(
    h("h2", { id: "legend-title", "data-kind": "cbs", "data-indicator": values.indicator }, `${t("legend")}: ${title}`),
    h("p", { class: "help", id: "legend-source" }, values.source[state.lang]),
    h("p", { class: "note", id: "legend-no-score", role: "note" }, values.no_score[state.lang]),
    h("p", { class: "help", id: "legend-scheme", "data-scheme": lg.scheme }, t("mp.legend_scheme", { scheme: lg.scheme_label[state.lang], n: lg.colors.length, unit: lg.unit_label[state.lang] })),
    h("ol", { class: "legend-list", "aria-label": `${t("legend")} (${t("gr.count")})` },
      rows.map(([c, label, n, i]) => h("li", { "data-bin": i, "data-count": n }, h("span", { class: `swatch bin${i}`, "data-color": c, "aria-hidden": "true" }), h("span", {}, label), h("span", { class: "count" }, nf(0).format(n)))),
      h("li", { "data-bin": -1, "data-count": missing }, h("span", { class: "swatch nodata", "data-color": lg.no_data_color, "aria-hidden": "true" }), h("span", {}, lg.no_data_label[state.lang]), h("span", { class: "count" }, nf(0).format(missing)))),
    h("p", { class: "help" }, t("gr.cells", { n: nf(0).format(values.codes.length), size: gl.cell_m, k: nf(0).format(values.n_values) })),
    values.rounded ? h("p", { class: "help", id: "legend-rounded" }, values.rounded[state.lang]) : null);
  box.querySelectorAll(".swatch[data-color]").forEach((el) => { el.style.background = el.dataset.color; });
}

function setupGridHover(ui, map, values, m, tooltip) {
  const { h, t, state, fmtAuto } = ui;
  const byCode = new Map(values ? values.codes.map((c, i) => [c, i]) : []);
  if (state.hoverHandlers) for (const [ev, fn] of state.hoverHandlers) map.off(ev, "areas-fill", fn);
  const move = (e) => {
    const f = e.features && e.features[0];
    if (!f) return;
    const code = f.properties.code;
    map.setFilter("areas-hover", ["==", ["get", "code"], code]);
    const i = byCode.get(code);
    const v = values && i !== undefined ? values.values[i] : null;
    const text = v === null || v === undefined ? t("no_data") : `${m.label[state.lang]}: ${fmtAuto(v)} (${m.unit_label[state.lang]})`;
    tooltip.replaceChildren(h("strong", {}, t("gr.cell", { code })), h("br"), text);
    tooltip.hidden = false;
    tooltip.style.left = `${e.point.x + 12}px`;
    tooltip.style.top = `${e.point.y + 12}px`;
  };
  const leave = () => { map.setFilter("areas-hover", ["==", ["get", "code"], ""]); tooltip.hidden = true; };
  map.on("mousemove", "areas-fill", move);
  map.on("mouseleave", "areas-fill", leave);
  state.hoverHandlers = [["mousemove", move], ["mouseleave", leave]];
}
