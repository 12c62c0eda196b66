// New run: an editor that starts from an example (or another run's spec) and shows every
// problem and warning with its JSON pointer as you type, using POST /v1/runs/validate.
import {call, describe, Problem} from "../api.js";
import {el, problemList} from "../dom.js";

const STARTER = {
  name: "zero-vs-one",
  dataset: {name: "mnist-5k", classes: [0, 1], test_fraction: 0.2},
  model: {layers: [
    {type: "dense", units: 25, activation: "sigmoid"},
    {type: "dense", units: 15, activation: "sigmoid"},
    {type: "dense", units: 1, activation: "sigmoid"},
  ]},
  training: {optimizer: {type: "adam", learning_rate: 0.001}, loss: "binary_crossentropy", epochs: 10, batch_size: 32, seed: 42},
};

export async function render(view, params, signal) {
  const picker = el("select", {id: "example", "aria-label": "start from"}, el("option", {value: ""}, "built-in starter"));
  const editor = el("textarea", {id: "spec", spellcheck: "false"});
  const verdict = el("div", {id: "verdict", "aria-live": "polite"});
  const submit = el("button", {type: "button", id: "submit"}, "Train");
  const submitProblem = el("p", {id: "submit-problem", class: "problem"});
  view.append(el("h2", {}, "New run"),
    el("div", {class: "grid"},
      el("div", {}, el("div", {class: "toolbar"}, el("label", {}, "Start from ", picker)), editor,
        el("div", {class: "toolbar"}, submit, el("a", {href: "/docs#/runs/create_run_v1_runs_post"}, "spec reference"))),
      el("div", {}, el("h3", {}, "Checks"), verdict, submitProblem)));

  const examples = new Map();
  try {
    for (const ex of (await call("GET", "/v1/examples", undefined, {signal})).items) {
      examples.set(ex.name, ex.spec);
      picker.append(el("option", {value: ex.name}, ex.name));
    }
  } catch { /* the editor still works from the starter */ }
  let start = STARTER;
  if (params.from) {
    try { start = (await call("GET", `/v1/runs/${encodeURIComponent(params.from)}`, undefined, {signal})).spec; } catch (p) { submitProblem.textContent = describe(p); }
  } else if (params.example && examples.has(params.example)) {
    start = examples.get(params.example); picker.value = params.example;
  }
  editor.value = JSON.stringify(start, null, 2);
  picker.onchange = () => { editor.value = JSON.stringify(picker.value ? examples.get(picker.value) : STARTER, null, 2); check(); };

  let timer = null, seq = 0;
  editor.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(check, 250); });
  signal.addEventListener("abort", () => clearTimeout(timer));

  async function check() {
    const mine = ++seq;
    let body;
    try { body = JSON.stringify(JSON.parse(editor.value)); }
    catch (err) { verdict.replaceChildren(el("div", {class: "problem", "data-pointer": ""}, `not JSON yet: ${err.message}`)); return; }
    try {
      const ok = await call("POST", "/v1/runs/validate", body, {signal});
      if (mine !== seq) return;
      verdict.replaceChildren(el("div", {class: "ok", id: "valid"}, "✓ valid: ready to train"), ...problemList(ok.warnings, "warning"));
    } catch (p) {
      if (mine !== seq || signal.aborted) return;
      verdict.replaceChildren(...(p instanceof Problem && p.errors.length ? [el("div", {class: "problem"}, p.body.detail), ...problemList(p.errors)] : [el("div", {class: "problem"}, describe(p))]));
    }
  }

  submit.onclick = async () => {
    submitProblem.textContent = "";
    try {
      const run = await call("POST", "/v1/runs", editor.value);
      location.hash = `#/runs/${run.id}`;
    } catch (p) { submitProblem.textContent = describe(p); }
  };
  check();
}
