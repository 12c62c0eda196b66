// Datasets: the built-ins and uploads with their shape, classes and counts, a preview grid
// per class, upload (npz, CSV, zip of class folders, IDX pair) and delete.
import {call, describe, send} from "../api.js";
import {el} from "../dom.js";

const FORMATS = ["", "npz", "csv", "zip", "idx"];

export async function render(view, params, signal) {
  const problem = el("p", {id: "datasets-problem", class: "problem"});
  const body = el("tbody", {id: "datasets"});
  const preview = el("div", {id: "preview"});
  const form = uploadForm(async (data, newVersion) => {
    problem.textContent = "";
    try {
      const ds = await call("POST", "/v1/datasets" + (newVersion ? "?version=new" : ""), data);
      await refresh();
      show(ds.name);
    } catch (p) { problem.textContent = describe(p); }
  });
  view.append(el("h2", {}, "Datasets"), problem,
    el("div", {class: "grid"},
      el("div", {}, el("table", {class: "wide"}, el("thead", {}, el("tr", {}, ["name", "version", "shape", "classes", "examples", "source", ""].map((h) => el("th", {}, h)))), body),
        el("h3", {}, "Upload"), form),
      el("div", {}, el("h3", {}, "Preview"), preview)));

  let url = null;
  signal.addEventListener("abort", () => url && URL.revokeObjectURL(url));
  async function show(name) {
    preview.replaceChildren(el("span", {class: "muted"}, "loading…"));
    const resp = await send("GET", `/v1/datasets/${encodeURIComponent(name)}/preview.png`, undefined, {signal});
    if (!resp.ok) { preview.replaceChildren(el("span", {class: "problem"}, `HTTP ${resp.status}`)); return; }
    if (url) URL.revokeObjectURL(url);
    url = URL.createObjectURL(await resp.blob());
    preview.replaceChildren(el("div", {class: "muted"}, name), el("img", {id: "preview-image", src: url, alt: `examples of ${name}`, style: "max-width: 100%; image-rendering: pixelated"}));
  }

  async function refresh() {
    try {
      const list = await call("GET", "/v1/datasets", undefined, {signal});
      body.replaceChildren(...list.items.map((d) => el("tr", {"data-dataset": d.name},
        el("td", {}, el("a", {href: "#", onclick: (ev) => { ev.preventDefault(); show(d.name); }}, d.name)),
        el("td", {}, d.version ?? ""),
        el("td", {}, (d.shape || []).join("×")),
        el("td", {}, (d.classes || []).join(" ")),
        el("td", {}, d.num_examples),
        el("td", {class: "muted"}, d.source),
        el("td", {}, d.source === "upload" ? el("button", {type: "button", class: "delete", onclick: async () => {
          if (!confirm(`Delete dataset ${d.name}?`)) return;
          try { await call("DELETE", `/v1/datasets/${encodeURIComponent(d.name)}`); await refresh(); } catch (p) { problem.textContent = describe(p); }
        }}, "delete") : ""))));
    } catch (p) { problem.textContent = describe(p); }
  }
  await refresh();
  if (params.name) show(params.name);
}

function uploadForm(onSubmit) {
  const name = el("input", {id: "dataset-name", required: true, maxlength: 100, placeholder: "my-digits"});
  const file = el("input", {type: "file", id: "dataset-file", accept: ".npz,.csv,.zip,.gz,.idx,application/zip,text/csv"});
  const format = el("select", {id: "dataset-format"}, FORMATS.map((f) => el("option", {value: f}, f || "detect")));
  const newVersion = el("input", {type: "checkbox", id: "dataset-new-version"});
  const submit = el("button", {type: "submit", id: "dataset-upload"}, "Upload");
  return el("form", {class: "upload", onsubmit: (ev) => {
    ev.preventDefault();
    if (!file.files[0]) return;
    const data = new FormData();
    data.append("name", name.value.trim());
    data.append("file", file.files[0], file.files[0].name);
    if (format.value) data.append("format", format.value);
    onSubmit(data, newVersion.checked);
  }},
  el("div", {class: "toolbar"}, el("label", {}, "Name ", name), el("label", {}, "Format ", format)),
  el("div", {class: "toolbar"}, file, el("label", {}, newVersion, " add a version if the name exists"), submit),
  el("p", {class: "muted"}, "An .npz with x and y, a CSV with a label column, or a zip of class folders (0/…png). An IDX pair can be uploaded with the CLI: trainserve datasets upload."));
}
