// /dashboard: today's KPIs and charts, system health, endpoint latency and the simulator.
import {
  $, api, chart, clock, color, confirmAction, count, currentRole, el, frame, hourLabel, ms, pesos, poll,
  replaceChildren, setText, showError, clearError,
} from "./common.js";

const PERIOD_MS = 5000;
const SIMULATOR_ROLES = ["operator", "admin"];
const charts = {};

// In the city's time zone, like the hours of "trips by hour", wherever the viewer is.
function minuteLabel(iso, timeZone) {
  return new Date(iso).toLocaleTimeString("es-CO", { hour: "2-digit", minute: "2-digit", hour12: false, timeZone });
}

function makeCharts() {
  charts.taps = chart($("#chart-taps"), {
    type: "line",
    data: { labels: [], datasets: [{ label: "taps", data: [], borderColor: color(0), fill: false, tension: 0.2 }] },
    options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true } } },
  });
  charts.localities = chart($("#chart-localities"), {
    type: "bar",
    data: { labels: [], datasets: [{ label: "revenue (COP)", data: [], backgroundColor: color(1) }] },
    options: { indexAxis: "y", plugins: { legend: { display: false } }, scales: { y: { ticks: { autoSkip: false } } } },
  });
  charts.hours = chart($("#chart-hours"), {
    type: "bar",
    data: { labels: [], datasets: [{ label: "trips", data: [], backgroundColor: color(2) }] },
    options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true } } },
  });
}

function redraw(target, labels, values) {
  if (!target) return;
  target.data.labels = labels;
  target.data.datasets[0].data = values;
  target.update("none");
}

function showLive(live) {
  setText("#kpi-trips", count(live.today.trips));
  setText("#kpi-revenue", pesos(live.today.revenue));
  setText("#kpi-cards", count(live.active_cards_today));
  // Counting distinct cards is the heaviest figure: it is refreshed less often.
  setText("#kpi-cards-as-of", `counted at ${clock(new Date(live.active_cards_as_of))}`);
  setText("#kpi-taps", count(live.taps_last_minute));
  setText("#local-day", `${live.local_date} (${live.timezone})`);
  redraw(
    charts.taps,
    live.taps_per_minute.map((point) => minuteLabel(point.minute, live.timezone)),
    live.taps_per_minute.map((point) => point.taps),
  );
  // Bus and zonal-stop boardings belong to no station's locality: one bar of their own.
  const outside = { name: "Buses and zonal stops", ...live.revenue_outside_stations_today };
  const localities = [...live.revenue_by_locality_today, outside].sort((a, b) => b.revenue - a.revenue);
  redraw(
    charts.localities,
    localities.map((row) => row.name),
    localities.map((row) => row.revenue),
  );
  redraw(
    charts.hours,
    live.trips_by_hour_today.map((row) => hourLabel(row.hour)),
    live.trips_by_hour_today.map((row) => row.trips),
  );
}

async function showHealth() {
  // 503 carries the same body: a down component is data here, not an error.
  const response = await fetch("/api/v1/health", { headers: { Accept: "application/json" } });
  const health = await response.json();
  const rows = [["service", health.status, `version ${health.version}`]];
  for (const [name, component] of Object.entries(health.components)) {
    rows.push([name, component.status, component.detail || ms(component.latency_ms)]);
  }
  replaceChildren(
    $("#health tbody"),
    rows.map(([name, status, detail]) =>
      el("tr", {}, el("th", {}, name), el("td", {}, el("span", { className: `status ${status}` }, status)), el("td", {}, detail)),
    ),
  );
}

function showLatency(summary) {
  const rows = summary.endpoints.slice(0, 15).map((row) =>
    el(
      "tr",
      {},
      el("td", {}, row.method),
      el("td", { className: "mono" }, row.route),
      el("td", { className: "num" }, count(row.requests)),
      el("td", { className: "num" }, count(row.errors)),
      el("td", { className: "num" }, ms(row.p50_ms)),
      el("td", { className: "num" }, ms(row.p95_ms)),
      el("td", { className: "num" }, ms(row.p99_ms)),
    ),
  );
  replaceChildren($("#latency tbody"), rows);
}

// --- Simulator ------------------------------------------------------------------------------

function describeRun(status) {
  if (status.state === "running") {
    return `Running at ${status.rate}/s until ${clock(new Date(status.ends_at))} (started by ${status.started_by}).`;
  }
  if (status.state === "stopping") return "Stopping…";
  if (!status.started_at) return "Stopped. No run yet.";
  const ended = status.ended_at ? ` at ${clock(new Date(status.ended_at))}` : "";
  return `Stopped${ended} (${status.end_reason || "ended"}). Last run started by ${status.started_by}.`;
}

function showSimulator(status) {
  const state = $("#sim-state");
  state.textContent = describeRun(status);
  state.dataset.state = status.state;
  $("#sim-start").disabled = status.state !== "stopped";
  $("#sim-stop").disabled = status.state !== "running";
  const c = status.counters;
  const counters = [
    ["Taps sent", count(c.taps_sent)],
    ["Taps charged", count(c.taps_charged)],
    ["Transfers", count(c.transfers)],
    ["Credit trips", count(c.credit_trips)],
    ["Refused, no balance", count(c.taps_refused_no_balance)],
    ["Recharges", `${count(c.recharges)} · ${pesos(c.recharged_amount)}`],
    ["Errors", count(c.errors)],
    ["Skipped (too many in flight)", count(c.skipped)],
    ["Achieved rate", `${status.achieved_rate.toFixed(1)}/s`],
    ["Latency p50 / p95", `${ms(status.latency_p50_ms)} / ${ms(status.latency_p95_ms)}`],
  ];
  replaceChildren(
    $("#sim-counters tbody"),
    counters.map(([name, value]) => el("tr", {}, el("th", {}, name), el("td", { className: "num" }, value))),
  );
}

function setUpSimulator() {
  $("#simulator").hidden = false;
  $("#simulator-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const rate = Number($("#sim-rate").value);
    const minutes = Number($("#sim-minutes").value);
    try {
      showSimulator(await api("/api/v1/simulator/start", { method: "POST", body: { rate, minutes } }));
      clearError();
    } catch (failure) {
      showError(`The simulator did not start: ${failure.message}`);
    }
  });
  $("#sim-stop").addEventListener("click", async () => {
    if (!(await confirmAction("Stop the traffic simulator for every operator?"))) return;
    try {
      showSimulator(await api("/api/v1/simulator/stop", { method: "POST" }));
    } catch (failure) {
      showError(`The simulator did not stop: ${failure.message}`);
    }
  });
}

// --- Start ---------------------------------------------------------------------------------

// The figures are real riders' unless the viewer asks to see the simulator's riders too.
function livePath() {
  return $("#include-simulated").checked ? "/api/v1/analytics/live?include_simulated=true" : "/api/v1/analytics/live";
}

async function refresh() {
  const simulator = SIMULATOR_ROLES.includes(currentRole());
  const [live, summary, status] = await Promise.all([
    api(livePath()),
    api("/api/v1/metrics/summary"),
    simulator ? api("/api/v1/simulator") : null,
    showHealth(),
  ]);
  showLive(live);
  showLatency(summary);
  if (status) showSimulator(status);
  setText("#updated", clock(new Date()));
  clearError();
}

frame({
  roles: ["analyst", "operator", "admin"],
  start() {
    makeCharts();
    if (SIMULATOR_ROLES.includes(currentRole())) setUpSimulator();
    $("#include-simulated").addEventListener("change", () => refresh().catch((failure) => showError(failure.message)));
    poll(refresh, PERIOD_MS);
  },
});
