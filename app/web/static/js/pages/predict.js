// Predict: draw a digit or drop an image; the answer, its probabilities as bars, and the
// image the model actually saw after preprocessing (?include=input).
import {call, describe} from "../api.js";
import {bars, el} from "../dom.js";

export async function render(view, params, signal) {
  const target = el("select", {id: "target", "aria-label": "model"});
  const pad = el("canvas", {id: "pad", class: "pad", width: 280, height: 280});
  const predictBtn = el("button", {type: "button", id: "predict"}, "Predict");
  const clearBtn = el("button", {type: "button", id: "clear"}, "Clear");
  const file = el("input", {type: "file", id: "file", accept: "image/png,image/jpeg"});
  const drop = el("div", {id: "drop", class: "drop"}, "Drop a PNG or JPEG here, or ", file);
  const answer = el("div", {id: "answer"});
  const problem = el("p", {id: "predict-problem", class: "problem"});
  view.append(el("h2", {}, "Predict"),
    el("div", {class: "toolbar"}, el("label", {}, "Model ", target)),
    el("div", {class: "grid"},
      el("div", {}, el("p", {class: "muted"}, "Draw a digit with the mouse or a finger: dark ink on white, as on paper."), pad,
        el("div", {class: "toolbar"}, clearBtn, predictBtn), drop),
      el("div", {}, answer, problem)));

  const specs = new Map();  // option value -> the run spec (for the labels of a binary answer)
  try {
    const [runs, models] = await Promise.all([
      call("GET", "/v1/runs?status=succeeded&limit=200", undefined, {signal}),
      call("GET", "/v1/models", undefined, {signal}).catch(() => ({items: []})),
    ]);
    for (const m of models.items || []) target.append(el("option", {value: `model:${m.name}`}, `model ${m.name}`));
    for (const r of runs.items) { target.append(el("option", {value: `run:${r.id}`}, `${r.name} (${r.id})`)); specs.set(`run:${r.id}`, r.spec); }
    for (const m of models.items || []) { const r = runs.items.find((x) => x.id === m.run_id); if (r) specs.set(`model:${m.name}`, r.spec); }
  } catch (p) { problem.textContent = describe(p); }
  if (params.run) target.value = `run:${params.run}`;
  if (params.model) target.value = `model:${params.model}`;
  if (!target.options.length) problem.textContent = "No succeeded run yet: train one first.";

  const ctx = pad.getContext("2d");
  const clear = () => { ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, pad.width, pad.height); answer.replaceChildren(); problem.textContent = ""; };
  clear();
  let drawing = false;
  const at = (ev) => { const r = pad.getBoundingClientRect(); return [(ev.clientX - r.left) * pad.width / r.width, (ev.clientY - r.top) * pad.height / r.height]; };
  pad.addEventListener("pointerdown", (ev) => {
    drawing = true; pad.setPointerCapture(ev.pointerId);
    ctx.lineWidth = 18; ctx.lineCap = "round"; ctx.lineJoin = "round"; ctx.strokeStyle = "#000";
    ctx.beginPath(); ctx.moveTo(...at(ev));
  });
  pad.addEventListener("pointermove", (ev) => { if (drawing) { ctx.lineTo(...at(ev)); ctx.stroke(); } });
  pad.addEventListener("pointerup", () => { drawing = false; });
  clearBtn.onclick = clear;

  async function predict(blob, name) {
    problem.textContent = "";
    if (!target.value) { problem.textContent = "Pick a model first."; return; }
    const [kind, id] = [target.value.slice(0, target.value.indexOf(":")), target.value.slice(target.value.indexOf(":") + 1)];
    const path = kind === "run" ? `/v1/runs/${encodeURIComponent(id)}/predict` : `/v1/models/${encodeURIComponent(id)}/predict`;
    const form = new FormData();
    form.append("file", blob, name);
    try {
      const res = await call("POST", `${path}?include=input`, form);
      answer.replaceChildren(...show(res.predictions[0], specs.get(target.value)).filter(Boolean));
    } catch (p) { answer.replaceChildren(); problem.textContent = describe(p); }
  }
  predictBtn.onclick = () => pad.toBlob((png) => predict(png, "digit.png"), "image/png");
  file.onchange = () => file.files[0] && predict(file.files[0], file.files[0].name);
  drop.addEventListener("dragover", (ev) => { ev.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (ev) => {
    ev.preventDefault(); drop.classList.remove("over");
    const f = ev.dataTransfer.files[0];
    if (f) predict(f, f.name);
  });
}

// One entry of the answer, whatever the model's task (see "Prediction" in the API docs).
function show(p, spec) {
  const big = el("div", {class: "answer", id: "label"});
  const saw = p.input ? el("figure", {}, el("img", {class: "pixels", id: "model-input", src: p.input, alt: "what the model saw"}), el("figcaption", {class: "muted"}, "what the model saw")) : null;
  if ("value" in p) { big.textContent = p.value.toFixed(2); return [big, saw]; }
  if ("labels" in p) {
    big.textContent = p.labels.join(", ") || "none of the labels";
    return [big, bars(p.label_names || p.probabilities.map((_, i) => i), p.probabilities), saw];
  }
  big.textContent = p.label;
  const classes = spec?.dataset?.classes;
  // One sigmoid unit: its probability is that of the dataset's second class.
  if ("probability" in p) return [big, bars(classes || [0, 1], [1 - p.probability, p.probability]), saw];
  return [big, bars(classes || p.probabilities.map((_, i) => i), p.probabilities), saw];
}
