// Maps without a tile server: MapLibre's worker and a Natural Earth basemap (world-atlas TopoJSON,
// countries at 1:50m) come from this server's /console/ files, and streets only from a PMTiles
// file the lake's owner gives (LAKE_CONSOLE_PMTILES, served at /console/basemap.pmtiles). No
// labels, so no glyphs. API requests of the map (tiles) carry the key through transformRequest.
import * as maplibregl from 'maplibre-gl';
import { Protocol } from 'pmtiles';
import { feature, mesh } from 'topojson-client';
import type { GeometryCollection, Topology } from 'topojson-specification';
import { authHeaders } from './api.js';

declare const __CONSOLE_WORKER__: string;
declare const __CONSOLE_BASEMAP__: string;

maplibregl.setWorkerUrl(new URL(__CONSOLE_WORKER__, location.href).href);

let countries: Promise<{ land: GeoJSON.FeatureCollection | GeoJSON.Feature; borders: GeoJSON.MultiLineString }> | null = null;
function loadCountries() {
  countries ??= fetch(__CONSOLE_BASEMAP__)
    .then((response) => response.json() as Promise<Topology<{ countries: GeometryCollection; land: GeometryCollection }>>)
    .then((topology) => ({
      land: feature(topology, topology.objects.land),
      borders: mesh(topology, topology.objects.countries, (a, b) => a !== b),
    }));
  return countries;
}

/** Whether street tiles were configured: a one-byte range of /console/basemap.pmtiles. */
let streets: Promise<boolean> | null = null;
function hasStreets() {
  streets ??= fetch('/console/basemap.pmtiles', { headers: { range: 'bytes=0-0' } }).then(
    (response) => response.status === 206 || response.status === 200,
    () => false,
  );
  return streets;
}
let protocolAdded = false;

export const COLORS = {
  sea: '#dfe9f3',
  land: '#f7f5ef',
  border: '#b9b3a6',
  point: '#c2185b',
  path: '#1565c0',
  visit: '#2e7d32',
  place: '#ef6c00',
};

/** A map in `container` showing the basemap; resolves once its style is loaded. */
export async function createMap(container: HTMLElement, options: Partial<maplibregl.MapOptions> = {}): Promise<maplibregl.Map> {
  const [{ land, borders }, withStreets] = await Promise.all([loadCountries(), hasStreets()]);
  const style: maplibregl.StyleSpecification = {
    version: 8,
    sources: {
      land: { type: 'geojson', data: land, attribution: 'Natural Earth' },
      borders: { type: 'geojson', data: { type: 'Feature', geometry: borders, properties: {} } },
    },
    layers: [
      { id: 'sea', type: 'background', paint: { 'background-color': COLORS.sea } },
      { id: 'land', type: 'fill', source: 'land', paint: { 'fill-color': COLORS.land, 'fill-antialias': false } },
      { id: 'borders', type: 'line', source: 'borders', paint: { 'line-color': COLORS.border, 'line-width': 0.7 } },
    ],
  };
  if (withStreets) {
    if (!protocolAdded) {
      maplibregl.addProtocol('pmtiles', new Protocol().tile);
      protocolAdded = true;
    }
    style.sources.streets = { type: 'vector', url: `pmtiles://${new URL('/console/basemap.pmtiles', location.href).href}` };
    // The Protomaps and OpenMapTiles schemas' layer names: whichever the file has is drawn.
    for (const layer of ['water']) style.layers.push({ id: `streets-${layer}`, type: 'fill', source: 'streets', 'source-layer': layer, paint: { 'fill-color': '#c9dcef' } });
    for (const layer of ['buildings', 'building']) style.layers.push({ id: `streets-${layer}`, type: 'fill', source: 'streets', 'source-layer': layer, minzoom: 14, paint: { 'fill-color': '#e6e1d8' } });
    for (const layer of ['roads', 'transportation']) {
      style.layers.push({ id: `streets-${layer}`, type: 'line', source: 'streets', 'source-layer': layer, paint: { 'line-color': '#ffffff', 'line-width': ['interpolate', ['linear'], ['zoom'], 10, 0.5, 16, 4] } });
    }
  }
  const map = new maplibregl.Map({
    container,
    style,
    center: [0, 20],
    zoom: 1,
    attributionControl: { compact: true },
    // Tiles and other API URLs get the key; the console's own files need none.
    transformRequest: (url) => (new URL(url, location.href).pathname.startsWith('/v1/') ? { url, headers: authHeaders() } : { url }),
    ...options,
  });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  // Errors (a tile the server refused, a bad style value) are kept where the page and the tests
  // can see them; MapLibre would otherwise only log them.
  const errors: string[] = ((window.__lake.mapErrors as string[] | undefined) ??= []);
  map.on('error', (event) => {
    const error = event.error as Error & { status?: number; url?: string };
    errors.push([error.message, error.status, error.url].filter((part) => part !== undefined).join(' '));
  });
  await new Promise<void>((resolve, reject) => {
    map.once('load', () => resolve());
    map.once('error', (event) => reject(event.error));
  });
  return map;
}

/** [[west, south], [east, north]] of some coordinates, or null for none. */
export function boundsOf(coordinates: Array<[number, number]>): maplibregl.LngLatBoundsLike | null {
  if (!coordinates.length) return null;
  let [west, south] = coordinates[0]!;
  let [east, north] = coordinates[0]!;
  for (const [lon, lat] of coordinates) {
    west = Math.min(west, lon);
    east = Math.max(east, lon);
    south = Math.min(south, lat);
    north = Math.max(north, lat);
  }
  return [
    [west, south],
    [east, north],
  ];
}

export { maplibregl };
