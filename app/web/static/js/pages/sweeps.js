// Sweeps: each with its status and best trial; one sweep's trials (params, status,
// objective), the best marked, a link to compare the best trials; start one from JSON.
import {call, describe} from "../api.js";
import {ACTIVE, el, fmt, statusBadge} from "../dom.js";

export async function render(view, params, signal) {
  if (params.id) return detail(view, params.id, signal);
  const problem = el("p", {id: "sweeps-problem", class: "problem"});
  const body = el("tbody", {id: "sweeps"});
  const editor = el("textarea", {id: "sweep-spec", spellcheck: "false", style: "height: 14rem"});
  const submit = el("button", {type: "button", id: "sweep-submit"}, "Start sweep");
  view.append(el("h2", {}, "Sweeps"), problem,
    el("table", {class: "wide"}, el("thead", {}, el("tr", {}, ["name", "status", "trials", "best objective", ""].map((h) => el("th", {}, h)))), body),
    el("h3", {}, "New sweep"), el("p", {class: "muted"}, "A sweep body as JSON: name, base (a run spec), space (JSON pointer → values, low/high or choices), method, max_runs, parallel, objective."),
    editor, el("div", {class: "toolbar"}, submit));
  submit.onclick = async () => {
    problem.textContent = "";
    try { const s = await call("POST", "/v1/sweeps", editor.value); location.hash = `#/sweeps/${s.id}`; }
    catch (p) { problem.textContent = describe(p); }
  };
  async function refresh() {
    try {
      const list = await call("GET", "/v1/sweeps", undefined, {signal});
      body.replaceChildren(...list.items.map((s) => el("tr", {"data-sweep": s.id},
        el("td", {}, el("a", {href: `#/sweeps/${s.id}`}, s.name)),
        el("td", {}, statusBadge(s.status)),
        el("td", {}, Object.entries(s.counts || {}).map(([k, n]) => `${n} ${k}`).join(", ")),
        el("td", {}, s.best ? fmt(s.best.objective) : "–"),
        el("td", {}))));
      if (!list.items.length) body.append(el("tr", {}, el("td", {colspan: 5, class: "muted"}, "No sweeps yet.")));
    } catch (p) { if (!signal.aborted) problem.textContent = describe(p); }
  }
  await refresh();
  const timer = setInterval(refresh, 3000);
  signal.addEventListener("abort", () => clearInterval(timer));
}

async function detail(view, id, signal) {
  const problem = el("p", {id: "sweep-problem", class: "problem"});
  const box = el("div", {id: "sweep"});
  view.append(box, problem);
  async function refresh() {
    let s;
    try { s = await call("GET", `/v1/sweeps/${encodeURIComponent(id)}`, undefined, {signal}); }
    catch (p) { if (!signal.aborted) problem.textContent = describe(p); return; }
    const objective = s.spec.objective || {};
    const pointers = Object.keys(s.spec.space || {});
    const ranked = s.trials.filter((t) => t.objective != null)
      .sort((a, b) => (objective.direction === "min" ? a.objective - b.objective : b.objective - a.objective));
    const top = ranked.slice(0, 10).map((t) => t.run_id);
    const actions = [];
    if (ACTIVE.includes(s.status)) actions.push(el("button", {type: "button", id: "sweep-cancel", onclick: () => act("POST", `/v1/sweeps/${s.id}/cancel`)}, "Cancel"));
    else actions.push(el("button", {type: "button", id: "sweep-delete", onclick: () => confirm(`Delete sweep ${s.name}?`) && act("DELETE", `/v1/sweeps/${s.id}`, "#/sweeps")}, "Delete"));
    if (top.length >= 2) actions.push(el("a", {href: `#/compare?ids=${top.join(",")}`}, `Compare the best ${top.length}`));
    box.replaceChildren(
      el("h2", {}, s.name, " ", statusBadge(s.status)),
      el("div", {class: "muted"}, `${s.id} · objective: ${objective.direction || "max"} ${objective.metric || ""}`),
      s.failure_reason ? el("p", {class: "problem"}, s.failure_reason) : "",
      el("div", {class: "toolbar"}, actions),
      el("table", {class: "wide", id: "trials"},
        el("tr", {}, ["#", "run", ...pointers, "status", "objective"].map((h) => el("th", {}, h))),
        s.trials.map((t) => el("tr", {"data-run": t.run_id, class: s.best && s.best.run_id === t.run_id ? "selected" : ""},
          el("td", {}, t.number), el("td", {}, el("a", {href: `#/runs/${t.run_id}`}, t.run_id.slice(-8))),
          ...pointers.map((p) => el("td", {}, JSON.stringify(t.params[p]))),
          el("td", {}, statusBadge(t.status), t.pruned ? " pruned" : ""),
          el("td", {}, fmt(t.objective))))));
    return s;
  }
  async function act(method, path, after) {
    problem.textContent = "";
    try { await call(method, path); if (after) location.hash = after; else await refresh(); } catch (p) { problem.textContent = describe(p); }
  }
  await refresh();
  const timer = setInterval(refresh, 3000);
  signal.addEventListener("abort", () => clearInterval(timer));
}
