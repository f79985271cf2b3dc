// /insights: the revenue forecast with its interval and its backtest beside the baseline's,
// and station performance (anomalies, peak hours, busiest 15 minutes, rank changes).
import {
  $, ApiError, api, chart, color, count, el, frame, hourLabel, poll, replaceChildren, setText,
  showError, clearError,
} from "./common.js";

const FORECAST_PERIOD_MS = 60000;
const SHOWN_STATIONS = 30;
let forecastChart;

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
    poll(showForecast, FORECAST_PERIOD_MS);
  },
});
