// The network map both /routes and /insights draw: stations and stops as SVG from their
// coordinates, with a layer between the stops and the stations for routes or flows.
import { api, replaceChildren } from "./common.js";

const SVG = "http://www.w3.org/2000/svg";
const SIZE = 1000;
const MARGIN = 30;
const PAGE = 500; // the API's largest page

export function svg(tag, attributes = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

export async function loadStations() {
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
  const project = (point) => [
    MARGIN + (point.longitude - minLon) * xScale * scale,
    MARGIN + (maxLat - point.latitude) * scale,
  ];
  return { project, box };
}

// Draws the stations into the <svg> `map`; returns their dots by id, the overlay layer and
// the projection (for anything else placed by latitude and longitude).
export function drawNetwork(map, list, onSelect = null) {
  const { project, box } = projection(list);
  map.setAttribute("viewBox", `0 0 ${box[0].toFixed(0)} ${box[1].toFixed(0)}`);
  const zonal = svg("g", { class: "zonal-layer" });
  const trunk = svg("g", { class: "trunk-layer" });
  const overlay = svg("g", { class: "overlay-layer" });
  const dots = new Map();
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
    if (onSelect) dot.addEventListener("click", () => onSelect(station.station_id));
    dots.set(station.station_id, dot);
    (station.kind === "zonal" ? zonal : trunk).append(dot);
  }
  replaceChildren(map, zonal, overlay, trunk);
  return { dots, overlay, project };
}
