// /cache: hit rate over time, namespaces, Redis figures, keys with TTL and size, the
// cold-against-warm comparison and, for admins, clearing the cache or deleting one key.
import {
  $, api, chart, clock, color, confirmAction, count, currentRole, el, frame, ms, percent, poll,
  replaceChildren, setText, showError, clearError,
} from "./common.js";

const PERIOD_MS = 5000;
const POINTS = 120; // ten minutes of 5-second intervals
const KEYS_PAGE = 100;
const charts = {};
let previous = null; // the last cache totals seen, to compute each interval's hit rate
let nextCursor = null;

function isAdmin() {
  return currentRole() === "admin";
}

function makeCharts() {
  charts.hitRate = chart($("#chart-hit-rate"), {
    type: "line",
    data: {
      labels: [],
      datasets: [
        { label: "hit rate in the interval (%)", data: [], borderColor: color(1), spanGaps: false },
        { label: "lookups in the interval", data: [], borderColor: color(5), yAxisID: "lookups" },
      ],
    },
    options: {
      scales: {
        y: { min: 0, max: 100, title: { display: true, text: "%" } },
        lookups: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false } },
      },
    },
  });
  charts.perf = chart($("#chart-perf"), {
    type: "bar",
    data: {
      labels: [],
      datasets: [
        { label: "cold p50 (ms)", data: [], backgroundColor: color(0) },
        { label: "warm p50 (ms)", data: [], backgroundColor: color(2) },
      ],
    },
    options: { indexAxis: "y" },
  });
}

function addHitRatePoint(total) {
  const now = clock(new Date());
  if (previous && charts.hitRate) {
    const hits = total.hits - previous.hits;
    const lookups = hits + (total.misses - previous.misses);
    // A restarted worker makes the totals go down: skip that interval rather than lie.
    const valid = hits >= 0 && lookups >= 0;
    const data = charts.hitRate.data;
    data.labels.push(now);
    data.datasets[0].data.push(valid && lookups > 0 ? (100 * hits) / lookups : null);
    data.datasets[1].data.push(valid ? lookups : null);
    if (data.labels.length > POINTS) {
      data.labels.shift();
      for (const dataset of data.datasets) dataset.data.shift();
    }
    charts.hitRate.update("none");
  }
  previous = total;
}

function showNamespaces(cache) {
  setText("#kpi-hit-rate", percent(cache.total.hit_rate));
  replaceChildren(
    $("#namespaces tbody"),
    cache.namespaces.map((row) =>
      el(
        "tr",
        {},
        el("td", { className: "mono" }, row.namespace),
        el("td", { className: "num" }, count(row.hits)),
        el("td", { className: "num" }, count(row.misses)),
        el("td", { className: "num" }, percent(row.hit_rate)),
      ),
    ),
  );
}

function showRedis(stats) {
  if (stats.redis) {
    setText("#kpi-keys", `${count(stats.redis.namespace_keys)}${stats.redis.namespace_keys_complete ? "" : "+"}`);
    setText("#kpi-memory", stats.redis.used_memory_human);
    setText("#kpi-redis", `${stats.redis_status} · ${stats.redis.instantaneous_ops_per_sec} ops/s`);
  } else {
    setText("#kpi-keys", "—");
    setText("#kpi-memory", "—");
    setText("#kpi-redis", `${stats.redis_status}: ${stats.redis_detail || "no answer"}`);
  }
}

async function refresh() {
  const [summary, stats] = await Promise.all([api("/api/v1/metrics/summary"), api("/api/v1/cache/stats")]);
  addHitRatePoint(summary.cache.total);
  showNamespaces(summary.cache);
  showRedis(stats);
  setText("#updated", clock(new Date()));
  clearError();
}

// --- Keys ----------------------------------------------------------------------------------

function seconds(ttlMs) {
  return ttlMs === null ? "no expiry" : `${(ttlMs / 1000).toFixed(0)} s`;
}

function keyRow(key) {
  const cells = [
    el("td", { className: "mono" }, key.key),
    el("td", { className: "num" }, seconds(key.ttl_ms)),
    el("td", { className: "num" }, key.size_bytes === null ? "—" : `${count(key.size_bytes)} B`),
  ];
  if (isAdmin()) {
    const remove = async () => {
      if (!(await confirmAction(`Delete the key ${key.key}? The next read computes it again.`))) return;
      try {
        const result = await api(`/api/v1/cache/key/${encodeURIComponent(key.key)}`, { method: "DELETE" });
        setText("#admin-result", `${result.key}: ${result.action}.`);
        row.remove();
      } catch (failure) {
        showError(`Could not delete ${key.key}: ${failure.message}`);
      }
    };
    cells.push(el("td", {}, el("button", { className: "danger small", onclick: remove }, "Delete")));
  }
  const row = el("tr", {}, cells);
  return row;
}

async function loadKeys(more = false) {
  const pattern = $("#keys-pattern").value.trim();
  const query = new URLSearchParams({ cursor: more ? nextCursor : "0", limit: String(KEYS_PAGE) });
  if (pattern) query.set("pattern", pattern);
  try {
    const page = await api(`/api/v1/cache/keys?${query}`);
    const rows = page.keys.map(keyRow);
    if (more) $("#keys tbody").append(...rows);
    else replaceChildren($("#keys tbody"), rows);
    nextCursor = page.next_cursor;
    $("#keys-more").hidden = nextCursor === null;
    clearError();
  } catch (failure) {
    showError(`Could not list keys: ${failure.message}`);
  }
}

async function clearCache() {
  if (!(await confirmAction("Clear every key of the service's namespace? Reads go to PostgreSQL until the cache warms up again."))) {
    return;
  }
  try {
    const result = await api("/api/v1/cache/clear", { method: "POST" });
    setText("#admin-result", `Cleared: ${count(result.deleted)} keys deleted, ${count(result.invalidated)} generations replaced.`);
    await loadKeys();
  } catch (failure) {
    showError(`Could not clear the cache: ${failure.message}`);
  }
}

// --- Cold against warm ----------------------------------------------------------------------

async function runComparison() {
  const button = $("#perf-run");
  button.disabled = true;
  button.textContent = "Measuring…";
  try {
    const result = await api("/api/v1/cache/performance-test?samples=20");
    const measured = result.endpoints.filter((row) => row.cold && row.warm);
    if (charts.perf) {
      charts.perf.data.labels = measured.map((row) => row.path);
      charts.perf.data.datasets[0].data = measured.map((row) => row.cold.p50_ms);
      charts.perf.data.datasets[1].data = measured.map((row) => row.warm.p50_ms);
      charts.perf.update("none");
    }
    replaceChildren(
      $("#perf tbody"),
      result.endpoints.map((row) =>
        el(
          "tr",
          {},
          el("td", { className: "mono" }, row.path),
          el("td", { className: "num" }, ms(row.cold && row.cold.p50_ms)),
          el("td", { className: "num" }, ms(row.warm && row.warm.p50_ms)),
          el("td", { className: "num" }, ms(row.cold && row.cold.p99_ms)),
          el("td", { className: "num" }, ms(row.warm && row.warm.p99_ms)),
          el("td", { className: "num" }, row.speedup_p50 === null ? "—" : `×${row.speedup_p50.toFixed(1)}`),
        ),
      ),
    );
  } catch (failure) {
    showError(`The comparison failed: ${failure.message}`);
  } finally {
    button.disabled = false;
    button.textContent = "Run the comparison";
  }
}

frame({
  roles: ["operator", "admin"],
  start() {
    for (const node of document.querySelectorAll(".admin-only")) node.hidden = !isAdmin();
    makeCharts();
    $("#keys-form").addEventListener("submit", (event) => {
      event.preventDefault();
      loadKeys();
    });
    $("#keys-more").addEventListener("click", () => loadKeys(true));
    $("#cache-clear").addEventListener("click", clearCache);
    $("#perf-run").addEventListener("click", runComparison);
    loadKeys();
    poll(refresh, PERIOD_MS);
  },
});
