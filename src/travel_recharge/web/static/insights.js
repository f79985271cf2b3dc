// /insights: the revenue forecast with its interval and its backtest beside the baseline's,
// station performance (anomalies, peak hours, busiest 15 minutes, rank changes), riders
// (active cards, segments, recharge habits, dormant cards), and trip flows on the network map
// with the transfers.
import {
  $, ApiError, api, chart, color, count, el, frame, hourLabel, poll, replaceChildren, setText,
  showError, clearError,
} from "./common.js";
import { drawNetwork, loadStations, svg } from "./netmap.js";

const FORECAST_PERIOD_MS = 60000;
const SHOWN_STATIONS = 30;
const DRAWN_PAIRS = 40;
const SHOWN_PAIRS = 20;
const MAX_LINE_WIDTH = 14;
let forecastChart;
let ridersChart;
let flowMap; // { overlay, project } once the network is drawn

function localDay(offsetDays) {
  const day = new Date(Date.now() + offsetDays * 86400000);
  return day.toLocaleDateString("en-CA", { timeZone: "America/Bogota" }); // YYYY-MM-DD
}

function makeChart() {
  const line = (label, index, extra = {}) => ({ label, data: [], borderColor: color(index), pointRadius: 0, ...extra });
  forecastChart = chart($("#chart-forecast"), {
    type: "line",
    data: {
      labels: [],
      datasets: [
        line("upper", 3, { borderDash: [4, 4] }),
        line("lower", 3, { borderDash: [4, 4], fill: "-1", backgroundColor: "rgba(120, 120, 200, 0.15)" }),
        line("forecast", 0, { pointRadius: 2 }),
      ],
    },
    options: { plugins: { legend: { display: true } }, scales: { y: { beginAtZero: true } } },
  });
  ridersChart = chart($("#chart-riders"), {
    type: "line",
    data: { labels: [], datasets: [{ label: "cards that rode", data: [], borderColor: color(1), pointRadius: 0 }] },
    options: { plugins: { legend: { display: true } }, scales: { y: { beginAtZero: true } } },
  });
}

async function showForecast() {
  let forecast;
  try {
    forecast = await api("/api/v1/analytics/revenue-forecast");
  } catch (failure) {
    if (failure instanceof ApiError && failure.status === 503) {
      setText("#forecast-summary", "Not fitted yet: the service fits it within a minute of its start.");
      return;
    }
    throw failure;
  }
  if (forecast.status !== "ok") {
    setText(
      "#forecast-summary",
      `Not enough history: ${forecast.history_days} days up to ${forecast.history_to}; the forecast and its backtest need ${forecast.min_history_days}.`,
    );
  } else {
    const test = forecast.backtest;
    setText(
      "#forecast-summary",
      `${forecast.model}. Backtest over the last ${test.days} days: error ${test.model_mape_pct}% ` +
        `against ${test.seasonal_naive_mape_pct}% for last week's same weekday ` +
        `(${test.model_beats_baseline ? "better" : "not better"}). Fitted ${new Date(forecast.fitted_at).toLocaleString("es-CO")}.`,
    );
  }
  if (!forecastChart) return;
  forecastChart.data.labels = forecast.days.map((day) => day.day);
  forecastChart.data.datasets[0].data = forecast.days.map((day) => day.upper);
  forecastChart.data.datasets[1].data = forecast.days.map((day) => day.lower);
  forecastChart.data.datasets[2].data = forecast.days.map((day) => day.revenue);
  forecastChart.update("none");
}

const cell = (text, numeric = false) => el("td", numeric ? { className: "num" } : {}, text);
const station = (row) => cell(`${row.name} (${row.code})`);
const hour = (value) => (value === null ? "—" : hourLabel(value));
const signed = (value) => (value === null ? "—" : value > 0 ? `+${value}` : String(value));

async function showPerformance() {
  const day = $("#performance-day").value;
  const weeks = $("#performance-weeks").value;
  const found = await api(`/api/v1/analytics/station-performance?day=${day}&weeks=${weeks}`);
  setText(
    "#performance-summary",
    `${found.weekday} ${found.day}: ${count(found.hours_judged)} station-hours judged against ` +
      `${found.history_days.length} earlier ${found.weekday}s; ${found.anomalies.length} anomalies (|z| ≥ ${found.z_threshold}).`,
  );
  replaceChildren(
    $("#anomalies tbody"),
    found.anomalies.length
      ? found.anomalies.map((row) =>
          el("tr", { className: row.direction }, station(row), cell(hour(row.hour), true), cell(count(row.boardings), true),
            cell(String(row.usual), true), cell(signed(row.robust_z), true)))
      : [el("tr", {}, el("td", { colSpan: 5 }, "None."))],
  );
  replaceChildren(
    $("#stations tbody"),
    found.stations.slice(0, SHOWN_STATIONS).map((row) =>
      el("tr", {}, station(row), cell(count(row.boardings), true), cell(hour(row.peak_hour), true),
        cell(row.peak_hour_factor === null ? "—" : String(row.peak_hour_factor), true),
        cell(row.busiest_15_min || "—", true), cell(row.rank === null ? "—" : String(row.rank), true),
        cell(signed(row.rank_change), true))),
  );
}

const percent = (share) => `${(share * 100).toFixed(1)}%`;
const placeName = (place) => (place.name ? `${place.name} (${place.code})` : place.code);

async function showRiders() {
  let riders;
  try {
    riders = await api("/api/v1/analytics/riders");
  } catch (failure) {
    if (failure instanceof ApiError && failure.status === 503) {
      setText("#riders-summary", "Not counted yet: the service counts each finished day within a minute of its start.");
      return;
    }
    throw failure;
  }
  setText(
    "#riders-summary",
    `${riders.day}: ${count(riders.active_cards_day)} cards rode (${count(riders.trips_day)} trips, ` +
      `${riders.trips_per_active_card ?? "—"} per card); ${count(riders.active_cards_week)} in the week, ` +
      `${count(riders.active_cards_window)} in ${riders.window_days} days; ${count(riders.dormant_cards)} cards ` +
      `dormant 30 days or more (${percent(riders.dormant_share)}).`,
  );
  if (ridersChart) {
    ridersChart.data.labels = riders.daily.map((day) => day.day);
    ridersChart.data.datasets[0].data = riders.daily.map((day) => day.active_cards);
    ridersChart.update("none");
  }
  replaceChildren(
    $("#segments tbody"),
    riders.segments.map((row) =>
      el("tr", {}, cell(row.segment), cell(count(row.cards), true), cell(String(row.trips_per_card), true),
        cell(percent(row.transfer_share), true), cell(percent(row.credit_share), true))),
  );
  const habits = riders.recharges;
  setText(
    "#recharges-summary",
    `${count(habits.recharges)} recharges in ${riders.window_days} days; median ${habits.median_amount === null ? "—" : count(habits.median_amount)} pesos, ` +
      `${habits.median_days_between ?? "—"} days after the card's previous one.`,
  );
  const bins = (rows) => rows.map((row) => el("tr", {}, cell(row.label), cell(count(row.count), true)));
  replaceChildren($("#recharge-amounts tbody"), bins(habits.amounts));
  replaceChildren($("#recharge-gaps tbody"), bins(habits.days_between));
}

async function drawFlowMap() {
  flowMap = drawNetwork($("#flow-map"), await loadStations());
}

// Both directions of a pair on one line, as wide as their trips against the busiest line.
function drawFlows(pairs) {
  const lines = new Map();
  for (const pair of pairs) {
    if (pair.origin.code === pair.destination.code) continue; // within one place: no line
    const [a, b] = [pair.origin, pair.destination].sort((x, y) => x.code.localeCompare(y.code));
    const key = `${a.code}-${b.code}`;
    const line = lines.get(key) || { a, b, trips: 0 };
    line.trips += pair.trips;
    lines.set(key, line);
  }
  const drawn = [...lines.values()].sort((x, y) => y.trips - x.trips).slice(0, DRAWN_PAIRS);
  const most = drawn.length ? drawn[0].trips : 1;
  replaceChildren(
    flowMap.overlay,
    drawn.map((line) => {
      const [x1, y1] = flowMap.project(line.a);
      const [x2, y2] = flowMap.project(line.b);
      const node = svg("line", {
        x1: x1.toFixed(1), y1: y1.toFixed(1), x2: x2.toFixed(1), y2: y2.toFixed(1),
        class: "flow-line", "stroke-width": Math.max(1, (MAX_LINE_WIDTH * line.trips) / most).toFixed(1),
        "data-trips": line.trips,
      });
      const title = svg("title");
      title.textContent = `${placeName(line.a)} ↔ ${placeName(line.b)}: ${count(line.trips)} trips`;
      node.append(title);
      return node;
    }),
  );
  setText("#flows-drawn", String(drawn.length));
}

async function showFlows() {
  const params = new URLSearchParams({ from: $("#flows-from").value, to: $("#flows-to").value, level: $("#flows-level").value });
  if ($("#flows-band").value) params.set("band", $("#flows-band").value);
  const transferParams = new URLSearchParams(params);
  transferParams.delete("level");
  const [matrix, transfers] = await Promise.all([
    api(`/api/v1/analytics/od-matrix?${params}`),
    api(`/api/v1/analytics/transfer-flows?${transferParams}`),
  ]);
  const shares = matrix.shares;
  const missing = matrix.coverage.days_not_counted;
  setText(
    "#flows-summary",
    `${count(shares.trips)} trips from ${matrix.coverage.first} to ${matrix.coverage.last}: destination observed ` +
      `${percent(shares.observed_share)}, inferred ${percent(shares.inferred_share)}, unknown ${percent(shares.unknown_share)} ` +
      `(walks up to ${matrix.max_walk_m} m).` + (missing.length ? ` Not counted yet: ${missing.join(", ")}.` : ""),
  );
  if (flowMap) drawFlows(matrix.pairs);
  replaceChildren(
    $("#flow-pairs tbody"),
    matrix.pairs.length
      ? matrix.pairs.slice(0, SHOWN_PAIRS).map((pair) =>
          el("tr", {}, cell(placeName(pair.origin)), cell(placeName(pair.destination)), cell(count(pair.trips), true),
            cell(count(pair.observed), true), cell(count(pair.inferred), true)))
      : [el("tr", {}, el("td", { colSpan: 5 }, "No trips with a known destination."))],
  );
  setText("#transfers-summary", `${count(transfers.transfers)} transfers linked to the trip before them.`);
  replaceChildren(
    $("#transfer-kinds tbody"),
    transfers.by_kind.map((row) => el("tr", {}, cell(row.from_kind), cell(row.to_kind), cell(count(row.transfers), true))),
  );
  replaceChildren(
    $("#transfer-places tbody"),
    transfers.places.map((row) => el("tr", {}, station(row), cell(row.kind), cell(count(row.transfers), true))),
  );
}

frame({
  roles: ["analyst", "operator", "admin"],
  start() {
    makeChart();
    $("#performance-day").value = localDay(-1); // yesterday: a day whose hours have all ended
    $("#performance-day").max = localDay(0);
    $("#performance-form").addEventListener("submit", (event) => {
      event.preventDefault();
      showPerformance().then(clearError, (failure) => showError(failure.message));
    });
    showPerformance().catch((failure) => showError(failure.message));
    $("#flows-from").value = localDay(-7);
    $("#flows-to").value = localDay(-1); // the days the flows job has counted
    for (const field of ["#flows-from", "#flows-to"]) $(field).max = localDay(0);
    $("#flows-form").addEventListener("submit", (event) => {
      event.preventDefault();
      showFlows().then(clearError, (failure) => showError(failure.message));
    });
    showRiders().catch((failure) => showError(failure.message));
    drawFlowMap()
      .then(showFlows)
      .catch((failure) => showError(failure.message));
    poll(showForecast, FORECAST_PERIOD_MS);
  },
});
