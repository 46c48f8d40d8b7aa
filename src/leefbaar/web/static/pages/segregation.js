// Segregation in one gemeente beside the livability gap (gap page): dissimilarity D per year with its interval, the
// verdict and its explanation as `leefbaar segregation` words them (facts layer), and the change with its interval.
const BY = ["income", "tenure", "age", "ses"];

export function segregationSection(ui, gemeente, name) {
  const { h, t, section, emptyState } = ui;
  const id = "segregation";
  if (!gemeente) return h("section", { class: "card", id, "aria-labelledby": `${id}-h` }, h("h2", { id: `${id}-h` }, t("se.heading")), emptyState(t("se.choose")));
  const by = BY.includes(ui.params().get("by")) ? ui.params().get("by") : "income";
  const body = h("div", { id: "segregation-body", "aria-live": "polite" }, h("p", { class: "loading" }, t("se.loading")));
  const select = h("label", { class: "field inline" }, h("span", {}, t("se.by")), h("select", { id: "se-by", onchange: (e) => {
    const q = Object.fromEntries(ui.params());
    delete q.lang;
    ui.go(ui.url("/gap", { ...q, by: e.target.value }), true);
  } }, BY.map((b) => h("option", { value: b, selected: b === by ? true : null }, t(`se.b.${b}`)))));
  const box = section(t("se.title", { by: t(`se.b.${by}`), name: name || gemeente }), select, body);
  box.id = id;
  load(ui, body, gemeente, by);
  return box;
}

async function load(ui, body, gemeente, by) {
  const { h, t, fmt, fmtSigned, fmtInt, api, state, lineChart, table, emptyState, errorState } = ui;
  let d;
  try { d = await api(`/api/segregation/${encodeURIComponent(gemeente)}?by=${by}&lang=${state.lang}`); } catch (err) {
    body.replaceChildren(err.status === 404 ? emptyState(err.message) : errorState(err, ui.route)); return;
  }
  if (!body.isConnected) return;
  if (!d.available) { body.replaceChildren(emptyState(d.note || t("se.choose"))); return; }
  const S = d.series;
  const level = d.interval_percent;
  const ch = d.change;
  body.replaceChildren(
    d.verdict_text ? h("p", { class: "verdict", id: "segregation-verdict", "data-verdict": d.verdict ?? "" }, h("strong", {}, d.verdict_text)) : null,
    h("p", { class: "help" }, t("se.desc", { pair: d.pair, unit: t(`se.u.${d.unit}`), level })),
    ch ? h("p", { id: "segregation-change", "data-significant": String(ch.significant) }, t("se.change", { from: ch.year_from, to: ch.year_to, d: fmtSigned(ch.change), level,
      lo: fmtSigned(ch.change_lo), hi: fmtSigned(ch.change_hi), p: fmt(ch.p_change) })) : null,
    lineChart({ series: [{ name: "D", color: "#5e3c99", points: S.map((r) => ({ x: r.year, y: r.value })) },
      ...(S.some((r) => r.null_mean !== null && r.null_mean !== undefined) ? [{ name: t("se.random"), color: "#7a7a7a", dashed: true, dots: false, points: S.map((r) => ({ x: r.year, y: r.null_mean })) }] : [])],
    bands: [{ lo: S.map((r) => ({ x: r.year, y: r.lo })), hi: S.map((r) => ({ x: r.year, y: r.hi })), color: "rgba(94,60,153,0.15)" }],
    fmt: (v) => fmt(v, 2), yLabel: "D", title: t("se.title", { by: t(`se.b.${d.dimension}`), name: d.name }),
    desc: S.map((r) => `${r.year}: ${fmt(r.value)} (${fmt(r.lo)} – ${fmt(r.hi)})`).join("; ") }),
    table([{ label: t("year"), value: (r) => String(r.year) }, { label: t("se.d"), value: (r) => fmt(r.value), num: true },
      { label: t("se.interval", { level }), value: (r) => `${fmt(r.lo)} – ${fmt(r.hi)}`, num: true },
      { label: t("se.random"), value: (r) => fmt(r.null_mean), num: true }, { label: t("se.p_random"), value: (r) => fmt(r.p_random), num: true },
      { label: t("se.areas"), value: (r) => fmtInt(r.n_areas), num: true }], S),
    d.explanation ? h("p", { class: "help" }, d.explanation) : null,
    d.notes?.length ? h("ul", { class: "help" }, d.notes.map((n) => h("li", {}, n))) : null);
}
