// The dashboard: a hash router over pages; each page gets the view element, its parameters
// and an AbortSignal that fires when the user leaves it (streams and timers stop with it).
import {askForKey} from "./api.js";
import * as runs from "./pages/runs.js";
import * as run from "./pages/run.js";
import * as newRun from "./pages/new.js";
import * as predict from "./pages/predict.js";
import * as compare from "./pages/compare.js";
import * as datasets from "./pages/datasets.js";
import * as sweeps from "./pages/sweeps.js";

const PAGES = {runs, run, new: newRun, predict, compare, datasets, sweeps};
let current = null;

function route() {
  const [path, query] = (location.hash.slice(1) || "/runs").split("?");
  const parts = path.split("/").filter(Boolean);
  const params = Object.fromEntries(new URLSearchParams(query || ""));
  if (parts[0] === "runs" && parts[1]) return ["run", {...params, id: decodeURIComponent(parts[1])}];
  if (parts[0] === "sweeps" && parts[1]) return ["sweeps", {...params, id: decodeURIComponent(parts[1])}];
  return [PAGES[parts[0]] ? parts[0] : "runs", params];
}

async function show() {
  if (current) current.abort();
  current = new AbortController();
  const [name, params] = route();
  for (const a of document.querySelectorAll("nav a[data-page]")) a.classList.toggle("current", a.dataset.page === (name === "run" ? "runs" : name));
  const view = document.getElementById("view");
  view.replaceChildren();
  view.dataset.page = name;
  await PAGES[name].render(view, params, current.signal);
}

window.addEventListener("hashchange", show);
document.getElementById("key-button").addEventListener("click", () => askForKey().then(show));
show();
