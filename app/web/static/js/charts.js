// Epoch curves drawn with uPlot (vendored under /static/vendor/uplot, MIT licence).
import uPlot from "/static/vendor/uplot/uPlot.esm.js";

const COLOURS = ["#2f62c4", "#d1495b", "#1d7a33", "#edae49", "#7a4eb5", "#00798c", "#8d6a3f", "#e07bb5", "#555", "#4cb5ae"];
export const colour = (i) => COLOURS[i % COLOURS.length];

function width(container) { return Math.max(320, container.clientWidth || 640); }

// Loss on the left axis, accuracy on the right; dashed lines are the validation split.
// Returns {update(epochs)} where epochs is a list of {epoch, loss, accuracy, val_loss, val_accuracy}.
export function curvesChart(container) {
  const keys = ["loss", "val_loss", "accuracy", "val_accuracy"];
  const opts = {
    width: width(container), height: 300,
    scales: {x: {time: false}, loss: {}, acc: {range: [0, 1]}},
    axes: [{label: "epoch"}, {scale: "loss", label: "loss"}, {scale: "acc", side: 1, label: "accuracy", grid: {show: false}}],
    series: [
      {label: "epoch"},
      {label: "loss", scale: "loss", stroke: colour(0), width: 2},
      {label: "val_loss", scale: "loss", stroke: colour(0), dash: [6, 4], width: 2},
      {label: "accuracy", scale: "acc", stroke: colour(1), width: 2},
      {label: "val_accuracy", scale: "acc", stroke: colour(1), dash: [6, 4], width: 2},
    ],
  };
  const plot = new uPlot(opts, [[], [], [], [], []], container);
  container.dataset.points = "0";
  return {
    update(epochs) {
      const rows = [...epochs].sort((a, b) => a.epoch - b.epoch);
      plot.setData([rows.map((r) => r.epoch), ...keys.map((k) => rows.map((r) => r[k] ?? null))]);
      container.dataset.points = String(rows.length);  // what a test (or a person) can read
    },
    destroy() { plot.destroy(); },
  };
}

// One metric of several runs overlaid: runs is [{name, epochs: [...]}].
export function overlayChart(container, runs, metric) {
  const epochs = [...new Set(runs.flatMap((r) => r.epochs.map((e) => e.epoch)))].sort((a, b) => a - b);
  const data = [epochs, ...runs.map((r) => {
    const by = new Map(r.epochs.map((e) => [e.epoch, e[metric] ?? e.values?.[metric] ?? null]));
    return epochs.map((x) => by.get(x) ?? null);
  })];
  const opts = {
    width: width(container), height: 320,
    scales: {x: {time: false}},
    axes: [{label: "epoch"}, {label: metric}],
    series: [{label: "epoch"}, ...runs.map((r, i) => ({label: r.name, stroke: colour(i), width: 2, spanGaps: true}))],
  };
  container.replaceChildren();
  const plot = new uPlot(opts, data, container);
  container.dataset.series = String(runs.length);
  return plot;
}
