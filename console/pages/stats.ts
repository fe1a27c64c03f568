// Statistics: a calendar of activity over the last year with data (what happened on each local
// day, every kind of the timeline and the hours with a location fix: /v1/stats/daily, in the
// browser's time zone) and records per source and month (/v1/stats/monthly). The calendar is one
// stop of the Tab key: arrow keys move among its days, Enter opens one.
import { getJson } from '../api.js';
import { formatCount, h, localDay, status } from '../dom.js';

interface MonthRow {
  month: string;
  table: string;
  source: string;
  count: number;
}

interface DayRow {
  day: string;
  kind: string;
  count: number;
}

/** A kind as a reader says it: location_hours are hours with a location fix, not records. */
function kindLabel(kind: string, count: number): string {
  if (kind === 'location_hours') return `${count} ${count === 1 ? 'hour' : 'hours'} with a location`;
  return `${formatCount(count)} ${kind.replaceAll('_', ' ')}`;
}

export async function statsPage(main: HTMLElement, _args: string[], signal: AbortSignal) {
  const note = status('Counting…');
  const calendar = h('div.calendar-wrap', {});
  const table = h('div.table-wrap', {});
  main.append(h('div.stats-page', {}, h('div.toolbar', {}, h('h1', {}, 'Statistics')), note, h('h2', {}, 'Activity per day'), calendar, h('h2', {}, 'Records per month and source'), table));

  const { months } = await getJson<{ months: MonthRow[] }>('/v1/stats/monthly', {}, signal);
  if (!months.length) {
    note.textContent = 'Nothing imported yet.';
    return;
  }
  const total = months.reduce((sum, m) => sum + m.count, 0);
  note.textContent = `${formatCount(total)} records in ${new Set(months.map((m) => m.month)).size} months.`;

  // The calendar: the year up to the end of the last month with records (not past tomorrow).
  const lastMonth = new Date(`${months.map((m) => m.month).sort().at(-1)!}-01T00:00:00Z`);
  const now = new Date();
  const tomorrow = new Date(now.getFullYear(), now.getMonth(), now.getDate() + 1);
  const monthEnd = new Date(lastMonth.getUTCFullYear(), lastMonth.getUTCMonth() + 1, 1);
  const end = monthEnd < tomorrow ? monthEnd : tomorrow;
  const start = new Date(end.getFullYear() - 1, end.getMonth(), end.getDate());
  const tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const { days } = await getJson<{ days: DayRow[] }>('/v1/stats/daily', { from: localDay(start), to: localDay(end), tz }, signal);
  const perDay = new Map<string, { total: number; kinds: DayRow[] }>();
  for (const row of days) {
    const day = perDay.get(row.day) ?? { total: 0, kinds: [] };
    day.total += row.count;
    day.kinds.push(row);
    perDay.set(row.day, day);
  }
  if (!perDay.size) {
    calendar.append(h('p', {}, `Nothing between ${localDay(start)} and ${localDay(end)}.`));
  } else {
    // Darker by quartile of the days with something: a few busy days do not wash out the rest.
    const totals = [...perDay.values()].map((d) => d.total).sort((a, b) => a - b);
    const quartiles = [0.25, 0.5, 0.75].map((q) => totals[Math.floor(q * (totals.length - 1))]!);
    const levelOf = (n: number) => (n === 0 ? 0 : 1 + quartiles.filter((q) => n > q).length);
    const grid = h('div.calendar', {
      role: 'group',
      'aria-label': `Activity on each day from ${localDay(start)} to ${localDay(end)}: ${perDay.size} days with something. Arrow keys move between days, Enter opens one.`,
    });
    const cells: HTMLAnchorElement[] = [];
    // Columns are weeks (Monday first), rows weekdays.
    const first = new Date(start);
    first.setDate(first.getDate() - ((first.getDay() + 6) % 7));
    for (let day = new Date(first); day < end; day.setDate(day.getDate() + 1)) {
      const key = localDay(day);
      const counted = day < start ? undefined : perDay.get(key);
      const label = counted ? `${key}: ${counted.kinds.map((k) => kindLabel(k.kind, k.count)).join(', ')}` : `${key}: nothing`;
      const cell = h('a.cell', { href: `#/day/${key}`, 'data-level': levelOf(counted?.total ?? 0), 'data-day': key, title: label, 'aria-label': label, tabindex: '-1' });
      if (day < start) cell.setAttribute('aria-hidden', 'true');
      else cells.push(cell as HTMLAnchorElement);
      grid.append(cell);
    }
    // One Tab stop: the last day with something; arrows move a day (up, down) or a week (left, right).
    let current = Math.max(0, cells.findLastIndex((cell) => cell.dataset.level !== '0'));
    cells[current]!.tabIndex = 0;
    grid.addEventListener('keydown', (event) => {
      const step = { ArrowUp: -1, ArrowDown: 1, ArrowLeft: -7, ArrowRight: 7, Home: -cells.length, End: cells.length }[event.key];
      if (step === undefined) return;
      event.preventDefault();
      const next = Math.min(cells.length - 1, Math.max(0, current + step));
      cells[current]!.tabIndex = -1;
      cells[next]!.tabIndex = 0;
      cells[next]!.focus();
      current = next;
    });
    calendar.append(grid, h('p.legend', {}, `${perDay.size} days with something between ${localDay(start)} and ${localDay(end)} (${tz}); darker: more that day. Hover or focus a day for what it holds.`));
  }

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
