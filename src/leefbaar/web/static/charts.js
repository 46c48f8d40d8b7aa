// Small accessible SVG charts (no library): each chart is an <svg role="img"> with a <title> and <desc>;
// the pages put the same numbers in a table next to it.
const NS = "http://www.w3.org/2000/svg";
let uid = 0;

// Charts are drawn at about the width they will have on screen, so that their text keeps its size (>= 11 px) on a
// phone instead of being scaled down with the picture: the width of the viewport less the page's margins, at most
// `max` (the desktop layout's column width).
export function chartWidth(max = 640) {
  const vw = typeof window !== "undefined" ? window.innerWidth || max : max;
  return Math.round(Math.max(280, Math.min(max, vw - 72)));
}

export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, v);
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

const clip = (text, n) => (text.length > n ? `${text.slice(0, Math.max(1, n - 1))}…` : text);

function frame(width, height, title, desc) {
  const id = `chart${++uid}`;
  return s("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-labelledby": `${id}t ${id}d`, class: "chart", width: "100%" },
    s("title", { id: `${id}t` }, title), s("desc", { id: `${id}d` }, desc));
}

function ticks(lo, hi, n = 5) {
  const span = hi - lo || 1;
  const step0 = span / n;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((v) => v >= step0);
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-12; v += step) out.push(+v.toFixed(10));
  return out;
}

function extent(values, pad = 0.08) {
  const v = values.filter((x) => x !== null && x !== undefined && Number.isFinite(x));
  if (!v.length) return [0, 1];
  let lo = Math.min(...v), hi = Math.max(...v);
  if (lo === hi) { lo -= 0.05; hi += 0.05; }
  const p = (hi - lo) * pad;
  return [lo - p, hi + p];
}

// Horizontal grouped bars around zero: groups = [{label, values: [number|null per series]}], series = [{name, color}]
export function groupedBars({ groups, series, title, desc, fmt, width = chartWidth() }) {
  const rowH = 15 * series.length + 14, left = Math.round(Math.min(190, width * 0.36)), right = Math.min(70, Math.round(width * 0.14)), top = 8;
  const height = top + groups.length * rowH + 34;
  const all = groups.flatMap((g) => g.values).concat([0]);
  const [lo, hi] = extent(all, 0.1);
  const x = (v) => left + ((v - lo) / (hi - lo)) * (width - left - right);
  const svg = frame(width, height, title, desc);
  for (const t of ticks(lo, hi)) {
    svg.append(s("line", { x1: x(t), x2: x(t), y1: top, y2: height - 26, class: t === 0 ? "axis-zero" : "grid" }));
    svg.append(s("text", { x: x(t), y: height - 10, "text-anchor": "middle", class: "tick" }, fmt(t)));
  }
  groups.forEach((g, i) => {
    const y0 = top + i * rowH;
    svg.append(s("text", { x: left - 8, y: y0 + rowH / 2 + 2, "text-anchor": "end", class: "label" }, clip(g.label, Math.floor((left - 10) / 6.5)), s("title", {}, g.label)));
    g.values.forEach((v, j) => {
      if (v === null || v === undefined) return;
      const y = y0 + 6 + j * 15, x0 = x(Math.min(0, v)), w = Math.max(1, Math.abs(x(v) - x(0)));
      svg.append(s("rect", { x: x0, y, width: w, height: 11, fill: series[j].color, class: "bar" },
        s("title", {}, `${series[j].name}: ${fmt(v)}`)));
      svg.append(s("text", { x: v >= 0 ? x(v) + 4 : x(v) - 4, y: y + 9, "text-anchor": v >= 0 ? "start" : "end", class: "value" }, fmt(v)));
    });
  });
  return svg;
}

// Lines over years: series = [{name, color, points: [{x, y, hollow}], dashed}], bands = [{lo:[{x,y}], hi:[{x,y}], color}],
// markers = [{x, label}] (vertical lines, e.g. programme start years)
export function lineChart({ series, bands = [], markers = [], title, desc, fmt, yLabel, height = 260, width = chartWidth() }) {
  const left = 56, right = 16, top = 14, bottom = 30;
  const xs = series.flatMap((se) => se.points.map((p) => p.x)).concat(bands.flatMap((b) => b.lo.map((p) => p.x)));
  const ys = series.flatMap((se) => se.points.map((p) => p.y)).concat(bands.flatMap((b) => [...b.lo, ...b.hi].map((p) => p.y)));
  const inRange = markers.filter((m) => xs.length && m.x >= Math.min(...xs) - 1 && m.x <= Math.max(...xs) + 1);
  const [x0, x1] = xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1];
  const [lo, hi] = extent(ys);
  const X = (v) => left + ((v - x0) / (x1 - x0 || 1)) * (width - left - right);
  const Y = (v) => top + (1 - (v - lo) / (hi - lo)) * (height - top - bottom);
  const svg = frame(width, height, title, desc);
  for (const t of ticks(lo, hi, 4)) {
    svg.append(s("line", { x1: left, x2: width - right, y1: Y(t), y2: Y(t), class: "grid" }));
    svg.append(s("text", { x: left - 6, y: Y(t) + 4, "text-anchor": "end", class: "tick" }, fmt(t)));
  }
  const years = [...new Set(xs)].sort((a, b) => a - b);
  const step = Math.ceil(years.length / Math.max(3, Math.floor((width - left - right) / 44)));
  let lastX = -Infinity; // year labels at least 34 px apart (the last year always shown)
  years.forEach((yr, i) => {
    const last = i === years.length - 1;
    if ((i % step === 0 || last) && (X(yr) - lastX >= 34 || last)) {
      if (last && X(yr) - lastX < 34) svg.lastChild?.classList?.contains("year") && svg.lastChild.remove();
      svg.append(s("text", { x: X(yr), y: height - 10, "text-anchor": "middle", class: "tick year" }, yr));
      lastX = X(yr);
    }
  });
  if (yLabel) svg.append(s("text", { x: 12, y: top + 4, class: "tick" }, yLabel));
  for (const b of bands) {
    const pts = [...b.lo.map((p) => `${X(p.x)},${Y(p.y)}`), ...[...b.hi].reverse().map((p) => `${X(p.x)},${Y(p.y)}`)];
    if (pts.length) svg.append(s("polygon", { points: pts.join(" "), fill: b.color, class: "band" }));
  }
  for (const m of inRange) {
    svg.append(s("line", { x1: X(m.x), x2: X(m.x), y1: top, y2: height - bottom, class: "marker" }, s("title", {}, `${m.x}: ${m.label}`)));
    svg.append(s("text", { x: X(m.x) + 3, y: top + 9, class: "marker-label" }, m.short || m.label));
  }
  for (const se of series) {
    const pts = se.points.filter((p) => p.y !== null && p.y !== undefined);
    if (pts.length > 1) svg.append(s("polyline", { points: pts.map((p) => `${X(p.x)},${Y(p.y)}`).join(" "), stroke: se.color, class: se.dashed ? "line dashed" : "line" }));
    if (se.dots === false) continue;
    for (const p of pts) {
      svg.append(s("circle", { cx: X(p.x), cy: Y(p.y), r: 4.5, stroke: se.color, fill: p.hollow ? "#fff" : se.color, class: "dot" },
        s("title", {}, `${se.name} ${p.x}: ${fmt(p.y)}${p.note ? ` (${p.note})` : ""}`)));
    }
  }
  return svg;
}

// Stacked bars of counts per category (e.g. nine classes) per year; rows = [{x, counts: [...]}]
export function stackedBars({ rows, colors, names, title, desc, width = chartWidth() }) {
  const left = 44, right = 12, top = 10, bottom = 30, height = 240;
  const svg = frame(width, height, title, desc);
  const bw = Math.min(44, (width - left - right) / Math.max(rows.length, 1) - 8);
  rows.forEach((r, i) => {
    const total = r.counts.reduce((a, b) => a + b, 0) || 1;
    const cx = left + (i + 0.5) * ((width - left - right) / rows.length);
    let y = top;
    r.counts.slice().reverse().forEach((c, jr) => {
      const j = r.counts.length - 1 - jr;
      const h = (c / total) * (height - top - bottom);
      if (h > 0) svg.append(s("rect", { x: cx - bw / 2, y, width: bw, height: h, fill: colors[j], class: "bar" },
        s("title", {}, `${r.x} – ${names[j]}: ${c} (${Math.round((100 * c) / total)}%)`)));
      y += h;
    });
    if (i % Math.ceil(rows.length / Math.max(3, Math.floor((width - left - right) / 40))) === 0 || i === rows.length - 1) {
      svg.append(s("text", { x: cx, y: height - 10, "text-anchor": "middle", class: "tick" }, r.x));
    }
  });
  for (const t of [0, 50, 100]) {
    const y = top + (1 - t / 100) * (height - top - bottom);
    svg.append(s("text", { x: left - 8, y: y + 4, "text-anchor": "end", class: "tick" }, `${t}%`));
  }
  return svg;
}

// Timeline: items = [{id, label, start, end (null = running), kind, depth}] from minYear to maxYear
export function timeline({ items, minYear, maxYear, title, desc, colors, onSelect, runningLabel }) {
  const width = 980, left = 380, right = 20, rowH = 22, top = 24;
  const height = top + items.length * rowH + 10;
  const X = (v) => left + ((v - minYear) / (maxYear - minYear)) * (width - left - right);
  const svg = frame(width, height, title, desc);
  for (let y = Math.ceil(minYear / 10) * 10; y <= maxYear; y += 10) {
    svg.append(s("line", { x1: X(y), x2: X(y), y1: top - 6, y2: height, class: "grid" }));
    svg.append(s("text", { x: X(y), y: top - 10, "text-anchor": "middle", class: "tick" }, y));
  }
  items.forEach((it, i) => {
    const y = top + i * rowH;
    const end = it.end ?? maxYear;
    const g = s("g", { class: "tl-row", tabindex: "0", role: "button", "aria-label": `${it.label}, ${it.start}–${it.end ?? runningLabel}` });
    g.append(s("text", { x: left - 8 - (it.depth ? 0 : 0), y: y + 14, "text-anchor": "end", class: it.depth ? "label sub" : "label" }, (it.depth ? "↳ " : "") + clip(it.label, 52)));
    g.append(s("rect", { x: X(it.start), y: y + 4, width: Math.max(4, X(end + 1) - X(it.start)), height: 14, rx: 3, fill: colors[it.kind] || "#888", class: it.end === null ? "bar running" : "bar" },
      s("title", {}, `${it.label}: ${it.start}–${it.end ?? runningLabel}`)));
    if (onSelect) {
      g.addEventListener("click", () => onSelect(it.id));
      g.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); onSelect(it.id); } });
    }
    svg.append(g);
  });
  return svg;
}
