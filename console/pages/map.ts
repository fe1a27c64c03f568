// The map: every location point, as vector tiles from /v1/tiles (points at high zoom, grid cells
// with counts at low zoom, visits and places), the key added by transformRequest. The time slider
// filters what is loaded (MapLibre filters on `t`, `first`, `last`, `start`, `end`), nothing is
// fetched again; "Density" shows a heatmap instead of the dots.
import { getJson } from '../api.js';
import { boundsOf, COLORS, createMap, type maplibregl } from '../basemap.js';
import { formatDate, formatDateTime, h, localDay, plural, replace, status } from '../dom.js';
import type { Cleanup } from '../main.js';

interface Point {
  type: 'Feature';
  geometry: { type: 'Point'; coordinates: [number, number] };
  properties: { recorded_at: string; accuracy_m?: number };
}

/** The months with location points (from /v1/stats/monthly): the slider's range. */
async function timeRange(): Promise<{ first: number; last: number } | null> {
  const { months } = await getJson<{ months: Array<{ month: string; table: string; count: number }> }>('/v1/stats/monthly');
  const located = months.filter((m) => m.table === 'location_points' || m.table === 'visits').map((m) => Date.parse(m.month));
  if (!located.length) return null;
  const first = Math.min(...located) / 1000;
  const lastMonth = new Date(Math.max(...located));
  const last = Date.UTC(lastMonth.getUTCFullYear(), lastMonth.getUTCMonth() + 1, 1) / 1000;
  return { first, last };
}

export async function mapPage(main: HTMLElement, _args: string[], signal: AbortSignal): Promise<Cleanup> {
  const container = h('div.map', { role: 'region', 'aria-label': 'Map of your locations' });
  const note = status('Loading the map…');
  const from = h('input#time-from', { type: 'range', min: 0, max: 1, step: 1, value: 0, 'aria-label': 'From' });
  const to = h('input#time-to', { type: 'range', min: 0, max: 1, step: 1, value: 1, 'aria-label': 'Until' });
  const fromLabel = h('output#time-from-label', { for: 'time-from' });
  const toLabel = h('output#time-to-label', { for: 'time-to' });
  const density = h('input#density', { type: 'checkbox' });
  const picked = h('div.picked', { 'aria-live': 'polite' });
  const panel = h(
    'section.panel',
    { 'aria-label': 'Map controls' },
    h('fieldset.time', {}, h('legend', {}, 'Time'), h('label', {}, 'From ', fromLabel, from), h('label', {}, 'Until ', toLabel, to)),
    h('label.check', {}, density, ' Density (heatmap)'),
    note,
    picked,
  );
  main.append(h('div.map-page', {}, container, panel));

  const [map, range] = await Promise.all([createMap(container), timeRange()]);
  window.__lake.map = map;
  if (signal.aborted) {
    map.remove();
    return () => {};
  }

  map.addSource('lake', { type: 'vector', tiles: [`${location.origin}/v1/tiles/{z}/{x}/{y}.mvt`], minzoom: 0, maxzoom: 16 });
  map.addLayer({
    id: 'cells-heat',
    type: 'heatmap',
    source: 'lake',
    'source-layer': 'cells',
    layout: { visibility: 'none' },
    paint: { 'heatmap-weight': ['ln', ['+', 1, ['get', 'count']]], 'heatmap-radius': 18 },
  });
  map.addLayer({
    id: 'cells',
    type: 'circle',
    source: 'lake',
    'source-layer': 'cells',
    paint: {
      'circle-color': COLORS.point,
      'circle-opacity': 0.55,
      'circle-radius': ['interpolate', ['linear'], ['ln', ['+', 1, ['get', 'count']]], 0, 2, 10, 12],
    },
  });
  map.addLayer({ id: 'points-heat', type: 'heatmap', source: 'lake', 'source-layer': 'points', layout: { visibility: 'none' }, paint: { 'heatmap-radius': 14 } });
  map.addLayer({
    id: 'points',
    type: 'circle',
    source: 'lake',
    'source-layer': 'points',
    paint: { 'circle-color': COLORS.point, 'circle-radius': 3.5, 'circle-stroke-color': '#fff', 'circle-stroke-width': 1 },
  });
  map.addLayer({ id: 'visits', type: 'circle', source: 'lake', 'source-layer': 'visits', paint: { 'circle-color': COLORS.visit, 'circle-radius': 6, 'circle-opacity': 0.8 } });
  map.addLayer({
    id: 'places',
    type: 'circle',
    source: 'lake',
    'source-layer': 'places',
    paint: { 'circle-color': COLORS.place, 'circle-radius': ['interpolate', ['linear'], ['get', 'visits'], 1, 5, 50, 12], 'circle-stroke-color': '#fff', 'circle-stroke-width': 1.5 },
  });
  // Where to look first: the first point of each day (read from the hourly summary: cheap).
  const sample = await getJson<{ features: Point[] }>('/v1/locations', { simplify: 86_400, limit: 10_000 }, signal);
  const bounds = boundsOf(sample.features.map((f) => f.geometry.coordinates.slice(0, 2) as [number, number]));
  note.textContent = sample.features.length ? `${plural(sample.features.length, 'day')} with locations.` : 'No location points yet: import a Takeout.';
  if (bounds) map.fitBounds(bounds, { padding: 40, maxZoom: 15, duration: 0 });


  // The slider: whole days from the first month with points to the end of the last.
  const DAY = 86_400;
  const start = range ? Math.floor(range.first / DAY) * DAY : 0;
  const days = range ? Math.max(1, Math.ceil((range.last - start) / DAY)) : 1;
  from.max = to.max = String(days);
  to.value = String(days);
  const timeAt = (input: HTMLInputElement) => start + Number(input.value) * DAY;
  const applyTime = () => {
    if (Number(from.value) > Number(to.value)) {
      if (document.activeElement === from) to.value = from.value;
      else from.value = to.value;
    }
    const lo = timeAt(from);
    const hi = timeAt(to);
    fromLabel.textContent = range ? formatDate(new Date(lo * 1000)) : '–';
    toLabel.textContent = range ? formatDate(new Date(hi * 1000)) : '–';
    const inTime: maplibregl.FilterSpecification = ['all', ['>=', ['get', 't'], lo], ['<', ['get', 't'], hi]];
    const overlaps = (a: string, b: string): maplibregl.FilterSpecification => ['all', ['<', ['get', a], hi], ['>=', ['get', b], lo]];
    for (const layer of ['points', 'points-heat']) map.setFilter(layer, inTime);
    map.setFilter('cells', overlaps('first', 'last'));
    map.setFilter('cells-heat', overlaps('first', 'last'));
    map.setFilter('visits', overlaps('start', 'end'));
    window.__lake.timeFilter = [lo, hi];
  };
  from.addEventListener('input', applyTime);
  to.addEventListener('input', applyTime);
  applyTime();

  density.addEventListener('change', () => {
    const heat = density.checked;
    for (const layer of ['points', 'cells']) map.setLayoutProperty(layer, 'visibility', heat ? 'none' : 'visible');
    for (const layer of ['points-heat', 'cells-heat']) map.setLayoutProperty(layer, 'visibility', heat ? 'visible' : 'none');
  });

  // A click on a point names its time and links to its day.
  const clickable = ['points', 'visits', 'places', 'cells'];
  map.on('click', (event) => {
    const [hit] = map.queryRenderedFeatures(event.point, { layers: clickable });
    if (!hit) return;
    const p = hit.properties as Record<string, number | string>;
    const when = typeof p.t === 'number' ? p.t : typeof p.start === 'number' ? p.start : typeof p.last === 'number' ? p.last : null;
    replace(picked, 
      h('p', {}, hit.layer.id === 'places' ? `Place ${p.name ?? ''}: ${p.visits} visits` : hit.layer.id === 'cells' ? `${p.count} points` : hit.layer.id === 'visits' ? 'A visit' : 'A point'),
      when !== null ? h('p', {}, formatDateTime(new Date(when * 1000).toISOString()), ' · ', h('a', { href: `#/day/${localDay(new Date(when * 1000))}` }, 'open the day')) : null,
    );
  });
  for (const layer of clickable) {
    map.on('mouseenter', layer, () => (map.getCanvas().style.cursor = 'pointer'));
    map.on('mouseleave', layer, () => (map.getCanvas().style.cursor = ''));
  }
  return () => {
    map.remove();
    delete window.__lake.map;
  };
}
