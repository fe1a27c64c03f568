// Google Location History `Settings.json` (Takeout's Location History folder): the account's
// Location History settings and the devices that reported to it (published shape:
// locationhistoryformat.com, Settings.schema.json):
//   {createdTime, modifiedTime, historyEnabled, retentionWindowDays, hasReportedLocations,
//    hasSetRetention, deviceSettings: [{deviceTag, devicePrettyName, platformType,
//    deviceCreationTime, reportingEnabled, legalCountryCode, androidOsLevel, deviceSpec{...},
//    latestLocationReportingSettingChange{...}}]}
//
//   each deviceSettings entry → an ItemRecord of kind `location_device`, so that the `device` of
//                   the points Records.json gave (its deviceTag) can be named:
//     occurredAt    deviceCreationTime (the device's first report); without one, the account's
//                   createdTime, saying so in attributes.occurredAtFrom
//     title         devicePrettyName, else deviceSpec.model
//     attributes    deviceTag, exactly: the same digits as the points' `device` (a 64-bit tag
//                   keeps every one), and every other member as written
//     key           ['location_device', deviceTag]
//   the other members → one ItemRecord of kind `location_settings` at createdTime.
// Both carry the export's time as their revision (context.exportedAt): a later export's settings
// replace an earlier one's (a device renamed, reporting turned off).
//
// The file is a few KB: it is read whole as one value, bounded by MAX_SETTINGS_BYTES.
import type { ItemRecord, ParseEvent } from '../../../records.js';
import { defineSource, type Source } from '../../../source.js';
import { LOCATION_SETTINGS } from './entries.js';
import { deviceOf } from './records.js';
import { emit, parseJsonSource, rejectValue } from '../json-source.js';
import { isObject, parseIsoInstant, stringOf, type Instant } from '../takeout-values.js';

export const LOCATION_SETTINGS_SOURCE_ID = LOCATION_SETTINGS.id;
export const MAX_SETTINGS_BYTES = 4 * 1024 * 1024;

/** Members of a device entry that are columns or the key; the others are kept in attributes as written. */
const DEVICE_MAPPED = new Set(['deviceTag', 'deviceCreationTime']);

function readSettings(value: unknown, offset: number, exportedAt: Date | null, out: ParseEvent[]): void {
  if (!isObject(value)) {
    out.push(rejectValue('unsupported', 'Location History settings that are not an object', offset, value));
    return;
  }
  const revision = exportedAt?.getTime() ?? null;
  const created = parseIsoInstant(value.createdTime);
  const devices = value.deviceSettings;
  if (devices !== undefined && !Array.isArray(devices)) {
    out.push(rejectValue('invalid', 'deviceSettings is not an array', offset, devices));
  }
  for (const entry of Array.isArray(devices) ? devices : []) {
    const event = deviceItem(entry, created, revision, offset);
    out.push(event);
  }
  const account: Record<string, unknown> = {};
  for (const key in value) if (key !== 'deviceSettings') account[key] = value[key];
  if (!created) {
    out.push(rejectValue('invalid', `Location History settings without a readable createdTime (${JSON.stringify(value.createdTime)}): the account settings are not stored`, offset, account));
    return;
  }
  const record: ItemRecord = {
    type: 'item',
    source: LOCATION_SETTINGS_SOURCE_ID,
    key: ['location_settings'],
    revision,
    kind: 'location_settings',
    occurredAt: created.date,
    utcOffsetMinutes: created.utcOffsetMinutes,
    title: 'Location History settings',
    attributes: account,
  };
  out.push(emit(record, offset));
}

function deviceItem(entry: unknown, accountCreated: Instant | null, revision: number | null, offset: number): ParseEvent {
  if (!isObject(entry)) return rejectValue('invalid', 'a deviceSettings entry that is not an object', offset, entry);
  const { device: tag } = deviceOf(entry.deviceTag);
  const spec = isObject(entry.deviceSpec) ? entry.deviceSpec : {};
  const title = stringOf(entry.devicePrettyName) ?? stringOf(spec.model);
  const named = title !== null ? `device ${JSON.stringify(title)}` : 'a device';
  if (tag === null) return rejectValue('invalid', `${named} without a deviceTag: its points could not be matched to it`, offset, entry);
  const attributes: Record<string, unknown> = { deviceTag: tag };
  for (const key in entry) if (!DEVICE_MAPPED.has(key)) attributes[key] = entry[key];
  let occurred = parseIsoInstant(entry.deviceCreationTime);
  if (!occurred) {
    if (entry.deviceCreationTime !== undefined) attributes.deviceCreationTime = entry.deviceCreationTime;
    if (!accountCreated) {
      return rejectValue('invalid', `${named} (deviceTag ${tag}) has no readable deviceCreationTime (${JSON.stringify(entry.deviceCreationTime)}), nor the file a createdTime`, offset, entry);
    }
    occurred = accountCreated;
    attributes.occurredAtFrom = 'createdTime';
  }
  return emit(
    {
      type: 'item',
      source: LOCATION_SETTINGS_SOURCE_ID,
      key: ['location_device', tag],
      revision,
      kind: 'location_device',
      occurredAt: occurred.date,
      utcOffsetMinutes: occurred.utcOffsetMinutes,
      title,
      attributes,
    },
    offset,
  );
}

export const locationSettingsSource: Source = defineSource(LOCATION_SETTINGS, {
  parse(input, context) {
    return parseJsonSource(input, context, {
      targets: [{ path: [], mode: 'value' }],
      expected: 'Location History settings object',
      maxElementBytes: MAX_SETTINGS_BYTES,
      exactIntegerMembers: ['deviceTag'],
      onElement: (value, at, out) => readSettings(value, at.offset, context.exportedAt ?? null, out),
    });
  },
});
