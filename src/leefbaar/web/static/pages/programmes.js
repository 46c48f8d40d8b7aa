// Evaluation cards of the programmes page: per evaluation the verdict in words (the facts layer's sentence), the
// estimate with its interval and level, the design, the pre-trend tests, why a number is withheld, and the areas.

const INFERENCE = { permutation: "ev.i.permutation", "cluster-robust (gemeente)": "ev.i.cluster", "placebo permutation": "ev.i.placebo",
  "cluster bootstrap": "ev.i.bootstrap" };

function card(ui, c) {
  const { h, t, L, fmt, fmtSigned, fmtInt, url, state, table } = ui;
  const lang = state.lang;
  const inference = (x) => (INFERENCE[x] ? t(INFERENCE[x]) : x);
  const method = (m) => t(`ev.m.${m}`);
  const hd = c.headline;
  const estimate = hd
    ? h("p", { class: "estimate", "data-estimate": hd.estimate, "data-level": hd.level }, t("ev.effect_text", {
      effect: fmtSigned(hd.estimate), level: hd.level, lo: fmtSigned(hd.lo), hi: fmtSigned(hd.hi), inference: inference(hd.inference), p: fmt(hd.p_value) }))
    : h("p", { class: "estimate withheld", "data-estimate": "" }, t("ev.no_number"));
  const design = c.n_treated !== null
    ? t(c.n_treated === 1 ? "ev.design_text_one" : "ev.design_text", { treated: fmtInt(c.n_treated), refs: fmtInt(c.n_references), from: c.year_from, to: c.year_to })
    : `${c.year_from}–${c.year_to}`;
  const pretrend = c.pretrend.map((x) => {
    const text = x.test === "pretrend_holdout" ? t("ev.holdout", { period: x.period, est: fmtSigned(x.estimate), p: fmt(x.p_value) })
      : t("ev.event", { p: fmt(x.p_value) });
    const verdict = x.passed === null ? "" : x.passed ? t("ev.passed") : t("ev.failed", { alpha: fmt(x.alpha, 2) });
    return h("li", { class: x.passed === false ? "fail" : "pass", "data-test": x.test, "data-passed": String(x.passed) }, `${text}: `, h("strong", {}, verdict));
  });
  const warnings = c.warnings[lang] || [];
  const estimates = table([
    { label: t("ev.method"), value: (e) => `${method(e.method)} · ${inference(e.inference)}` },
    { label: t("ev.estimate"), value: (e) => fmtSigned(e.estimate), num: true },
    { label: t("ev.interval"), value: (e) => (e.lo === null ? "–" : `${e.level}%: ${fmtSigned(e.lo)} – ${fmtSigned(e.hi)}`), num: true },
    { label: t("ev.p"), value: (e) => fmt(e.p_value), num: true },
    { label: t("ev.status"), value: (e) => t(`ev.s.${e.status}`) }], c.estimates);
  const id = `ev-${c.programme}-${c.outcome}`.replace(/\W+/g, "-");
  return h("article", { class: `card evaluation ${c.conclusion}`, id, "data-programme": c.programme, "data-conclusion": c.conclusion, "aria-labelledby": `${id}-h` },
    h("h3", { id: `${id}-h` }, L(c, "name") || c.name[lang]),
    h("p", { class: "verdict", "data-conclusion": c.conclusion, "data-reasons": (c.reasons[lang] || []).length }, h("strong", {}, c.verdict[lang])),
    h("h4", {}, t("ev.estimate")), estimate,
    h("h4", {}, t("ev.design")), h("p", {}, design),
    pretrend.length ? [h("h4", {}, t("ev.pretrend")), h("ul", { class: "pretrend" }, pretrend)] : null,
    warnings.length ? [h("h4", {}, t("ev.warnings")), h("ul", {}, warnings.map((w) => h("li", {}, w)))] : null,
    h("details", {}, h("summary", {}, t("ev.others")), estimates),
    h("details", { class: "ev-areas" }, h("summary", {}, `${t("ev.areas")}: ${c.membership[lang]}`),
      h("ul", { class: "area-list" }, c.areas.map((a) => h("li", {}, h("a", { href: url(`/area/${a.level}/${a.code}`), "data-nav": true }, a.label))))));
}

export function evaluationCards(ui, cards) {
  const { h, t, section, emptyState } = ui;
  return section(t("ev.title"), cards.length ? h("div", { class: "evaluations" }, cards.map((c) => card(ui, c))) : emptyState(t("ev.none")));
}
