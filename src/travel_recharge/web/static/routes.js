// /routes: the network drawn as SVG from station coordinates; a route's stops in order; a
// station's routes, next arrivals and active alerts. Public data: no login needed.
import { $, api, el, frame, replaceChildren, setText, showError, clearError } from "./common.js";
import { drawNetwork, loadStations, svg } from "./netmap.js";

const stations = new Map(); // station_id -> station
let dots; // station_id -> SVG circle
let routeLayer;

function showNetwork(list) {
  ({ dots, overlay: routeLayer } = drawNetwork($("#network"), list, selectStation));
  setText("#station-count", String(list.length));
}

function fillSelects(list, routeCodes) {
  const routeSelect = $("#route-select");
  routeSelect.append(...routeCodes.map((code) => el("option", { value: code }, code)));
  routeSelect.addEventListener("change", () => routeSelect.value && selectRoute(routeSelect.value));
  const stationSelect = $("#station-select");
  const named = list.filter((s) => s.kind !== "zonal").sort((a, b) => a.name.localeCompare(b.name, "es"));
  stationSelect.append(...named.map((s) => el("option", { value: s.station_id }, `${s.name} (${s.code})`)));
  stationSelect.addEventListener("change", () => stationSelect.value && selectStation(Number(stationSelect.value)));
  $("#show-zonal").addEventListener("change", (event) => {
    $("#network").classList.toggle("hide-zonal", !event.target.checked);
  });
}

async function selectRoute(code) {
  const route = await api(`/api/v1/routes/${encodeURIComponent(code)}/details`);
  $("#route-select").value = route.code;
  for (const dot of dots.values()) dot.classList.remove("on-route");
  const points = [];
  for (const stop of route.stops) {
    const station = stations.get(stop.station_id);
    if (!station) continue;
    points.push(`${station.x.toFixed(1)},${station.y.toFixed(1)}`);
    dots.get(stop.station_id).classList.add("on-route");
  }
  replaceChildren(routeLayer, svg("polyline", { points: points.join(" "), class: "route-line" }));
  setText("#route-title", `${route.code} · ${route.name}`);
  const bands = route.headways.map((h) => `${h.band} every ${h.headway_minutes} min`).join(", ");
  setText("#route-meta", `${route.kind} · ${route.stops.length} stops · ${bands || "no service"}`);
  replaceChildren(
    $("#route-stops"),
    route.stops.map((stop) =>
      el(
        "li",
        {},
        el("a", { href: "#", onclick: (e) => (e.preventDefault(), selectStation(stop.station_id)) }, stop.name),
        el("span", { className: "hint" }, ` ${stop.station_code} · +${stop.minutes_from_start} min`),
      ),
    ),
  );
  $("#route-panel").hidden = false;
}

async function selectStation(stationId) {
  const station = stations.get(stationId);
  for (const dot of dots.values()) dot.classList.remove("selected");
  dots.get(stationId).classList.add("selected");
  const [details, arrivals, alerts] = await Promise.all([
    api(`/api/v1/stations/${station.code}/details`),
    api(`/api/v1/stations/${stationId}/arrivals?per_route=2`),
    api(`/api/v1/stations/${stationId}/alerts?active_only=true`),
  ]);
  setText("#station-title", `${details.name} (${details.code})`);
  setText("#station-meta", `${details.kind} · ${details.locality_name}${details.corridor ? ` · corridor ${details.corridor}` : ""}`);
  replaceChildren(
    $("#station-routes"),
    details.routes_serving.length
      ? details.routes_serving.map((r) =>
          el("li", {}, el("button", { className: "chip", onclick: () => selectRoute(r.route_code), title: r.name }, r.route_code)),
        )
      : [el("li", { className: "hint" }, "No route calls here.")],
  );
  replaceChildren(
    $("#arrivals tbody"),
    arrivals.arrivals.length
      ? arrivals.arrivals.map((a) =>
          el(
            "tr",
            {},
            el("td", {}, a.route_code),
            el("td", {}, a.destination),
            el("td", {}, a.predicted_time.slice(11, 16)),
            el("td", { className: "num" }, `${a.minutes_away} min`),
          ),
        )
      : [el("tr", {}, el("td", { colspan: "4", className: "hint" }, "No arrivals soon."))],
  );
  replaceChildren(
    $("#alerts"),
    alerts.alerts.length
      ? alerts.alerts.map((a) =>
          el("li", { className: `alert ${a.severity}` }, el("strong", {}, a.severity), ` ${a.effect.toLowerCase().replaceAll("_", " ")}: `, a.message),
        )
      : [el("li", { className: "hint" }, "No active alerts.")],
  );
  $("#station-select").value = station.kind === "zonal" ? "" : String(stationId);
  $("#station-panel").hidden = false;
}

frame({
  roles: null,
  async start() {
    try {
      const [list, codes] = await Promise.all([loadStations(), api("/api/v1/routes/codes")]);
      for (const station of list) stations.set(station.station_id, station);
      showNetwork(list);
      fillSelects(list, codes.route_codes);
      clearError();
    } catch (failure) {
      showError(`Could not load the network: ${failure.message}`);
    }
  },
});
