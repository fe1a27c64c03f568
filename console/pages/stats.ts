// Statistics: a calendar of the last year with data (hours with a location fix per day, from the
// hourly summary: /v1/locations?simplify=3600) and records per source and month (/v1/stats/monthly).
import { getJson } from '../api.js';
import { formatCount, h, localDay, status } from '../dom.js';

interface MonthRow {
  month: string;
  table: string;
  source: string;
  count: number;
}

export async function statsPage(main: HTMLElement, _args: string[], signal: AbortSignal) {
  const note = status('Counting…');
  const calendar = h('div.calendar-wrap', {});
  const table = h('div.table-wrap', {});
  main.append(h('div.stats-page', {}, h('div.toolbar', {}, h('h1', {}, 'Statistics')), note, h('h2', {}, 'Days with locations'), calendar, h('h2', {}, 'Records per month and source'), table));

  const { months } = await getJson<{ months: MonthRow[] }>('/v1/stats/monthly', {}, signal);
  if (!months.length) {
    note.textContent = 'Nothing imported yet.';
    return;
  }
  const total = months.reduce((sum, m) => sum + m.count, 0);
  note.textContent = `${formatCount(total)} records in ${new Set(months.map((m) => m.month)).size} months.`;

  // The calendar: the year up to the end of the last month with location points.
  const located = months.filter((m) => m.table === 'location_points').map((m) => m.month).sort();
  if (located.length) {
    const lastMonth = new Date(located.at(-1)!);
    const end = new Date(lastMonth.getUTCFullYear(), lastMonth.getUTCMonth() + 1, 1);
    const start = new Date(end.getFullYear() - 1, end.getMonth(), 1);
    const perDay = new Map<string, number>();
    let cursor: string | undefined;
    do {
      const page = await getJson<{ features: Array<{ properties: { recorded_at: string } }>; next_cursor: string | null }>(
        '/v1/locations',
        { from: start.toISOString(), to: end.toISOString(), simplify: 3600, limit: 10_000, cursor },
        signal,
      );
      for (const f of page.features) {
        const day = localDay(new Date(f.properties.recorded_at));
        perDay.set(day, (perDay.get(day) ?? 0) + 1);
      }
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    const grid = h('div.calendar', { role: 'img', 'aria-label': `Hours with a location on each day from ${localDay(start)} to ${localDay(end)}: ${perDay.size} days with locations` });
    // Columns are weeks (Monday first), rows weekdays.
    const first = new Date(start);
    first.setDate(first.getDate() - ((first.getDay() + 6) % 7));
    for (let day = new Date(first); day < end; day.setDate(day.getDate() + 1)) {
      const key = localDay(day);
      const hours = day < start ? 0 : (perDay.get(key) ?? 0);
      const level = hours === 0 ? 0 : hours < 3 ? 1 : hours < 8 ? 2 : hours < 16 ? 3 : 4;
      grid.append(h('a.cell', { href: `#/day/${key}`, 'data-level': level, title: `${key}: ${hours} h`, tabindex: '-1', 'aria-hidden': 'true' }));
    }
    calendar.append(grid, h('p.legend', {}, `${perDay.size} days with locations between ${localDay(start)} and ${localDay(end)}; darker: more hours with a fix.`));
  } else calendar.append(h('p', {}, 'No location points.'));

  // Months down, sources across.
  const sources = [...new Set(months.map((m) => `${m.table}|${m.source}`))].sort();
  const byMonth = new Map<string, Map<string, number>>();
  for (const m of months) {
    const row = byMonth.get(m.month) ?? new Map<string, number>();
    row.set(`${m.table}|${m.source}`, (row.get(`${m.table}|${m.source}`) ?? 0) + m.count);
    byMonth.set(m.month, row);
  }
  const head = h('tr', {}, h('th', { scope: 'col' }, 'Month'), ...sources.map((s) => h('th', { scope: 'col' }, s.split('|')[1]!, h('small', {}, s.split('|')[0]!))));
  const body = [...byMonth.keys()].sort().reverse().map((month) =>
    h('tr', {}, h('th', { scope: 'row' }, month.slice(0, 7)), ...sources.map((s) => h('td', {}, byMonth.get(month)!.has(s) ? formatCount(byMonth.get(month)!.get(s)!) : ''))),
  );
  table.append(h('table.counts', {}, h('thead', {}, head), h('tbody', {}, ...body)));
}
