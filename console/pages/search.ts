// Search across everything (/v1/search): items, mail, places, contacts, events, documents, photos,
// measurements, ranked together. Each result links to where it can be seen whole.
import { getJson } from '../api.js';
import { errorText, formatDateTime, h, localDay, plural, status } from '../dom.js';

interface Result {
  type: string;
  id: string;
  at: string | null;
  title: string | null;
  snippet: string | null;
  source: string;
  score: number;
}

function linkOf(result: Result): string | null {
  switch (result.type) {
    case 'messages':
      return `#/mail/${result.id}`;
    case 'photos':
      return `#/photos/${result.id}`;
    default:
      return result.at ? `#/day/${localDay(new Date(result.at))}` : null;
  }
}

const TYPE_NAMES: Record<string, string> = { messages: 'mail', photos: 'photo', items: 'activity', places: 'place', contacts: 'contact', events: 'event', documents: 'document', measurements: 'measurement' };

export async function searchPage(main: HTMLElement, args: string[], signal: AbortSignal) {
  const input = h('input#q', { type: 'search', name: 'q', value: args[0] ?? '', required: true, 'aria-label': 'Search', placeholder: 'Search everything' });
  const note = status();
  const results = h('ol.results', { 'aria-label': 'Results' });
  const more = h('button', { type: 'button', hidden: true }, 'More results');
  const form = h('form.search', { role: 'search' }, input, h('button', { type: 'submit' }, 'Search'));
  main.append(h('div.search-page', {}, h('div.toolbar', {}, h('h1', {}, 'Search'), form), note, results, more));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const q = input.value.trim();
    if (q) location.hash = `#/search/${encodeURIComponent(q)}`;
  });

  let cursor: string | undefined;
  const load = async (q: string) => {
    note.textContent = 'Searching…';
    try {
      const page = await getJson<{ results: Result[]; next_cursor: string | null }>('/v1/search', { q, limit: 50, cursor }, signal);
      for (const result of page.results) {
        const link = linkOf(result);
        const title = result.title ?? '(untitled)';
        results.append(
          h(
            'li.result',
            { 'data-type': result.type },
            h('span.kind', {}, TYPE_NAMES[result.type] ?? result.type),
            link ? h('a.title', { href: link }, title) : h('span.title', {}, title),
            result.at ? h('time', { datetime: result.at }, formatDateTime(result.at)) : null,
            result.snippet ? h('p.snippet', {}, result.snippet) : null,
          ),
        );
      }
      cursor = page.next_cursor ?? undefined;
      more.hidden = !cursor;
      note.textContent = results.children.length ? `${plural(results.children.length, 'result')}${cursor ? ' so far' : ''} for “${q}”.` : `Nothing found for “${q}”.`;
    } catch (error) {
      note.textContent = errorText(error);
    }
  };
  more.addEventListener('click', () => void load(input.value.trim()));
  if (args[0]) await load(args[0]);
  else input.focus();
}
