#!/usr/bin/env bash
# End-to-end check of the Docker images (`make docker-smoke`):
#   build both targets (the full `worker` image and the light `api` one, which must not hold
#   TensorFlow); run the full one (default command: migrate + serve with one worker) detached with --init on a
#   free port; wait for /readyz; train models/zero-vs-one.json for 5 epochs; predict a drawn "1";
#   `docker restart` and check the run and its model survived in the data volume; then run the
#   compose layout (the light API image + a `trainserve worker` container of the full image on
#   the same volume), train through it, predict from the ONNX export and download it. Exits non-zero on any failure; removes what it created on exit.
#
# Needs docker, curl and python3 on the host. With no Docker engine answering, it starts one with
# docker-local.sh (see ../shared/tools/README.md; needs root) and leaves it running.
#
# Environment:
#   TRAINSERVE_DOCKER_TOOLS        folder holding docker-local.sh (default: <repo>/../shared/tools)
#   TRAINSERVE_SMOKE_IMAGE         full image tag to build and test (default: trainserve:smoke)
#   TRAINSERVE_SMOKE_API_IMAGE     light API image tag (default: trainserve-api:smoke)
#   TRAINSERVE_SMOKE_RMI=1         also remove the image at the end
#   TRAINSERVE_SMOKE_NO_BUILD=1    test an existing image instead of building it
#   TRAINSERVE_SMOKE_PREDICT_STRICT=1   a missing predict route is a failure (see PREDICT below)
#   TRAINSERVE_SMOKE_TIMEOUT       seconds to wait for readiness or a run (default: 300)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS=${TRAINSERVE_DOCKER_TOOLS:-$ROOT/../shared/tools}
IMAGE=${TRAINSERVE_SMOKE_IMAGE:-trainserve:smoke}
API_IMAGE=${TRAINSERVE_SMOKE_API_IMAGE:-trainserve-api:smoke}
API_IMAGE_MAX_MB=450
TIMEOUT=${TRAINSERVE_SMOKE_TIMEOUT:-300}
EPOCHS=5
ID=$$-$RANDOM
NAME=trainserve-smoke-$ID               # the single-container service
API_NAME=trainserve-smoke-api-$ID       # compose layout: API without workers ...
WORKER_NAME=trainserve-smoke-worker-$ID # ... and a separate worker container
VOLUME=trainserve-smoke-$ID
API_KEY=smoke-$RANDOM$RANDOM
WORK=$(mktemp -d)
START=$SECONDS
CONTAINERS=()

say() { printf '\n== %s\n' "$*"; }
info() { printf '   %s\n' "$*"; }
die() { printf '\nFAIL: %s\n' "$*" >&2; exit 1; }
elapsed() { echo "$((SECONDS - START)) s"; }

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  if ((rc != 0)); then
    local c
    for c in "${CONTAINERS[@]}"; do
      printf '\n--- last log lines of %s ---\n' "$c" >&2
      docker logs --tail 60 "$c" >&2 2>&1
    done
  fi
  if ((${#CONTAINERS[@]})); then docker rm -f "${CONTAINERS[@]}" >/dev/null 2>&1; fi
  docker volume rm -f "$VOLUME" >/dev/null 2>&1
  if [[ ${TRAINSERVE_SMOKE_RMI:-0} == 1 ]]; then
    docker image rm "$IMAGE" "$API_IMAGE" >/dev/null 2>&1 && echo "removed images $IMAGE $API_IMAGE"
  fi
  rm -rf "$WORK"
  if ((rc == 0)); then
    printf '\ndocker smoke: PASSED in %s\n' "$(elapsed)"
  else
    printf '\ndocker smoke: FAILED (exit %d) after %s\n' "$rc" "$(elapsed)" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for tool in docker curl python3; do
  command -v "$tool" >/dev/null || die "$tool is not installed"
done

# --- Docker engine -----------------------------------------------------------------------------
say "Docker engine"
USE_LOCAL_TOOLS=0
if docker info >/dev/null 2>&1; then
  info "using the engine at ${DOCKER_HOST:-the default socket}"
else
  [[ -x $TOOLS/docker-local.sh ]] ||
    die "no Docker engine answers and $TOOLS/docker-local.sh is missing (set TRAINSERVE_DOCKER_TOOLS)"
  info "no engine answers at ${DOCKER_HOST:-the default socket}; running $TOOLS/docker-local.sh up"
  # `up` prints exactly one line on stdout: export DOCKER_HOST=...
  up_out=$("$TOOLS/docker-local.sh" up) || die "docker-local.sh up failed"
  eval "$up_out"
  export DOCKER_HOST
  docker info >/dev/null 2>&1 || die "docker-local.sh up finished but no engine answers at $DOCKER_HOST"
  USE_LOCAL_TOOLS=1
  info "engine at $DOCKER_HOST (left running; stop it with $TOOLS/docker-local.sh down)"
fi
if [[ $USE_LOCAL_TOOLS == 0 && ${DOCKER_HOST:-} == unix:///tmp/dockerd/docker.sock && -x $TOOLS/docker-local.sh ]]; then
  USE_LOCAL_TOOLS=1   # the docker-local.sh engine, already running
fi

# --- build ------------------------------------------------------------------------------------
# build TAG [docker build options...]
build() {
  local tag=$1 build_start=$SECONDS
  shift
  if [[ $USE_LOCAL_TOOLS == 1 ]]; then
    "$TOOLS/docker-local.sh" build "$tag" "$ROOT" "$@" >"$WORK/build.log" 2>&1 ||
      { tail -n 40 "$WORK/build.log" >&2; die "docker build of $tag failed"; }
  else
    docker build --network host -t "$tag" "$@" "$ROOT" >"$WORK/build.log" 2>&1 ||
      { tail -n 40 "$WORK/build.log" >&2; die "docker build of $tag failed"; }
  fi
  info "built $tag in $((SECONDS - build_start)) s ($(grep -c 'Using cache\|CACHED' "$WORK/build.log" || true) cached steps)"
}
size_mb() { docker image inspect -f '{{.Size}}' "$1" | awk '{printf "%.0f", $1 / 1e6}'; }

if [[ ${TRAINSERVE_SMOKE_NO_BUILD:-0} == 1 ]]; then
  say "using the existing images $IMAGE and $API_IMAGE (TRAINSERVE_SMOKE_NO_BUILD=1)"
  docker image inspect "$IMAGE" "$API_IMAGE" >/dev/null 2>&1 || die "image $IMAGE or $API_IMAGE does not exist"
else
  say "build $IMAGE (target worker) and $API_IMAGE (target api)"
  build "$IMAGE" --target worker
  build "$API_IMAGE" --target api
fi
info "image sizes: $IMAGE $(size_mb "$IMAGE") MB, $API_IMAGE $(size_mb "$API_IMAGE") MB"
(($(size_mb "$API_IMAGE") <= API_IMAGE_MAX_MB)) ||
  die "$API_IMAGE is $(size_mb "$API_IMAGE") MB, over the $API_IMAGE_MAX_MB MB target"
if docker run --rm --network host "$API_IMAGE" python -c 'import tensorflow' >/dev/null 2>&1; then
  die "$API_IMAGE can import tensorflow; the api target must not contain it"
fi
docker run --rm --network host "$API_IMAGE" python -c 'import onnxruntime' ||
  die "$API_IMAGE cannot import onnxruntime"
info "$API_IMAGE has ONNX Runtime and no TensorFlow"

# --- helpers ------------------------------------------------------------------------------------
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT

# api METHOD PATH [curl options...]: body to $WORK/body, prints the HTTP status (000: no answer)
api() {
  local method=$1 path=$2
  shift 2
  curl -sS -o "$WORK/body" -w '%{http_code}' --max-time 60 -X "$method" \
    -H "X-API-Key: $API_KEY" "$@" "$BASE$path" 2>"$WORK/curl.err" || true
}

# field FILE EXPR: evaluate a Python expression over the JSON document `d` in FILE
field() {
  python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); v = eval(sys.argv[2]); print(v if not isinstance(v, (dict, list)) else json.dumps(v))' "$1" "$2"
}

# start NAME [docker run options and image/command...]: run a container detached on the volume.
# --hostname: with host networking every container would otherwise be called like the host, and
# the service takes workers on "its own" hostname whose pid it cannot see for dead (see report).
start() {
  local name=$1
  shift
  CONTAINERS+=("$name")
  docker run -d --init --network host --name "$name" --hostname "$name" -v "$VOLUME:/data" \
    -e TRAINSERVE_PORT="$PORT" -e TRAINSERVE_API_KEY="$API_KEY" "$@" >/dev/null
}

running() { [[ $(docker inspect -f '{{.State.Running}}' "$1" 2>/dev/null) == true ]]; }

# wait_ready CONTAINER...: until /readyz answers 200 (fails early when a container stops)
wait_ready() {
  local t0=$SECONDS code c
  while :; do
    code=$(curl -s -o "$WORK/ready" -w '%{http_code}' --max-time 5 "$BASE/readyz" || true)
    [[ $code == 200 ]] && { info "/readyz 200 after $((SECONDS - t0)) s"; return; }
    for c in "$@"; do
      running "$c" || die "container $c stopped (exit code $(docker inspect -f '{{.State.ExitCode}}' "$c"))"
    done
    ((SECONDS - t0 < TIMEOUT)) || die "/readyz not 200 after $TIMEOUT s (last: $code $(cat "$WORK/ready" 2>/dev/null))"
    sleep 1
  done
}

# submit SPEC_FILE: POST /v1/runs, prints the run id
submit() {
  local code
  code=$(api POST /v1/runs -H 'Content-Type: application/json' --data-binary "@$1")
  [[ $code == 202 ]] || die "POST /v1/runs answered $code: $(cat "$WORK/body")"
  field "$WORK/body" 'd["id"]'
}

# wait_succeeded RUN_ID: until the run finishes; fails unless it succeeded
wait_succeeded() {
  local t0=$SECONDS code status
  while :; do
    code=$(api GET "/v1/runs/$1")
    [[ $code == 200 ]] || die "GET /v1/runs/$1 answered $code: $(cat "$WORK/body" 2>/dev/null) $(cat "$WORK/curl.err")"
    status=$(field "$WORK/body" 'd["status"]')
    case $status in
      succeeded) info "run $1 succeeded after $((SECONDS - t0)) s"; cp "$WORK/body" "$WORK/run.json"; return ;;
      failed | cancelled) die "run $1 $status: $(field "$WORK/body" 'd.get("failure_reason")')" ;;
    esac
    ((SECONDS - t0 < TIMEOUT)) || die "run $1 still $status after $TIMEOUT s"
    sleep 1
  done
}

# --- 1. one container, default command ----------------------------------------------------------
say "run $IMAGE as $NAME on port $PORT (volume $VOLUME)"
# --health-interval: check the image's HEALTHCHECK quickly instead of every 30 s
start "$NAME" --health-interval 2s "$IMAGE"
wait_ready "$NAME"
uid=$(docker exec "$NAME" id -u)
[[ $uid == 10001 ]] || die "the service runs as uid $uid, not 10001"
info "runs as uid $uid"
t0=$SECONDS
until [[ $(docker inspect -f '{{.State.Health.Status}}' "$NAME") == healthy ]]; do
  ((SECONDS - t0 < 60)) || die "HEALTHCHECK not healthy after 60 s: $(docker inspect -f '{{json .State.Health}}' "$NAME")"
  sleep 1
done
info "HEALTHCHECK: healthy"
code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE/v1/runs" || true)
[[ $code == 401 ]] || die "GET /v1/runs without X-API-Key answered $code, expected 401"
# The dashboard is a script-built page: its shell, then the predict page's drawing pad.
curl -sf "$BASE/" | grep -q '/static/js/app.js' || die "GET / did not serve the web page from the image"
curl -sf "$BASE/static/js/pages/predict.js" | grep -q 'id: "pad"' ||
  die "GET /static/js/pages/predict.js did not serve the dashboard's scripts from the image"
info "web page served at /"

say "train models/zero-vs-one.json with epochs=$EPOCHS"
python3 - "$ROOT/models/zero-vs-one.json" "$EPOCHS" >"$WORK/spec.json" <<'EOF'
import json, sys
spec = json.load(open(sys.argv[1]))
spec["training"]["epochs"] = int(sys.argv[2])
print(json.dumps(spec))
EOF
RUN_ID=$(submit "$WORK/spec.json")
info "run id $RUN_ID"
wait_succeeded "$RUN_ID"
epoch=$(field "$WORK/run.json" 'd["progress"]["epoch"]')
[[ $epoch == "$EPOCHS" ]] || die "run reports epoch $epoch, expected $EPOCHS"
info "test accuracy: $(field "$WORK/run.json" '(d.get("evaluation") or {}).get("accuracy")')"
SHA=$(field "$WORK/run.json" 'd["artifact"]["sha256"]')

# A 28x28 grayscale PNG of a "1": a dark, slightly slanted stroke on a light background (the
# service inverts and centres it MNIST-style). Pure Python (zlib), so Pillow is not needed.
python3 - "$WORK/one.png" <<'EOF'
import struct, sys, zlib
W = H = 28
rows = []
for y in range(H):
    row = bytearray([255] * W)
    if 4 <= y < 24:
        x0 = 12 + (23 - y) // 8  # leans a little to the right at the top
        for x in range(x0, x0 + 3):
            row[x] = 0
    rows.append(b"\x00" + bytes(row))
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, 0, 0, 0, 0))
       + chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b""))
open(sys.argv[1], "wb").write(png)
EOF

# ================================ PREDICT ========================================================
# The predict routes may not be merged yet: until then a 404/405 is reported as SKIP.
# To make this strict, set PREDICT_STRICT=1 here (or TRAINSERVE_SMOKE_PREDICT_STRICT=1).
PREDICT_STRICT=${TRAINSERVE_SMOKE_PREDICT_STRICT:-0}
say "predict a drawn 1 with POST /v1/runs/$RUN_ID/predict"
code=$(api POST "/v1/runs/$RUN_ID/predict" -F "file=@$WORK/one.png;type=image/png")
if [[ ($code == 404 || $code == 405) && $PREDICT_STRICT != 1 ]]; then
  echo "   SKIP predict: not available (POST /v1/runs/{id}/predict answered $code: $(head -c 200 "$WORK/body"))"
else
  [[ $code == 200 ]] || die "predict answered $code: $(cat "$WORK/body")"
  label=$(field "$WORK/body" 'd["predictions"][0]["label"]')
  info "prediction: $(field "$WORK/body" 'd["predictions"][0]')"
  [[ $label == 1 ]] || die "the drawn 1 was predicted as $label"
fi
# ================================================================================================

say "docker restart $NAME: the run must survive in the volume"
docker restart -t 30 "$NAME" >/dev/null
wait_ready "$NAME"
code=$(api GET "/v1/runs/$RUN_ID")
[[ $code == 200 ]] || die "after restart GET /v1/runs/$RUN_ID answered $code: $(cat "$WORK/body")"
status=$(field "$WORK/body" 'd["status"]')
[[ $status == succeeded ]] || die "after restart the run is $status, expected succeeded"
code=$(api GET "/v1/runs/$RUN_ID/model")
[[ $code == 200 ]] || die "after restart GET /v1/runs/$RUN_ID/model answered $code"
got=$(python3 -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$WORK/body")
[[ $got == "$SHA" ]] || die "model file sha256 $got differs from the run's artifact sha256 $SHA"
info "run still succeeded; model file intact ($(wc -c <"$WORK/body") bytes, sha256 matches)"
docker stop -t 30 "$NAME" >/dev/null

# --- 2. compose layout: API with --workers 0 + a `trainserve worker` container -------------------
say "compose layout: $API_NAME ($API_IMAGE) + $WORKER_NAME ($IMAGE, trainserve worker)"
start "$API_NAME" "$API_IMAGE"
# like compose's depends_on (service_healthy): the worker starts once the API is live (migrated)
t0=$SECONDS
until [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$BASE/healthz" || true) == 200 ]]; do
  running "$API_NAME" || die "container $API_NAME stopped"
  ((SECONDS - t0 < TIMEOUT)) || die "/healthz not 200 after $TIMEOUT s"
  sleep 1
done
code=$(curl -s -o "$WORK/ready" -w '%{http_code}' "$BASE/readyz" || true)
[[ $code == 503 ]] || die "/readyz answered $code with no worker running, expected 503"
info "API without workers: /healthz 200, /readyz 503 as expected"
start "$WORKER_NAME" --no-healthcheck "$IMAGE" trainserve worker
wait_ready "$API_NAME" "$WORKER_NAME"
python3 -c 'import json, sys; s = json.load(open(sys.argv[1])); s["name"] = "smoke-worker-container"; s["training"]["epochs"] = 1; print(json.dumps(s))' \
  "$WORK/spec.json" >"$WORK/spec1.json"
RUN2=$(submit "$WORK/spec1.json")
info "run id $RUN2"
wait_succeeded "$RUN2"
code=$(api GET "/v1/runs/$RUN_ID")
[[ $code == 200 && $(field "$WORK/body" 'd["status"]') == succeeded ]] || die "first run missing in the compose layout"
info "the worker container trained it; the first run is still there"

say "the light API serves the worker's run from its ONNX export"
python3 - "$WORK/run.json" <<'EOF' || die "the run's exports are not both available"
import json, sys
exports = json.load(open(sys.argv[1]))["exports"]
assert all(exports[f]["status"] == "available" for f in ("onnx", "tflite")), exports
EOF
code=$(api POST "/v1/runs/$RUN2/predict" -F "file=@$WORK/one.png;type=image/png")
[[ $code == 200 ]] || die "the light API answered predict with $code: $(cat "$WORK/body")"
info "prediction: $(field "$WORK/body" 'd["predictions"][0]')"
code=$(api GET "/v2/models/$RUN2")
[[ $code == 200 && $(field "$WORK/body" 'd["platform"]') == onnxruntime_onnx ]] ||
  die "the light API does not serve with ONNX Runtime: $code $(cat "$WORK/body")"
code=$(api GET "/v1/runs/$RUN2/model?format=onnx")
[[ $code == 200 ]] || die "GET /v1/runs/$RUN2/model?format=onnx answered $code"
got=$(python3 -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$WORK/body")
[[ $got == "$(field "$WORK/run.json" 'd["exports"]["onnx"]["sha256"]')" ]] ||
  die "the .onnx download does not match its recorded sha256"
info "served by ONNX Runtime; the .onnx download matches its recorded sha256"
