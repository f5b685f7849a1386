// The /status page: the server's own numbers over the last five minutes,
// from /status.json (samples the server takes once a second), asking once
// a second for the samples taken since the last one it has.
import { LiveChart } from "./chart.js";

const POLL_EVERY_MS = 1000;
const root = document.querySelector("[data-server-status]");
const sampledEl = root.querySelector("[data-sampled]");
const keepSeconds = 300;

const CHARTS = {
  connections: { field: "connections", label: "Open connections", decimals: 0 },
  messages: { field: "messages_per_second", label: "Messages a second", decimals: 1 },
  fanout: { field: "fanout_ms", label: "Fan-out time", unit: "ms", decimals: 3, dots: true },
  errors: { field: "errors_per_second", label: "Errors a second", decimals: 1 },
};

const charts = Object.entries(CHARTS).map(([key, { field, ...options }]) => ({
  field,
  chart: new LiveChart(root.querySelector(`[data-chart="${key}"]`), { ...options, zeroBased: true, keepSeconds }),
}));
let last = null;

async function poll() {
  try {
    const response = await fetch(last === null ? "/status.json" : `/status.json?since=${last}`, { cache: "no-store" });
    if (!response.ok) throw new Error(`status ${response.status}`);
    const { samples } = await response.json();
    if (samples.length) {
      last = samples.at(-1).t;
      const times = samples.map((sample) => sample.t);
      for (const { field, chart } of charts) chart.extend(times, samples.map((sample) => sample[field]));
      sampledEl.textContent = `Sampled once a second; last at ${new Date(last * 1000).toLocaleTimeString()}`;
    }
    delete root.dataset.error;
  } catch (error) {
    root.dataset.error = "true";
    sampledEl.textContent = `Could not read the samples (${error.message}); trying again.`;
  } finally {
    setTimeout(poll, POLL_EVERY_MS);
  }
}
poll();
