// Mail: the list (/v1/messages, newest first, with a search box) and one message read as text
// (never rendered as HTML), its attachments downloaded with the key through blob: URLs.
import { getJson, request } from '../api.js';
import { errorText, formatDateTime, h, plural, replace, status } from '../dom.js';
import type { Cleanup } from '../main.js';

interface Summary {
  id: string;
  sent_at: string;
  from: string | null;
  to: string[];
  cc: string[];
  subject: string | null;
  labels: string[];
  snippet: string | null;
  attachment_count: number;
}
interface Message extends Summary {
  body: string | null;
  attachments: Array<{ sha256: string; name: string | null; size: number; type: string }>;
}

export async function mailPage(main: HTMLElement, args: string[], signal: AbortSignal): Promise<Cleanup> {
  const urls: string[] = [];
  const q = h('input#mail-q', { type: 'search', 'aria-label': 'Search mail', placeholder: 'Search mail' });
  const form = h('form.search', { role: 'search' }, q, h('button', { type: 'submit' }, 'Find'));
  const list = h('ol.mail-list', { 'aria-label': 'Messages' });
  const more = h('button', { type: 'button', hidden: true }, 'More');
  const reader = h('article.reader', { 'aria-live': 'polite', tabindex: '-1' });
  const note = status('Loading mail…');
  main.append(h('div.mail-page', { 'data-open': args[0] ? 'message' : 'list' }, h('div.toolbar', {}, h('h1', {}, 'Mail'), form), note, h('div.mail-body', {}, h('div.mail-column', {}, list, more), reader)));

  let cursor: string | undefined;
  const load = async (reset: boolean) => {
    if (reset) {
      list.replaceChildren();
      cursor = undefined;
    }
    const page = await getJson<{ messages: Summary[]; next_cursor: string | null }>('/v1/messages', { limit: 50, cursor, q: q.value.trim() || undefined }, signal);
    for (const message of page.messages) {
      list.append(
        h(
          'li',
          { 'aria-current': message.id === args[0] ? 'true' : undefined },
          h(
            'a.mail-row',
            { href: `#/mail/${message.id}` },
            h('span.from', {}, message.from ?? ''),
            h('span.subject', {}, message.subject ?? '(no subject)'),
            message.attachment_count ? h('span.attachment-count', {}, plural(message.attachment_count, 'attachment')) : null,
            h('time', { datetime: message.sent_at }, formatDateTime(message.sent_at)),
          ),
        ),
      );
    }
    cursor = page.next_cursor ?? undefined;
    more.hidden = !cursor;
    note.textContent = list.children.length ? '' : 'No mail.';
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void load(true).catch((error) => (note.textContent = errorText(error)));
  });
  more.addEventListener('click', () => void load(false));

  const show = async (id: string) => {
    try {
      const message = await getJson<Message>(`/v1/messages/${id}`, {}, signal);
      const attachments = h('ul.attachments', {});
      for (const attachment of message.attachments) {
        const button = h('button', { type: 'button' }, `${attachment.name ?? attachment.sha256.slice(0, 12)} (${Math.ceil(attachment.size / 1024)} KiB)`);
        button.addEventListener('click', async () => {
          const blob = await (await request(`/v1/blobs/${attachment.sha256}`)).blob();
          const url = URL.createObjectURL(blob);
          urls.push(url);
          const a = h('a', { href: url, download: attachment.name ?? attachment.sha256 });
          a.click();
        });
        attachments.append(h('li', {}, button));
      }
      replace(reader, 
        h('a.back', { href: '#/mail' }, '← All mail'),
        h('h2', {}, message.subject ?? '(no subject)'),
        h(
          'dl.headers',
          {},
          h('dt', {}, 'From'),
          h('dd', {}, message.from ?? ''),
          h('dt', {}, 'To'),
          h('dd', {}, message.to.join(', ')),
          message.cc.length ? h('dt', {}, 'Cc') : null,
          message.cc.length ? h('dd', {}, message.cc.join(', ')) : null,
          h('dt', {}, 'Date'),
          h('dd', {}, formatDateTime(message.sent_at)),
          message.labels.length ? h('dt', {}, 'Labels') : null,
          message.labels.length ? h('dd', {}, message.labels.join(', ')) : null,
        ),
        h('div.body', {}, message.body ?? ''),
        message.attachments.length ? attachments : null,
      );
      reader.focus();
    } catch (error) {
      replace(reader, h('p.error', {}, errorText(error)));
    }
  };
  await load(true);
  if (args[0]) await show(args[0]);
  else reader.append(h('p.hint', {}, 'Choose a message.'));
  return () => {
    for (const url of urls) URL.revokeObjectURL(url);
  };
}
