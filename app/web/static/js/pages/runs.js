// Runs: live status, progress and last metrics; filter, cancel, delete, tick to compare.
import {call, describe, followEvents} from "../api.js";
import {ACTIVE, el, fmt, statusBadge} from "../dom.js";

const STATUSES = ["", "queued", "running", "cancelling", "succeeded", "failed", "cancelled"];
const ticked = new Set();  // kept while the tab lives, so ticks survive navigation
const MAX_STREAMS = 6;     // live rows; the rest refresh with the list

export async function render(view, params, signal) {
  const filter = el("select", {id: "status-filter", "aria-label": "status"}, STATUSES.map((s) => el("option", {value: s, selected: s === (params.status || "")}, s || "any status")));
  const compareBtn = el("button", {id: "compare", type: "button"}, "Compare ticked runs");
  const problem = el("p", {id: "runs-problem", class: "problem"});
  const body = el("tbody", {id: "runs"});
  view.append(
    el("h2", {}, "Runs"),
    el("div", {class: "toolbar"}, filter, compareBtn, el("a", {href: "#/new"}, "+ new run")),
    problem,
    el("table", {class: "wide"}, el("thead", {}, el("tr", {}, ["", "name", "status", "epoch", "loss", "accuracy", "val acc", "test acc", "created", ""].map((h) => el("th", {}, h)))), body),
  );
  const streams = new Map();  // run id -> AbortController of its event stream
  const rows = new Map();

  compareBtn.onclick = () => {
    if (ticked.size < 2) { problem.textContent = "Tick at least two runs to compare."; return; }
    location.hash = `#/compare?ids=${[...ticked].map(encodeURIComponent).join(",")}`;
  };
  filter.onchange = () => { location.hash = filter.value ? `#/runs?status=${filter.value}` : "#/runs"; };

  async function act(method, path) {
    problem.textContent = "";
    try { await call(method, path); await refresh(); } catch (p) { problem.textContent = describe(p); }
  }

  function row(run) {
    const tick = el("input", {type: "checkbox", checked: ticked.has(run.id), "aria-label": `tick ${run.name}`,
      onchange: () => (tick.checked ? ticked.add(run.id) : ticked.delete(run.id))});
    const actions = el("td", {});
    if (ACTIVE.includes(run.status) && run.status !== "cancelling") actions.append(el("button", {type: "button", class: "cancel", onclick: () => act("POST", `/v1/runs/${run.id}/cancel`)}, "cancel"));
    if (!ACTIVE.includes(run.status)) actions.append(el("button", {type: "button", class: "delete", onclick: () => confirm(`Delete run ${run.name}?`) && act("DELETE", `/v1/runs/${run.id}`)}, "delete"));
    if (run.status === "succeeded") actions.append(" ", el("a", {href: `#/predict?run=${run.id}`}, "predict"));
    const m = run.metrics || {};
    const tr = el("tr", {"data-run": run.id},
      el("td", {}, tick),
      el("td", {}, el("a", {href: `#/runs/${run.id}`}, run.name)),
      el("td", {class: "st"}, statusBadge(run.status)),
      el("td", {class: "ep"}, `${run.progress.epoch}/${run.progress.epochs}`),
      el("td", {class: "loss"}, fmt(m.loss)),
      el("td", {class: "acc"}, fmt(m.accuracy)),
      el("td", {class: "vacc"}, fmt(m.val_accuracy)),
      el("td", {}, fmt(run.evaluation?.accuracy)),
      el("td", {class: "muted"}, new Date(run.created_at).toLocaleString()),
      actions);
    rows.set(run.id, tr);
    return tr;
  }

  // Epoch events update a row between list refreshes, so progress moves as epochs end.
  function live(run) {
    if (streams.has(run.id) || streams.size >= MAX_STREAMS) return;
    const ctl = new AbortController();
    signal.addEventListener("abort", () => ctl.abort());
    streams.set(run.id, ctl);
    followEvents(`/v1/runs/${run.id}/events`, (type, data) => {
      const tr = rows.get(run.id);
      if (!tr) return;
      if (type === "epoch") {
        tr.querySelector(".ep").textContent = `${data.epoch}/${data.epochs}`;
        tr.querySelector(".loss").textContent = fmt(data.loss);
        tr.querySelector(".acc").textContent = fmt(data.accuracy);
        tr.querySelector(".vacc").textContent = fmt(data.val_accuracy);
      } else if (type === "status") {
        tr.querySelector(".st").replaceChildren(statusBadge(data.status));
      } else if (type === "done") {
        refresh();
      }
    }, ctl.signal).catch(() => {}).finally(() => streams.delete(run.id));
  }

  async function refresh() {
    if (signal.aborted) return;
    try {
      const q = params.status ? `&status=${encodeURIComponent(params.status)}` : "";
      const list = await call("GET", `/v1/runs?limit=50${q}`, undefined, {signal});
      rows.clear();
      body.replaceChildren(...list.items.map(row));
      if (!list.items.length) body.append(el("tr", {}, el("td", {colspan: 10, class: "muted"}, "No runs yet: start one under New run.")));
      for (const r of list.items) if (ACTIVE.includes(r.status)) live(r);
      problem.textContent = "";
    } catch (p) { if (!signal.aborted) problem.textContent = describe(p); }
  }

  await refresh();
  const timer = setInterval(refresh, 3000);
  signal.addEventListener("abort", () => clearInterval(timer));
}
