// One day in local time: its path and visits on a map, and a list of everything that happened
// (/v1/timeline with every kind: activity, photos, mail, documents, measurements), visits among them.
import { allPages, getJson } from '../api.js';
import { boundsOf, COLORS, createMap } from '../basemap.js';
import { dayRange, errorText, formatTime, h, localDay, plural, status } from '../dom.js';
import type { Cleanup } from '../main.js';
import { thumbnail } from './photos.js';

interface TimelineItem {
  item_id: string;
  occurred_at: string;
  kind: string;
  source: string;
  title: string | null;
  body: string | null;
  url: string | null;
  link: string | null;
}
interface Visit {
  visit_id: string;
  started_at: string;
  ended_at: string;
  place_name: string | null;
  place_address: string | null;
  lat: number | null;
  lon: number | null;
}

/** The newest day with location points (the last month's points, simplified to hours). */
async function latestDay(signal: AbortSignal): Promise<string> {
  const { months } = await getJson<{ months: Array<{ month: string; table: string }> }>('/v1/stats/monthly', {}, signal);
  const located = months.filter((m) => m.table === 'location_points').map((m) => m.month).sort();
  const month = located.at(-1);
  if (!month) return localDay(new Date());
  const start = new Date(month);
  const end = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1));
  const { features } = await getJson<{ features: Array<{ properties: { recorded_at: string } }> }>(
    '/v1/locations',
    { from: start.toISOString(), to: end.toISOString(), simplify: 3600, limit: 10_000 },
    signal,
  );
  const last = features.at(-1);
  return last ? localDay(new Date(last.properties.recorded_at)) : localDay(start);
}

export async function dayPage(main: HTMLElement, args: string[], signal: AbortSignal): Promise<Cleanup | void> {
  const day = /^\d{4}-\d{2}-\d{2}$/.test(args[0] ?? '') ? args[0]! : await latestDay(signal);
  const { from, to } = dayRange(day);
  const shift = (days: number) => localDay(new Date(from.getFullYear(), from.getMonth(), from.getDate() + days));
  const picker = h('input#day', { type: 'date', value: day, 'aria-label': 'Day' });
  picker.addEventListener('change', () => {
    if (picker.value) location.hash = `#/day/${picker.value}`;
  });
  const note = status('Loading the day…');
  const container = h('div.map.day-map', { role: 'region', 'aria-label': `Map of ${day}` });
  const list = h('ol.timeline', { 'aria-label': 'What happened' });
  main.append(
    h(
      'div.day-page',
      {},
      h('div.toolbar', {}, h('h1', {}, 'Day'), h('a.button', { href: `#/day/${shift(-1)}`, 'aria-label': 'Previous day' }, '←'), picker, h('a.button', { href: `#/day/${shift(1)}`, 'aria-label': 'Next day' }, '→')),
      note,
      h('div.day-body', {}, container, list),
    ),
  );

  const range = { from: from.toISOString(), to: to.toISOString() };
  const [points, visits, items] = await Promise.all([
    allPages<{ geometry: { coordinates: [number, number] }; properties: { recorded_at: string } }>('/v1/locations', 'features', { ...range, limit: 10_000 }, 50_000, signal),
    allPages<Visit>('/v1/visits', 'visits', { ...range, limit: 1000 }, 5000, signal),
    allPages<TimelineItem>('/v1/timeline', 'items', { ...range, kinds: 'all', order: 'asc', limit: 1000 }, 5000, signal),
  ]);
  note.textContent = `${plural(points.length, 'point')}, ${plural(visits.length, 'visit')}, ${plural(items.length, 'entry', 'entries')}`;

  const urls: string[] = [];
  const entries: Array<{ at: string; node: HTMLElement }> = [];
  for (const visit of visits) {
    entries.push({
      at: visit.started_at,
      node: h('li.entry.visit', {}, h('time', { datetime: visit.started_at }, `${formatTime(visit.started_at)}–${formatTime(visit.ended_at)}`), h('span.kind', {}, 'visit'), h('span.title', {}, visit.place_name ?? visit.place_address ?? 'a place')),
    });
  }
  for (const item of items) {
    const content = h('span.title', {}, item.title ?? item.kind);
    const node = h('li.entry', { 'data-kind': item.kind }, h('time', { datetime: item.occurred_at }, formatTime(item.occurred_at)), h('span.kind', {}, item.kind), content);
    if (item.kind === 'mail') content.replaceChildren(h('a', { href: `#/mail/${item.item_id}` }, item.title ?? '(no subject)'));
    if (item.kind === 'photo') {
      const link = h('a.thumb-link', { href: `#/photos/${item.item_id}`, 'aria-label': `Photo ${item.title ?? ''}` });
      node.append(link);
      thumbnail(item.item_id, 256, item.title ?? 'photo', signal).then(
        ({ img, url }) => {
          urls.push(url);
          link.append(img);
        },
        () => link.append('(no preview)'),
      );
    }
    if (item.body && item.kind !== 'mail') node.append(h('p.snippet', {}, item.body));
    entries.push({ at: item.occurred_at, node });
  }
  if (points.length) {
    const first = points[0]!.properties.recorded_at;
    const last = points.at(-1)!.properties.recorded_at;
    entries.push({
      at: first,
      node: h('li.entry.path', {}, h('time', { datetime: first }, `${formatTime(first)}–${formatTime(last)}`), h('span.kind', {}, 'locations'), h('span.title', {}, plural(points.length, 'point'), ' on the map')),
    });
  }
  entries.sort((a, b) => a.at.localeCompare(b.at));
  list.append(...entries.map((e) => e.node));
  if (!entries.length) list.append(h('li.empty', {}, 'Nothing recorded on this day.'));

  let map: Awaited<ReturnType<typeof createMap>> | null = null;
  try {
    map = await createMap(container);
    window.__lake.map = map;
    const line = points.map((p) => p.geometry.coordinates.slice(0, 2) as [number, number]);
    map.addSource('path', { type: 'geojson', data: { type: 'Feature', geometry: { type: 'LineString', coordinates: line }, properties: {} } });
    map.addLayer({ id: 'path', type: 'line', source: 'path', paint: { 'line-color': COLORS.path, 'line-width': 3 } });
    map.addSource('points', { type: 'geojson', data: { type: 'MultiPoint', coordinates: line } });
    map.addLayer({ id: 'points', type: 'circle', source: 'points', paint: { 'circle-color': COLORS.path, 'circle-radius': 3 } });
    const located = visits.filter((v) => v.lat !== null && v.lon !== null).map((v) => [v.lon!, v.lat!] as [number, number]);
    map.addSource('visits', { type: 'geojson', data: { type: 'MultiPoint', coordinates: located } });
    map.addLayer({ id: 'visits', type: 'circle', source: 'visits', paint: { 'circle-color': COLORS.visit, 'circle-radius': 7, 'circle-stroke-color': '#fff', 'circle-stroke-width': 2 } });
    const bounds = boundsOf([...line, ...located]);
    if (bounds) map.fitBounds(bounds, { padding: 40, maxZoom: 16, duration: 0 });
  } catch (error) {
    container.append(h('p.error', {}, `The map could not be drawn: ${errorText(error)}`));
  }
  return () => {
    map?.remove();
    for (const url of urls) URL.revokeObjectURL(url);
  };
}
