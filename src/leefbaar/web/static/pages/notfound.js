// "Not found" in the page's language, with a search box and a way back; and the search box on its own (the area page
// without an area). Every address of the dashboard renders a page, never raw JSON.

// A search box in the page: areas matching code, name or postcode, as links to their profiles.
export function searchBox(ui) {
  const { h, t, api, url, go, levelLabel } = ui;
  const list = h("ul", { class: "page-search-results", id: "page-search-results", "aria-live": "polite" });
  let timer = null, items = [];
  const open = (a) => go(url(`/area/${a.level}/${a.code}`));
  const input = h("input", { id: "page-search", type: "search", autocomplete: "off", maxlength: "60", placeholder: t("search.placeholder"),
    "aria-describedby": "page-search-hint", "aria-controls": "page-search-results" });
  input.addEventListener("input", () => {
    clearTimeout(timer);
    const q = input.value.trim();
    if (!q) { list.replaceChildren(); return; }
    timer = setTimeout(async () => {
      try { items = await api(`/api/search?q=${encodeURIComponent(q)}`); } catch { items = []; }
      list.replaceChildren(...(items.length ? items.map((a) => h("li", {}, h("a", { href: url(`/area/${a.level}/${a.code}`),
        onclick: (e) => { e.preventDefault(); open(a); } }, a.label), ` · ${levelLabel(a.level)}`))
        : [h("li", { class: "none" }, t("search.none"))]));
    }, 150);
  });
  return h("form", { class: "page-search card", role: "search", onsubmit: (e) => { e.preventDefault(); if (items.length) open(items[0]); } },
    h("label", { for: "page-search" }, t("p.search_here")), input,
    h("span", { id: "page-search-hint", class: "help" }, t("search.hint")), list);
}

// The not-found page: what was not found (a sentence of i18n.js), search, back and to the map.
export function notFound(ui, message) {
  const { h, t, url, go, main } = ui;
  const back = (e) => { e.preventDefault(); if (history.length > 1) history.back(); else go(url("/map")); };
  main.replaceChildren(h("h1", {}, t("nf.title")), h("p", { class: "empty notfound", id: "notfound", role: "alert" }, message),
    searchBox(ui),
    h("p", { class: "actions" }, h("a", { href: url("/map"), onclick: back, id: "nf-back" }, t("nf.back")), " · ",
      h("a", { href: url("/map"), "data-nav": true, id: "nf-map" }, t("nf.map"))));
  document.title = `${t("nf.title")} – leefbaar`;
  ui.announce(message);
}
