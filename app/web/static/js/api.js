// Talking to the API like any other client: the X-API-Key header, problem+json errors,
// and server-sent events read with fetch (EventSource cannot send the key header).

const KEY = "trainserve-api-key";

export function apiKey() { return sessionStorage.getItem(KEY) || ""; }
export function setApiKey(value) { value ? sessionStorage.setItem(KEY, value) : sessionStorage.removeItem(KEY); }

// Ask once per tab, when the service first answers 401; concurrent callers share one dialog.
let asking = null;
export function askForKey(message = "") {
  if (asking) return asking;
  const dialog = document.getElementById("key-dialog");
  const input = document.getElementById("key-input");
  document.getElementById("key-problem").textContent = message;
  input.value = apiKey();
  asking = new Promise((resolve) => {
    dialog.addEventListener("close", () => { asking = null; setApiKey(input.value.trim()); resolve(); }, {once: true});
  });
  dialog.showModal();
  return asking;
}

function headers(extra = {}) {
  const key = apiKey();
  return key ? {"X-API-Key": key, ...extra} : {...extra};
}

export class Problem extends Error {
  constructor(body, status) {
    super(body && body.detail ? body.detail : `HTTP ${status}`);
    this.body = body || {};
    this.status = status;
  }
  get errors() { return this.body.errors || []; }
}

// fetch + the key; a 401 asks for the key and tries again (at most twice).
export async function send(method, path, body, options = {}) {
  for (let attempt = 0; ; attempt++) {
    const h = headers(options.headers);
    if (typeof body === "string") h["Content-Type"] = "application/json";
    const resp = await fetch(path, {method, headers: h, body, signal: options.signal});
    if (resp.status === 401 && attempt < 2) {
      await askForKey(attempt ? "That key was refused." : "");
      continue;
    }
    return resp;
  }
}

export async function call(method, path, body, options) {
  const resp = await send(method, path, body, options);
  const data = resp.status === 204 ? null : await resp.json().catch(() => null);
  if (!resp.ok) throw new Problem(data, resp.status);
  return data;
}

// The problem's detail, then each pointer with its message and hint, as the CLI prints it.
export function describe(problem) {
  if (!(problem instanceof Problem)) return String(problem && problem.message || problem);
  const lines = [problem.body.detail || problem.message];
  for (const e of problem.errors) lines.push(`${e.pointer || "(body)"}: ${e.message}` + (e.hint ? ` (${e.hint})` : ""));
  return lines.join("\n");
}

// Follow a run's event stream; reconnects after a dropped connection with Last-Event-ID so
// nothing is missed or repeated. Resolves when the run is done or `signal` aborts.
export async function followEvents(path, onEvent, signal) {
  let lastId = null;
  while (!signal.aborted) {
    try {
      const extra = lastId ? {"Last-Event-ID": lastId, Accept: "text/event-stream"} : {Accept: "text/event-stream"};
      const resp = await send("GET", path, undefined, {headers: extra, signal});
      if (!resp.ok) throw new Problem(await resp.json().catch(() => null), resp.status);
      let ended = false;
      for await (const ev of parseStream(resp.body)) {
        if (ev.id) lastId = ev.id;
        if (ev.event) onEvent(ev.event, JSON.parse(ev.data || "null"), ev.id);
        if (ev.event === "done") ended = true;
      }
      if (ended || !lastId) return;  // a stream that closes cleanly after "done" is over
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof Problem && err.status < 500) throw err;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function* parseStream(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let fields = {};
  for (;;) {
    const {value, done} = await reader.read();
    if (done) return;
    buffer += value;
    let nl;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl).replace(/\r$/, "");
      buffer = buffer.slice(nl + 1);
      if (line === "") { if (Object.keys(fields).length) yield fields; fields = {}; continue; }
      if (line.startsWith(":")) continue;  // keep-alive comment
      const i = line.indexOf(":");
      const key = i < 0 ? line : line.slice(0, i);
      const val = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
      fields[key] = key === "data" && fields.data ? fields.data + "\n" + val : val;
    }
  }
}
