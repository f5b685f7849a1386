// Small live line charts on uPlot (served from /vendor/uplot/, loaded by
// the page as a classic script before its module), each with a text
// alternative: the latest value, lowest and highest in words, both shown
// and as the plot's accessible name.
//
// The chart object sits on its <figure> as `figure.chart`, its uPlot
// instance as `figure.chart.plot`, and the figure carries
// data-points and data-latest, so tests read what is actually drawn.

const HEIGHT = 160;
const WHOLE_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 1e7, 1e8, 1e9];

function formatNumber(value, decimals) {
  if (value === null || value === undefined) return "–";
  return Number(value).toLocaleString(undefined, { maximumFractionDigits: decimals });
}

export class LiveChart {
  // figure: a <figure> with [data-plot] and [data-summary] inside.
  // options: { label, unit, decimals, stepped, zeroBased, dots, empty,
  //   keepSeconds (drop points older than this behind the newest),
  //   keepPoints (keep at most this many) }
  constructor(figure, options) {
    this.figure = figure;
    this.options = { unit: "", decimals: 0, stepped: false, zeroBased: false, dots: false, keepSeconds: null, keepPoints: null, empty: "No data yet", ...options };
    this.xs = [];
    this.ys = [];
    this.plotEl = figure.querySelector("[data-plot]");
    this.summaryEl = figure.querySelector("[data-summary]");
    this.plotEl.setAttribute("role", "img");
    figure.chart = this;
    const accent = getComputedStyle(document.documentElement).getPropertyValue("--accent").trim() || "#2459c7";
    const muted = getComputedStyle(document.documentElement).getPropertyValue("--muted").trim() || "#5a6573";
    const grid = { stroke: "#e6e9ee", width: 1 };
    const axis = { stroke: muted, grid, ticks: { stroke: "#e6e9ee", width: 1 }, font: "12px system-ui, sans-serif" };
    this.plot = new window.uPlot(
      {
        width: this.width(),
        height: HEIGHT,
        legend: { show: false },
        cursor: { drag: { x: false, y: false } },
        scales: {
          // One point (or several at one instant) has no span of its own:
          // show a minute around it, not an axis of arbitrary years. (For a
          // single point uPlot widens the scale itself before asking, to a
          // "day" it counts in milliseconds: 1,000 days here, in seconds.
          // So the data decides, not the min and max it passes.)
          x: { time: true, range: (u, min, max) => this.xRange(u.data[0], min, max) },
          y: { range: (u, min, max) => this.yRange(min, max) },
        },
        axes: [
          { ...axis },
          {
            ...axis,
            size: 56,
            // Whole quantities get whole ticks (no "0.5 connections").
            ...(this.options.decimals === 0 ? { incrs: WHOLE_STEPS } : {}),
            values: (u, ticks) => ticks.map((t) => formatNumber(t, Math.max(this.options.decimals, 2))),
          },
        ],
        series: [
          {},
          {
            label: this.options.label,
            stroke: accent,
            width: 2,
            fill: `${accent}1f`,
            spanGaps: false,
            // Dots while few, and always where points stand alone between
            // gaps (a second with no events has no fan-out time).
            points: { show: (u) => this.options.dots || u.data[0].length < 40, size: this.options.dots ? 4 : 6 },
            ...(this.options.stepped ? { paths: window.uPlot.paths.stepped({ align: 1 }) } : {}),
          },
        ],
      },
      [[], []],
      this.plotEl,
    );
    new ResizeObserver(() => this.plot.setSize({ width: this.width(), height: HEIGHT })).observe(this.plotEl);
    this.describe();
  }

  width() {
    return Math.max(200, Math.floor(this.plotEl.clientWidth || this.figure.clientWidth || 300));
  }

  // The time scale's range: a minute around a lone point (see the scale).
  xRange(xs, min, max) {
    const first = xs?.[0];
    const last = xs?.[xs.length - 1];
    if (first !== undefined && first === last) return [first - 30, first + 30];
    return min === max ? [min - 30, max + 30] : [min, max];
  }

  // A flat line still gets room above and below; zero stays in sight for
  // quantities that cannot go negative.
  yRange(min, max) {
    if (min === null || max === null) return [0, 1];
    if (min === max) return this.options.zeroBased && min >= 0 ? [0, max + 1] : [min - 1, max + 1];
    const pad = (max - min) * 0.1;
    return [this.options.zeroBased && min >= 0 ? 0 : min - pad, max + pad];
  }

  // Replaces every point: xs in Unix seconds, ascending.
  set(xs, ys) {
    this.xs = [...xs];
    this.ys = [...ys];
    this.redraw();
  }

  push(x, y) {
    this.extend([x], [y]);
  }

  // Appends points newer than every one shown, one redraw for them all.
  extend(xs, ys) {
    this.xs.push(...xs);
    this.ys.push(...ys);
    this.redraw();
  }

  redraw() {
    if (this.options.keepSeconds) {
      const oldest = this.xs.at(-1) - this.options.keepSeconds;
      while (this.xs.length && this.xs[0] < oldest) {
        this.xs.shift();
        this.ys.shift();
      }
    }
    if (this.options.keepPoints && this.xs.length > this.options.keepPoints) {
      this.xs.splice(0, this.xs.length - this.options.keepPoints);
      this.ys.splice(0, this.ys.length - this.options.keepPoints);
    }
    this.plot.setData([this.xs, this.ys]);
    this.describe();
  }

  describe() {
    const { label, unit, decimals, empty } = this.options;
    const values = this.ys.filter((y) => y !== null && y !== undefined);
    this.figure.dataset.points = String(this.xs.length);
    if (!values.length) {
      delete this.figure.dataset.latest;
      this.summaryEl.textContent = empty;
      this.plotEl.setAttribute("aria-label", `${label}: ${empty.toLowerCase()}`);
      return;
    }
    const latest = this.ys.at(-1);
    const none = latest === null || latest === undefined;
    this.figure.dataset.latest = none ? "" : String(latest);
    const suffix = unit ? ` ${unit}` : "";
    const text = `latest ${none ? "none" : `${formatNumber(latest, decimals)}${suffix}`} · lowest ${formatNumber(Math.min(...values), decimals)}${suffix} · highest ${formatNumber(Math.max(...values), decimals)}${suffix}`;
    this.summaryEl.textContent = text;
    this.plotEl.setAttribute("aria-label", `${label}, ${this.xs.length} points: ${text.replaceAll(" ·", ",")}`);
  }
}
