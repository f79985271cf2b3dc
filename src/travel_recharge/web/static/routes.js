// /routes: the network drawn as SVG from station coordinates; a route's stops in order; a
// station's routes, next arrivals and active alerts. Public data: no login needed.
import { $, api, el, frame, replaceChildren, setText, showError, clearError } from "./common.js";

const SVG = "http://www.w3.org/2000/svg";
const SIZE = 1000;
const MARGIN = 30;
const PAGE = 500; // the API's largest page

const stations = new Map(); // station_id -> station
const dots = new Map(); // station_id -> SVG circle
let routeLayer;

function svg(tag, attributes = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

async function loadStations() {
  const all = [];
  for (let offset = 0; ; offset += PAGE) {
    const page = await api(`/api/v1/stations?limit=${PAGE}&offset=${offset}`);
    all.push(...page.stations);
    if (all.length >= page.total || page.stations.length === 0) return all;
  }
}

// Equirectangular projection scaled by cos(latitude): faithful enough across one city.
function projection(list) {
  const lats = list.map((s) => s.latitude);
  const lons = list.map((s) => s.longitude);
  const [minLat, maxLat, minLon, maxLon] = [Math.min(...lats), Math.max(...lats), Math.min(...lons), Math.max(...lons)];
  const xScale = Math.cos(((minLat + maxLat) / 2) * (Math.PI / 180));
  const width = (maxLon - minLon) * xScale || 1;
  const height = maxLat - minLat || 1;
  const scale = (SIZE - 2 * MARGIN) / Math.max(width, height);
  // The drawing takes the network's own shape: no empty band beside a tall city.
  const box = [width * scale + 2 * MARGIN, height * scale + 2 * MARGIN];
  const project = (station) => [
    MARGIN + (station.longitude - minLon) * xScale * scale,
    MARGIN + (maxLat - station.latitude) * scale,
  ];
  return { project, box };
}

function drawNetwork(list) {
  const map = $("#network");
  const { project, box } = projection(list);
  map.setAttribute("viewBox", `0 0 ${box[0].toFixed(0)} ${box[1].toFixed(0)}`);
  const zonal = svg("g", { class: "zonal-layer" });
  const trunk = svg("g", { class: "trunk-layer" });
  routeLayer = svg("g", { class: "route-layer" });
  // Trunk stations on top: they are what most clicks aim at.
  for (const station of list) {
    const [x, y] = project(station);
    station.x = x;
    station.y = y;
    const dot = svg("circle", {
      cx: x.toFixed(1),
      cy: y.toFixed(1),
      r: station.kind === "zonal" ? 1.6 : station.kind === "portal" ? 6 : 4,
      class: `station ${station.kind}${station.active ? "" : " inactive"}`,
      "data-station-id": station.station_id,
    });
    const title = svg("title");
    title.textContent = `${station.name} (${station.code})`;
    dot.append(title);
    dot.addEventListener("click", () => selectStation(station.station_id));
    dots.set(station.station_id, dot);
    (station.kind === "zonal" ? zonal : trunk).append(dot);
  }
  replaceChildren(map, zonal, routeLayer, trunk);
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
      drawNetwork(list);
      fillSelects(list, codes.route_codes);
      clearError();
    } catch (failure) {
      showError(`Could not load the network: ${failure.message}`);
    }
  },
});
