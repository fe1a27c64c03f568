// Google Play Store files from Takeout (`Google Play Store/Installs.json`, `Library.json`,
// `Purchase History.json`, `Order History.json`): top-level arrays whose elements wrap one
// entry under a key naming its kind.
//
//   wrapper          kind          occurredAt                                  key
//   install          app_install   firstInstallationTime (else lastUpdateTime) title, type, time, device
//   libraryDoc       library_add   acquisitionTime                             title, type, time
//   purchaseHistory  purchase      purchaseTime                                title, type, time, price
//   orderHistory     order         creationTime                                orderId (else time)
// Times keep their microseconds (`2019-01-05T17:20:31.123456Z`); the key's `time` stays in
// milliseconds, as it was before they were kept. title is doc.title (the app, book, film...); attributes hold doc.documentType and the entry's
// other members (device, lastUpdateTime, invoicePrice, paymentMethodTitle, line items...).
// Deliberately not kept from orders: billing contact and IP address members. Elements under any
// other wrapper (reviews, subscriptions, devices...) are rejected as `unsupported`, naming it.
import type { ParseEvent } from '../../records.js';
import { defineSource, type Source } from '../../source.js';
import { type PLAY_ENTRY_WRAPPERS, PLAY_STORE } from './entries.js';
import { emit, parseJsonSource, rejectValue } from './json-source.js';
import { arrayOf, isObject, parseIsoInstant, stringOf, type Instant } from './takeout-values.js';

export const PLAY_STORE_SOURCE_ID = PLAY_STORE.id;

interface EntryKind {
  kind: string;
  /** Time members, first present wins. */
  timeKeys: readonly string[];
}

/** One per wrapper detection knows (entries.ts), no more, no fewer. */
const ENTRY_KINDS: Readonly<Record<string, EntryKind>> = {
  install: { kind: 'app_install', timeKeys: ['firstInstallationTime', 'lastUpdateTime'] },
  libraryDoc: { kind: 'library_add', timeKeys: ['acquisitionTime'] },
  purchaseHistory: { kind: 'purchase', timeKeys: ['purchaseTime'] },
  orderHistory: { kind: 'order', timeKeys: ['creationTime'] },
} satisfies Record<(typeof PLAY_ENTRY_WRAPPERS)[number], EntryKind>;
/** Order members that identify the payer rather than describe the order. */
const ORDER_MEMBERS_DROPPED = new Set(['billingContact', 'associatedContact', 'ipAddress', 'ipCountry', 'billingInstrument']);

function itemFromEntry(value: unknown, offset: number): ParseEvent {
  const wrapper = isObject(value) ? Object.keys(value)[0] : undefined;
  if (!isObject(value) || wrapper === undefined || !isObject(value[wrapper])) {
    return rejectValue('invalid', 'a Play Store entry that is not an object wrapping one entry', offset, value);
  }
  const entryKind = ENTRY_KINDS[wrapper];
  if (!entryKind) return rejectValue('unsupported', `Play Store "${wrapper}" entries are not imported`, offset, value);
  const entry = value[wrapper] as Record<string, unknown>;
  let instant: Instant | null = null;
  let timeKey: string | null = null;
  for (const key of entryKind.timeKeys) {
    instant = parseIsoInstant(entry[key]);
    if (instant) {
      timeKey = key;
      break;
    }
  }
  if (!instant) return rejectValue('invalid', `Play Store ${wrapper} without a readable ${entryKind.timeKeys.join(' or ')}`, offset, value);

  // Orders list their documents under lineItem[].doc; the others have one doc.
  const lineItems = arrayOf(entry.lineItem).filter(isObject);
  const doc = isObject(entry.doc) ? entry.doc : isObject(lineItems[0]?.doc) ? (lineItems[0].doc as Record<string, unknown>) : {};
  const title = stringOf(doc.title);
  const documentType = stringOf(doc.documentType);
  const attributes: Record<string, unknown> = { documentType };
  if (timeKey !== entryKind.timeKeys[0]) attributes.timeFrom = timeKey;
  for (const key in entry) {
    if (key === 'doc' || key === timeKey || (wrapper === 'orderHistory' && ORDER_MEMBERS_DROPPED.has(key))) continue;
    attributes[key] = entry[key];
  }
  const time = instant.date.getTime();
  let key: (string | number | null)[];
  if (wrapper === 'install') {
    const device = isObject(entry.deviceAttribute) ? entry.deviceAttribute : {};
    key = [entryKind.kind, title, documentType, time, stringOf(device.deviceDisplayName) ?? stringOf(device.model)];
  } else if (wrapper === 'purchaseHistory') {
    key = [entryKind.kind, title, documentType, time, stringOf(entry.invoicePrice)];
  } else if (wrapper === 'orderHistory' && stringOf(entry.orderId) !== null) {
    key = [entryKind.kind, stringOf(entry.orderId)];
  } else {
    key = [entryKind.kind, title, documentType, time];
  }
  return emit(
    {
      type: 'item',
      source: PLAY_STORE_SOURCE_ID,
      key,
      kind: entryKind.kind,
      occurredAt: instant.date,
      occurredAtMicros: instant.micros ?? null,
      utcOffsetMinutes: instant.utcOffsetMinutes,
      title,
      attributes,
    },
    offset,
  );
}

export const playStoreSource: Source = defineSource(PLAY_STORE, {
  parse(input, context) {
    return parseJsonSource(input, context, {
      targets: [{ path: [] }],
      expected: 'top-level array of Play Store entries',
      onElement: (value, at, out) => out.push(itemFromEntry(value, at.offset)),
    });
  },
});
