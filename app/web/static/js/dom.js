// Small DOM helpers shared by the pages.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "class") node.className = v;
    else if (k in node && typeof v !== "string") node[k] = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c != null && c !== false) node.append(c instanceof Node ? c : String(c));
  return node;
}

export const fmt = (v, digits = 4) => (v == null ? "–" : typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(digits)) : String(v));

export function statusBadge(status) { return el("span", {class: `status ${status}`, "data-status": status}, status); }

export function problemList(items, cls = "problem") {
  return items.map((e) => el("div", {class: cls, "data-pointer": e.pointer}, `${e.pointer || "(body)"}: ${e.message}` + (e.hint ? ` (${e.hint})` : "")));
}

// Probabilities as horizontal bars; the winner is highlighted.
export function bars(labels, probabilities) {
  const top = probabilities.indexOf(Math.max(...probabilities));
  return el("div", {class: "bars"}, labels.map((label, i) => el("div", {class: "bar" + (i === top ? " top" : ""), "data-label": label},
    el("span", {class: "name"}, label),
    el("div", {class: "fill", style: `width: ${Math.round(probabilities[i] * 240)}px`}),
    el("span", {}, probabilities[i].toFixed(3)))));
}

export const ACTIVE = ["queued", "running", "cancelling"];
