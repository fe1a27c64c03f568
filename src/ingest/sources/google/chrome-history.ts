// Chrome browsing history from Google Takeout: `Chrome/BrowserHistory.json` (2017-2022) and its
// successor `Chrome/History.json` (localized, e.g. `Historique.json`), both
//   {"Browser History": [ {page_transition, page_transition_qualifier?, title, url, client_id,
//                          time_usec, favicon_url?, ptoken?} ]}
//
// Each visit becomes an ItemRecord of kind `page_visit`: occurredAt from time_usec (epoch
// microseconds, all six digits stored: occurredAtMicros; the value also stays in attributes.timeUsec
// and in the key), title, url;
// attributes pageTransition, pageTransitionQualifier, clientId, faviconUrl and any other member.
// Key: ['chrome', time_usec, url, client_id] — one visit per device per microsecond per URL.
// Other top-level members of the file (if any) are not read.
import type { ParseEvent } from '../../records.js';
import { defineSource, type Source } from '../../source.js';
import { CHROME_HISTORY } from './entries.js';
import { emit, parseJsonSource, rejectValue } from './json-source.js';
import { instantFromEpochMicros, isObject, stringOf } from './takeout-values.js';

export const CHROME_HISTORY_SOURCE_ID = CHROME_HISTORY.id;

const RENAMED: Readonly<Record<string, string>> = {
  page_transition: 'pageTransition',
  page_transition_qualifier: 'pageTransitionQualifier',
  client_id: 'clientId',
  favicon_url: 'faviconUrl',
  time_usec: 'timeUsec',
};

function itemFromVisit(value: unknown, offset: number): ParseEvent {
  if (!isObject(value)) return rejectValue('invalid', 'a "Browser History" element that is not an object', offset, value);
  const instant = instantFromEpochMicros(value.time_usec);
  if (!instant) return rejectValue('invalid', `browser history entry without a readable time_usec (${JSON.stringify(value.time_usec) ?? 'missing'})`, offset, value);
  const attributes: Record<string, unknown> = {};
  for (const key in value) {
    if (key === 'title' || key === 'url') continue;
    attributes[RENAMED[key] ?? key] = value[key];
  }
  const url = stringOf(value.url);
  return emit(
    {
      type: 'item',
      source: CHROME_HISTORY_SOURCE_ID,
      key: ['chrome', value.time_usec as number | string, url, stringOf(value.client_id)],
      kind: 'page_visit',
      occurredAt: instant.date,
      occurredAtMicros: instant.micros,
      utcOffsetMinutes: null,
      title: stringOf(value.title),
      url,
      attributes,
    },
    offset,
  );
}

export const chromeHistorySource: Source = defineSource(CHROME_HISTORY, {
  parse(input, context) {
    return parseJsonSource(input, context, {
      targets: [{ path: ['Browser History'] }],
      expected: '"Browser History" array',
      onElement: (value, at, out) => out.push(itemFromVisit(value, at.offset)),
    });
  },
});
