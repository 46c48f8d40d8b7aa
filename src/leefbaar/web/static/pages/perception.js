// Perception next to the figures (Rotterdam Wijkprofiel): the city and one area per index over the editions (objective
// against subjective part), the largest gaps of an edition, and an area's CBS buurten with their Leefbaarometer score.
// Every sentence comes from the facts layer (/api/perception); labels from i18n.js. Address: /perception[/WP0081].

import { notFound } from "/static/pages/notfound.js";

const COLORS = { objective: "#1f4e9e", subjective: "#e08214" };

function key(ui) {
  const { h, t } = ui;
  return h("ul", { class: "key" }, ["objective", "subjective"].map((k) => h("li", {}, h("span", { class: "swatch", "data-color": COLORS[k], "aria-hidden": "true" }), t(`pe.${k}`))));
}

function indexCharts(ui, rows, dims, name) {
  const { h, t, fmt, lineChart, state } = ui;
  return h("div", { class: "pe-charts" }, dims.map((d) => {
    const r = rows.filter((x) => x.dimension === d.id);
    const label = d.label[state.lang];
    return h("figure", { class: "pe-chart", "data-dimension": d.id }, h("figcaption", {}, `${label} (${d.index})`),
      lineChart({ series: ["objective", "subjective"].map((k) => ({ name: t(`pe.${k}`), color: COLORS[k], dashed: k === "subjective",
        points: r.map((x) => ({ x: x.year, y: x[k] })) })), fmt: (v) => fmt(v, 0), height: 220,
      title: `${name}: ${t("pe.over_editions", { index: label })}`,
      desc: r.map((x) => `${x.year}: ${t("pe.objective")} ${fmt(x.objective, 1)}, ${t("pe.subjective")} ${fmt(x.subjective, 1)}`).join("; ") }));
  }));
}

function gapTable(ui, rows, withArea) {
  const { h, t, fmt, fmtSigned, fmtInt, url, table, state } = ui;
  return table([
    ...(withArea ? [{ label: t("area"), value: (r) => h("a", { href: url(`/perception/${r.code}`), "data-nav": true }, r.name) }] : [{ label: t("pe.edition"), value: (r) => String(r.year) }]),
    { label: t("pe.index"), value: (r) => r.label[state.lang] },
    { label: t("pe.objective"), value: (r) => fmt(r.objective, 1), num: true },
    { label: t("pe.subjective"), value: (r) => fmt(r.subjective, 1), num: true },
    { label: t("pe.gap"), value: (r) => fmtSigned(r.gap, 1), num: true },
    { label: t("pe.judgement"), value: (r) => (r.judgement ? t(`pe.${r.judgement}`) : "–") },
    { label: t("pe.rank"), value: (r) => (r.rank ? t("pe.rank_of", { rank: fmtInt(r.rank), n: fmtInt(r.n_ranked) }) : "–"), num: true }], rows);
}

export async function pagePerception(ui, code) {
  const { h, t, api, url, go, main, state, section, emptyState, errorState, params } = ui;
  const edition = Number(params().get("edition")) || "";
  main.replaceChildren(h("h1", {}, t("pe.title")), h("p", { class: "loading" }, t("loading")));
  let o;
  try { o = await api(edition ? `/api/perception?edition=${edition}` : "/api/perception"); } catch (err) {
    if (err.status === 404 && edition) { notFound(ui, t("pe.no_edition", { edition })); return; }
    main.lastChild.replaceWith(err.status === 404 ? emptyState(t("pe.none")) : errorState(err, ui.route)); return;
  }
  const controls = h("form", { class: "controls inline", onsubmit: (e) => e.preventDefault() },
    h("label", { class: "field" }, h("span", {}, t("pe.edition")), h("select", { id: "pe-edition", onchange: (e) => go(url(code ? `/perception/${code}` : "/perception", { edition: e.target.value }), true) },
      o.editions.map((y) => h("option", { value: y, selected: y === o.edition ? true : null }, y)))),
    h("label", { class: "field" }, h("span", {}, t("pe.area")), h("select", { id: "pe-area", onchange: (e) => go(url(e.target.value ? `/perception/${e.target.value}` : "/perception", { edition })) },
      [h("option", { value: "" }, t("pe.all_areas")), ...o.areas.map((a) => h("option", { value: a.code, selected: a.code === code ? true : null }, a.gebied && a.area_type !== "gebied" ? `${a.name} (${a.gebied})` : a.name))])));
  const head = [h("h1", {}, t("pe.title")), h("p", { class: "help", id: "pe-scale" }, o.scale[state.lang]), controls];
  if (code) { await areaView(ui, o, code, head); return; }

  const largest = o.largest;
  const stats = o.lbm?.stats?.[0];
  main.replaceChildren(...head, h("div", { class: "grid" },
    h("div", { class: "wide" }, section(t("pe.largest", { edition: o.edition }), h("p", { class: "help" }, t("pe.largest_desc")),
      h("ol", { class: "pe-largest", id: "pe-largest" }, largest.map((r) => h("li", { "data-code": r.code, "data-gap": r.gap },
        h("a", { href: url(`/perception/${r.code}`, { edition }), "data-nav": true }, r.text[state.lang])))),
      gapTable(ui, largest, true))),
    section(t("pe.city"), key(ui), indexCharts(ui, o.city, o.dimensions, "Rotterdam"),
      stats ? h("p", { class: "help" }, t("pe.corr", { n: ui.fmtInt(stats.n), r: ui.fmt(stats.pearson_r, 2), rho: ui.fmt(stats.spearman_rho, 2), pair: `${stats.wijkprofiel} – ${stats.lbm}` })) : null),
    h("div", { class: "wide" }, section(t("pe.parts"), gapTable(ui, o.city, false)))));
  main.querySelectorAll(".swatch[data-color]").forEach((el) => { el.style.background = el.dataset.color; });
  document.title = `${t("nav.perception")} – leefbaar`;
  ui.announce(t("pe.title"));
}

async function areaView(ui, o, code, head) {
  const { h, t, api, url, main, state, section, errorState, fmt, fmtSigned, fmtInt, table, classSwatch } = ui;
  let a;
  try { a = await api(`/api/perception/${encodeURIComponent(code)}`); } catch (err) {
    if (err.status === 404 || err.status === 422) { notFound(ui, t("pe.unknown", { code })); return; }
    main.replaceChildren(...head, errorState(err, ui.route)); return;
  }
  const ar = a.area;
  const latest = Math.max(...a.indices.map((r) => r.year));
  const levels = new Map(state.meta.levels.map((l) => [l.id, l]));
  const buurtLink = levels.get("buurt")?.score_years?.length;
  const wijk = ar.wijk_code && levels.get("wijk")?.score_years?.length ? ar.wijk_code : null;
  const lbmYear = a.lbm_year;
  const buurten = section(t("pe.buurten"), h("p", { id: "pe-link" }, a.link_text[state.lang]),
    a.buurten.length ? table([
      { label: t("pe.buurt"), value: (b) => (buurtLink ? h("a", { href: url(`/area/buurt/${b.code}`), "data-nav": true }, `${b.code} ${b.name ?? ""}`) : `${b.code} ${b.name ?? ""}`) },
      { label: t("pe.lbm_score", { year: lbmYear ?? "" }), value: (b) => fmt(b.total), num: true },
      { label: t("p.class"), value: (b) => (b.klasse ? h("span", { "data-klasse": b.klasse }, classSwatch(b.klasse), ` ${b.klasse} ${b.klasse_label[state.lang]}`) : "–") },
      { label: t("pe.onv"), value: (b) => fmtSigned(b.onv), num: true },
      { label: t("pe.residents"), value: (b) => fmtInt(b.residents), num: true }], a.buurten) : null,
    wijk ? h("p", {}, h("a", { href: url(`/area/wijk/${wijk}`), "data-nav": true, id: "pe-wijk" }, t("pe.wijk_profile", { code: wijk }))) : null);
  const s = a.safety;
  const safety = s ? section(t("pe.safety"), h("p", { id: "pe-safety" }, t("pe.safety_text", { edition: s.edition, vi: fmt(s.vi, 1), rank_vi: fmtInt(s.rank_vi), n: fmtInt(s.n),
    year: s.lbm_year, onv: fmtSigned(s.onv), rank_onv: fmtInt(s.rank_onv), res: fmtSigned(s.residual, 1) }))) : null;
  const themes = a.themes.filter((x) => x.year === latest);
  const newest = a.indices.filter((r) => r.year === latest);
  main.replaceChildren(...head,
    h("header", { class: "profile-head" }, h("h2", { class: "pe-area-title" }, ar.name, " ", h("span", { class: "muted" }, `(${ar.area_type}${ar.gebied && ar.area_type !== "gebied" ? `, ${ar.gebied}` : ""} · ${ar.code})`)),
      h("ul", { class: "pe-headline", id: "pe-headline" }, newest.filter((r) => r.text).map((r) => h("li", { "data-gap": r.gap }, r.text[state.lang]))),
      h("p", {}, h("a", { href: url("/perception", { edition: o.edition === o.editions.at(-1) ? "" : o.edition }), "data-nav": true }, t("pe.back")))),
    h("div", { class: "grid" },
      section(t("pe.parts"), key(ui), indexCharts(ui, a.indices, o.dimensions, ar.name)),
      buurten, safety,
      h("div", { class: "wide" }, section(t("pe.parts"), gapTable(ui, a.indices, false))),
      themes.length ? section(t("pe.themes", { edition: latest }), table([{ label: t("pe.theme"), value: (x) => x.label[state.lang] },
        { label: t("pe.index"), value: (x) => o.dimensions.find((d) => d.id === x.dimension)?.label[state.lang] ?? x.dimension },
        { label: t("pe.objective"), value: (x) => fmt(x.objective, 1), num: true }, { label: t("pe.subjective"), value: (x) => fmt(x.subjective, 1), num: true },
        { label: t("pe.gap"), value: (x) => fmtSigned(x.gap, 1), num: true }], themes)) : null));
  main.querySelectorAll(".swatch[data-color]").forEach((el) => { el.style.background = el.dataset.color; });
  document.title = `${ar.name} – ${t("nav.perception")} – leefbaar`;
  ui.announce(`${ar.name}: ${t("pe.title")}`);
}
