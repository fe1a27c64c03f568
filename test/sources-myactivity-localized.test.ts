// My Activity HTML in other languages (issue 13 defect 1): a page Takeout wrote for a Spanish,
// German, Japanese... account is recognised by its structure whatever its name and folder, and
// its action words, captions and dates are read in its language. One page per language in
// fixtures/myactivity-localized/ (written here from the real markup; the expected instants below
// were worked out by hand from the local time and the zone's offset), the three real localized
// pages in ../shared when they are there, and the import on either backend.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type { ItemRecord, ParseEvent, Rejection, RepairCounts } from '../src/ingest/records.js';
import { runImport } from '../src/ingest/runner.js';
import type { Probe } from '../src/ingest/source.js';
import { detectSource } from '../src/ingest/sources/all.js';
import { myActivityHtmlSource } from '../src/ingest/sources/google/my-activity/html.js';
import { canonicalAction } from '../src/ingest/sources/google/my-activity/kinds.js';
import { ACTIVITY_LOCALES, captionLabel, languagesOfTitle, type ActivityLanguage } from '../src/ingest/sources/google/my-activity/locales.js';
import { parseActivityDate, parseActivityDateIn } from '../src/ingest/sources/google/takeout-dates.js';
import { createUser, openTestLake, type TestLake } from './support/lake.js';

const FIXTURES = new URL('./fixtures/myactivity-localized/', import.meta.url);
const REAL_DIR = new URL('../../shared/fixtures/real/google-myactivity-html-localized/', import.meta.url);
const REAL_ABSENT = '../shared/fixtures/real is absent (a fresh clone has no shared folder)';

const read = (name: string): Buffer => readFileSync(new URL(name, FIXTURES));

interface Run {
  records: ItemRecord[];
  offsets: number[];
  rejections: Rejection[];
  events: ParseEvent[];
}

async function run(bytes: Buffer, name: string, chunkSize = 64 * 1024): Promise<Run> {
  const repairs: RepairCounts = { invalidUtf8: 0, nulCharacters: 0 };
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += chunkSize) chunks.push(bytes.subarray(at, at + chunkSize));
  const events: ParseEvent[] = [];
  for await (const event of myActivityHtmlSource.parse(Readable.from(chunks), { path: name, repairs })) events.push(event);
  return {
    events,
    records: events.flatMap((event) => (event.kind === 'record' ? [event.record as ItemRecord] : [])),
    offsets: events.flatMap((event) => (event.kind === 'record' ? [event.offset] : [])),
    rejections: events.flatMap((event) => (event.kind === 'reject' ? [event.rejection] : [])),
  };
}

/** Byte offsets of every `<div class="outer-cell`, found without the parser. */
function outerCellOffsets(bytes: Buffer): number[] {
  const offsets: number[] = [];
  const needle = Buffer.from('<div class="outer-cell');
  for (let at = bytes.indexOf(needle); at !== -1; at = bytes.indexOf(needle, at + 1)) offsets.push(at);
  return offsets;
}

const probe = (bytes: Buffer, filePath: string): Probe => ({ path: filePath, head: bytes.subarray(0, 64 * 1024), size: bytes.length });

/** The page with its style sheet grown past the 64 KiB probe, as Takeout's (about 140 KB) is. */
function withTakeoutSizedStyle(bytes: Buffer): Buffer {
  const text = bytes.toString('utf8');
  const rule = '.mdl-layout__drawer .mdl-navigation__link{padding:10px 24px;color:#424242}\n';
  return Buffer.from(text.replace('</style>', `${rule.repeat(Math.ceil((100 * 1024) / rule.length))}</style>`));
}

type Expected = [kind: string, occurredAt: string, utcOffsetMinutes: number, title: string, action: string];

// Per language: the entries read, then the quarantined ones (category, the date line as written).
const EXPECTED: Record<ActivityLanguage & string, { records: Expected[]; rejections: Array<[Rejection['category'], string]> }> = {
  en: { records: [], rejections: [] },
  es: {
    records: [
      ['video_search', '2022-01-21T23:07:31.000Z', 60, 'gatos', 'Has buscado'],
      ['page_visit', '2023-09-03T12:05:09.000Z', 120, 'Recetas de cocina', 'Has visitado'],
      ['video_watch', '2024-03-02T19:12:33.000Z', -180, 'Cómo hacer pan', 'Viste'],
      ['map_search', '2020-06-17T13:43:17.000Z', -300, 'café', 'Has buscado'],
    ],
    rejections: [
      ['unsupported', '12 dic 2021, 12:00:00 a. m. CST'],
      ['invalid', '31 abr 2022, 10:00:00 CET'],
    ],
  },
  ca: {
    records: [
      ['video_search', '2024-03-22T21:55:41.000Z', 0, 'gats', 'Has cercat'],
      ['video_watch', '2023-10-31T05:17:36.000Z', 60, 'Castells', 'Has vist'],
      ['page_visit', '2024-02-05T07:00:00.000Z', 120, 'Canal', 'Has visitat'],
      ['video_search', '2023-08-01T22:59:59.000Z', 60, 'estiu', 'Has cercat'],
    ],
    rejections: [['unsupported', '22 de març 2024, 21:55:41 ART']],
  },
  fr: {
    records: [
      ['video_watch', '2020-04-01T16:32:09.000Z', 0, 'Les volcans', 'Vous avez regardé'],
      ['search', '2020-03-30T07:05:00.000Z', 120, 'crêpes', 'Vous avez recherché'],
      ['video_watch', '2019-12-31T22:00:00.000Z', 60, 'la story de Seeker', 'Vous avez regardé'],
      ['video_watch', '2022-01-22T21:32:09.000Z', -300, 'Hockey', 'Vous avez regardé'],
      ['search', '2017-02-07T23:32:36.000Z', 60, 'météo', 'Vous avez recherché'],
    ],
    rejections: [['unsupported', '8 févr. 2017 à 00:32:36 IST']],
  },
  de: {
    records: [
      ['search', '2022-01-21T23:07:31.000Z', 60, 'kaffee', 'Gesucht nach:'],
      ['page_visit', '2025-01-13T07:38:09.000Z', 60, 'Schnee – Glossar', 'aufgerufen'],
      ['video_watch', '2023-07-01T12:00:00.000Z', 120, 'Brot backen', 'angesehen'],
      ['search', '2022-03-03T08:05:00.000Z', 60, 'wetter', 'Gesucht nach:'],
    ],
    rejections: [['unsupported', '22.01.2022, 00:07:31 CST']],
  },
  it: {
    records: [
      ['video_search', '2022-01-21T23:07:31.000Z', 60, 'gatti', 'Hai cercato'],
      ['video_watch', '2023-08-05T07:15:00.000Z', 120, 'Pizza napoletana', 'Hai guardato'],
      ['page_visit', '2021-03-15T17:30:00.000Z', 60, 'Ricette', 'Hai visitato'],
    ],
    rejections: [['unsupported', '1 set 2022, 07:00:00 BST']],
  },
  pt: {
    records: [
      ['video_search', '2022-01-22T03:07:31.000Z', -180, 'gatos', 'Pesquisou'],
      ['video_watch', '2019-02-03T23:00:00.000Z', -120, 'Samba', 'Assistiu'],
      ['page_visit', '2023-11-05T10:00:00.000Z', 0, 'Receitas', 'Visitou'],
    ],
    rejections: [['unsupported', '22 de jan. de 2022 00:07:31 AMT']],
  },
  nl: {
    records: [
      ['search', '2022-01-21T23:07:31.000Z', 60, 'fiets', 'Gezocht naar'],
      ['video_watch', '2023-03-07T07:01:02.000Z', 60, 'Molens', 'Bekeken'],
      ['page_visit', '2022-05-14T21:30:00.000Z', 120, 'Recepten', 'Bezocht'],
    ],
    rejections: [['unsupported', '22 jan. 2022 00:07:31 AST']],
  },
  pl: {
    records: [
      ['search', '2022-01-21T23:07:31.000Z', 60, 'pierogi', 'Wyszukano'],
      ['video_watch', '2023-10-03T07:05:00.000Z', 120, 'Kraków', 'Obejrzano'],
      ['page_visit', '2021-07-14T16:00:00.000Z', 120, 'Przepisy', 'Odwiedzono'],
      ['search', '2023-11-05T09:00:00.000Z', 60, 'bigos', 'Wyszukano'],
    ],
    rejections: [['unsupported', '22 sty 2022, 00:07:31 EST']],
  },
  ru: {
    records: [
      ['search', '2022-01-21T21:07:31.000Z', 180, 'кошки', 'Вы искали'],
      ['video_watch', '2023-05-03T18:00:00.000Z', 180, 'Балет', 'Вы посмотрели'],
      ['page_visit', '2021-07-14T04:00:00.000Z', 300, 'Рецепты', 'Вы посетили'],
      ['search', '2022-09-01T09:00:00.000Z', 180, 'погода', 'Вы искали'],
    ],
    rejections: [['unsupported', '22 янв. 2022 г., 0:07:31 EST']],
  },
  tr: {
    records: [
      ['search', '2022-01-21T21:07:31.000Z', 180, 'kediler', 'için arama yapıldı'],
      ['video_watch', '2023-02-03T06:05:00.000Z', 180, 'Kapadokya', 'izlendi'],
      ['page_visit', '2015-07-14T18:00:00.000Z', 180, 'Tarifler', 'ziyaret edildi'],
    ],
    rejections: [['unsupported', '1 Ağu 2022 12:00:00 IST']],
  },
  ja: {
    records: [
      ['search', '2022-01-21T15:07:31.000Z', 540, '猫', 'を検索しました'],
      ['video_watch', '2023-10-05T12:15:00.000Z', 540, '富士山', 'を視聴しました'],
      ['page_visit', '2021-07-04T06:05:09.000Z', 540, '料理', 'にアクセスしました'],
    ],
    rejections: [['unsupported', '2022/01/22 0:07:31 CST']],
  },
  ko: {
    records: [
      ['search', '2022-01-21T15:07:31.000Z', 540, '고양이', '을(를) 검색했습니다'],
      ['video_watch', '2023-10-05T12:15:00.000Z', 540, '서울 여행', '을(를) 시청했습니다'],
      ['page_visit', '2021-07-04T03:30:00.000Z', 540, '요리', '을(를) 방문했습니다'],
    ],
    rejections: [['invalid', '2022. 1. 22. 오후 13:07:31 KST']],
  },
  'zh-CN': {
    records: [
      ['search', '2022-01-21T16:07:31.000Z', 480, '猫', '搜索了'],
      ['video_watch', '2023-10-05T13:15:00.000Z', 480, '长城', '观看了'],
      ['page_visit', '2021-07-03T16:30:00.000Z', 480, '菜谱', '访问了'],
    ],
    rejections: [['unsupported', '2022年1月22日 00:07:31 PST']],
  },
  'zh-TW': {
    records: [
      ['search', '2022-01-21T16:07:31.000Z', 480, '貓', '搜尋了'],
      ['video_watch', '2023-10-05T13:15:00.000Z', 480, '九份', '觀看了'],
      ['page_visit', '2021-07-04T04:30:00.000Z', 480, '食譜', '造訪了'],
    ],
    rejections: [['unsupported', '2022年1月22日 上午12:07:31 EST']],
  },
  sv: {
    records: [
      ['search', '2022-01-21T23:07:31.000Z', 60, 'kanelbulle', 'Sökte efter'],
      ['video_watch', '2023-03-05T08:15:00.000Z', 60, 'Midsommar', 'Tittade på'],
      ['page_visit', '2021-07-04T13:05:09.000Z', 120, 'Recept', 'Besökte'],
    ],
    rejections: [['unsupported', '22 jan. 2022 00:07:31 MSK']],
  },
  id: {
    records: [
      ['search', '2022-01-21T17:07:31.000Z', 420, 'kucing', 'Menelusuri'],
      ['video_watch', '2023-08-05T01:15:00.000Z', 480, 'Bali', 'Menonton'],
      ['page_visit', '2021-07-04T06:05:09.000Z', 540, 'Resep', 'Mengunjungi'],
    ],
    rejections: [['unsupported', '22 Jan 2022 00.07.31 CST']],
  },
};

const FIXTURE_LANGUAGES = ACTIVITY_LOCALES.map((locale) => locale.language).filter((language) => language !== 'en');

describe('localized My Activity dates', () => {
  test('each language reads its own forms: unpadded hours, 12-hour markers, month forms, connectors, zones', async (ctx) => {
    const cases: Array<[ActivityLanguage, string, string, number]> = [
      ['es', '17 jun. 2020 18:24:28 ECT', '2020-06-17T23:24:28.000Z', -300],
      ['es', '22 ene 2022, 0:07:31 CET', '2022-01-21T23:07:31.000Z', 60],
      ['es', '2 mar 2024, 4:12:33 a.m. GMT-03:00', '2024-03-02T07:12:33.000Z', -180],
      ['es', '1 sept 2021 12:30:00 p. m. COT', '2021-09-01T17:30:00.000Z', -300],
      ['ca', '31 d’oct. 2023, 19:34:02 WET', '2023-10-31T19:34:02.000Z', 0],
      ['ca', '22 de gen. 2024, 6:00:00 CET', '2024-01-22T05:00:00.000Z', 60],
      ['fr', '1 avr. 2020 à 16:32:09 UTC', '2020-04-01T16:32:09.000Z', 0],
      ['fr', '22 janv. 2022, 16 h 32 min 09 s HAE', '2022-01-22T20:32:09.000Z', -240],
      ['de', '22.01.2022, 00:07:31 MEZ', '2022-01-21T23:07:31.000Z', 60],
      ['de', '22. März 2022 um 9:07:31 MESZ', '2022-03-22T07:07:31.000Z', 120],
      ['it', '22 gen 2022, 00:07:31 CET', '2022-01-21T23:07:31.000Z', 60],
      ['pt', '22 de jan. de 2022 00:07:31 BRT', '2022-01-22T03:07:31.000Z', -180],
      ['nl', '22 jan. 2022 00:07:31 CET', '2022-01-21T23:07:31.000Z', 60],
      ['pl', '22 sty 2022, 00:07:31 CET', '2022-01-21T23:07:31.000Z', 60],
      ['ru', '22 янв. 2022 г., 0:07:31 MSK', '2022-01-21T21:07:31.000Z', 180],
      ['ru', '22 янв. 2022 г., 0:07:31 МСК', '2022-01-21T21:07:31.000Z', 180],
      ['tr', '22 Oca 2022 00:07:31 TRT', '2022-01-21T21:07:31.000Z', 180],
      ['tr', '22 ŞUB 2022 00:07:31 TRT', '2022-02-21T21:07:31.000Z', 180],
      ['ja', '2022/01/22 0:07:31 JST', '2022-01-21T15:07:31.000Z', 540],
      ['ja', '2022/01/22 午前0:07:31 JST', '2022-01-21T15:07:31.000Z', 540],
      ['ko', '2022. 1. 22. 오후 12:07:31 KST', '2022-01-22T03:07:31.000Z', 540],
      ['zh-CN', '2022年1月22日 下午3:07:31 CST', '2022-01-22T07:07:31.000Z', 480],
      ['zh-CN', '2022年1月22日 晚上11:07:31 GMT+8', '2022-01-22T15:07:31.000Z', 480],
      ['zh-TW', '2022/1/22 凌晨12:07:31 CST', '2022-01-21T16:07:31.000Z', 480],
      ['sv', '22 jan. 2022 kl. 00:07:31 CET', '2022-01-21T23:07:31.000Z', 60],
      ['id', '22 Jan 2022 pukul 00.07.31 WIB', '2022-01-21T17:07:31.000Z', 420],
    ];
    for (const [language, text, iso, offset] of cases) {
      await ctx.test(`${language}: ${text}`, () => {
        const parsed = parseActivityDateIn(text, [language]);
        assert.ok(parsed.ok, `${language}: ${text}: ${parsed.ok ? '' : parsed.reason}`);
        assert.deepEqual([parsed.date.toISOString(), parsed.utcOffsetMinutes, parsed.zoneStated], [iso, offset, true], `${language}: ${text}`);
      });
    }
  });

  test('zones: read only where Takeout prints them for the language, with that offset; ambiguous ones quarantined', () => {
    const offset = (text: string, languages: ActivityLanguage[]) => {
      const parsed = parseActivityDateIn(text, languages);
      return parsed.ok ? parsed.utcOffsetMinutes : parsed.category;
    };
    // ECT is Ecuador's (-05:00) on a Spanish page, nothing elsewhere (Java's old ID "ECT" was Paris).
    assert.equal(offset('17 jun. 2020 18:24:28 ECT', ['es']), -300);
    assert.equal(offset('17 Jun 2020, 18:24:28 ECT', ['en']), 'unsupported');
    assert.equal(offset('17 juin 2020 à 18:24:28 ECT', ['fr']), 'unsupported');
    // CST: US Central on an English page, China on a Chinese one, unread on a Spanish one (Mexico
    // -06:00, Cuba -05:00); without a known language a line both English and Spanish write is refused.
    assert.equal(offset('22 Jun 2022, 0:07:31 CST', ['en']), -360);
    assert.equal(offset('2022年6月22日 0:07:31 CST', ['zh-CN']), 480);
    assert.equal(offset('22 jun 2022, 0:07:31 CST', ['es']), 'unsupported');
    const contested = parseActivityDateIn('22 jun 2022, 0:07:31 CST', ['en', 'es']);
    assert.ok(!contested.ok);
    assert.match(contested.reason, /CST.*different offsets/);
    // IST (India, Ireland, Israel), BST outside English, AMT (Amazon, Armenia): in no table.
    for (const [text, language] of [
      ['1 Ağu 2022 12:00:00 IST', 'tr'],
      ['1 set 2022, 07:00:00 BST', 'it'],
      ['22 de jan. de 2022 00:07:31 AMT', 'pt'],
    ] as Array<[string, ActivityLanguage]>) {
      const parsed = parseActivityDateIn(text, [language]);
      assert.ok(!parsed.ok && parsed.category === 'unsupported', text);
      assert.ok(!parsed.ok && parsed.reason.includes(JSON.stringify(text)), 'the reason quotes the line');
    }
    // A name read in every language: read alike by all that read it.
    const cet = parseActivityDateIn('22 Jan 2022 00:07:31 CET', ACTIVITY_LOCALES.map((locale) => locale.language));
    assert.ok(cet.ok);
    assert.equal(cet.date.toISOString(), '2022-01-21T23:07:31.000Z');
    assert.deepEqual(cet.languages, ['en', 'de', 'nl', 'sv']);
  });

  test('no zone: read as UTC with zoneStated false, as English legacy exports; another language or word order is unsupported', () => {
    const parsed = parseActivityDateIn('17 jun. 2015 8:43:17', ['es']);
    assert.ok(parsed.ok);
    assert.deepEqual([parsed.date.toISOString(), parsed.zoneStated], ['2015-06-17T08:43:17.000Z', false]);
    for (const [text, language] of [
      ['22 janv. 2022 00:07:31 CET', 'es'],
      ['Jan 22, 2022, 12:07:31 AM CET', 'de'],
      ['22.01.2022, 00:07:31 MEZ', 'ja'],
      ['2022/01/22 0:07:31 JST', 'de'],
    ] as Array<[string, ActivityLanguage]>) {
      const result = parseActivityDateIn(text, [language]);
      assert.ok(!result.ok && result.category === 'unsupported', `${language}: ${text}`);
    }
    // English stays English: the English reader does not take other languages' lines.
    assert.equal(parseActivityDate('22.01.2022, 00:07:31 MEZ').ok, false);
    for (const text of ['31 abr 2022, 10:00:00 CET', '29 feb 2023, 10:00:00 CET', '22 ene 2022, 24:00:00 CET', '22 ene 2022, 13:00:00 p. m. CET']) {
      const result = parseActivityDateIn(text, ['es']);
      assert.ok(!result.ok && result.category === 'invalid', text);
    }
  });

  test('a month form means the same month in every language that has it, so reading without a known language cannot swap months', () => {
    const meaning = new Map<string, { month: number; language: string }>();
    for (const locale of ACTIVITY_LOCALES) {
      assert.ok(locale.months.length === 0 || locale.months.length === 12, locale.language);
      locale.months.forEach((forms, month) => {
        for (const form of forms) {
          const seen = meaning.get(form);
          assert.ok(seen === undefined || seen.month === month, `${form}: month ${month + 1} in ${locale.language}, ${(seen?.month ?? 0) + 1} in ${seen?.language}`);
          meaning.set(form, { month, language: locale.language });
        }
      });
    }
  });
});

describe('localized My Activity words', () => {
  test('titles, caption labels and action words', () => {
    assert.deepEqual(languagesOfTitle('Mi historial de actividad'), ['es']);
    assert.deepEqual(languagesOfTitle("Mon historique d'activité"), ['fr']);
    assert.deepEqual(languagesOfTitle('Some page'), []);
    assert.deepEqual(captionLabel('Productos:'), { label: 'Products', languages: ['es'] });
    assert.deepEqual(captionLabel('Produits\u00a0:'), { label: 'Products', languages: ['fr'] });
    assert.deepEqual(captionLabel('产品：'), { label: 'Products', languages: ['zh-CN'] });
    assert.deepEqual(captionLabel('Details:'), { label: 'Details', languages: ['en', 'de', 'nl'] });
    assert.equal(captionLabel('Per què és aquí aquesta activitat?')?.label, 'Why is this here?');
    assert.equal(captionLabel('Irgendwas:'), null);
    assert.equal(canonicalAction('YouTube', 'Watched or Viewed'), 'Watched');
    assert.equal(canonicalAction('Maps', 'Watched or Viewed'), 'Viewed');
    assert.equal(canonicalAction('YouTube', 'Searched for'), 'Searched for');
  });
});

describe('localized My Activity pages (fixtures)', () => {
  for (const language of FIXTURE_LANGUAGES) {
    test(`${language}: every entry an item or a quarantine entry with its date text`, async () => {
      const bytes = read(`${language}.html`);
      const result = await run(bytes, `${language}.html`);
      const expected = EXPECTED[language];
      assert.deepEqual(
        result.records.map((record) => [record.kind, record.occurredAt.toISOString(), record.utcOffsetMinutes, record.title, record.attributes?.action]),
        expected.records,
      );
      assert.deepEqual(
        result.rejections.map((rejection) => [rejection.category, rejection.excerpt]),
        expected.rejections,
      );
      // Every outer-cell is accounted for, at its own offset.
      const offsets = [...result.offsets, ...result.rejections.map((rejection) => rejection.byteOffset as number)].sort((a, b) => a - b);
      assert.deepEqual(offsets, outerCellOffsets(bytes));
      for (const record of result.records) {
        assert.equal(record.attributes?.displayLanguage, language);
        assert.equal(record.attributes?.zoneStated, true);
        assert.deepEqual(record.attributes?.products, [record.attributes?.header]);
      }
      // The channel line of the watched video is its subtitle.
      const watched = result.records.find((record) => record.kind === 'video_watch');
      assert.equal((watched?.attributes?.subtitles as Array<{ url: string }> | undefined)?.at(-1)?.url.startsWith('https://www.youtube.com/channel/UC'), true);
      // 1-byte and 7-byte chunks give the same events.
      assert.deepEqual(await run(bytes, `${language}.html`, 1), result);
      assert.deepEqual(await run(bytes, `${language}.html`, 7), result);
    });
  }

  test('details read per language: redirects unwrapped, locations with coordinates, "Why is this here?" under its English name', async () => {
    const es = await run(read('es.html'), 'es.html');
    assert.equal(es.records[1]?.url, 'https://example.org/recetas');
    assert.deepEqual(es.records[1]?.attributes?.captions, { 'Why is this here?': ['Esta actividad se ha guardado en tu cuenta de Google >>.'] });
    assert.deepEqual([es.records[3]?.lat, es.records[3]?.lon], [-0.180653, -78.467834]);
    assert.equal((es.records[3]!.attributes!.locations as Array<{ text: string }>)[0]?.text, 'En esta zona general');
    const de = await run(read('de.html'), 'de.html');
    assert.deepEqual([de.records[0]?.lat, de.records[0]?.lon], [49.493809, 8.465942]);
    assert.equal(de.records[1]?.url, 'https://example.org/schnee');
    assert.deepEqual(de.records[0]?.attributes?.products, ['Google Suche']);
    const ca = await run(read('ca.html'), 'ca.html');
    // The ad line ("Mirat a les") stays a line of its own, before the channel.
    assert.deepEqual(
      (ca.records[1]!.attributes!.subtitles as Array<{ name: string }>).map((subtitle) => subtitle.name),
      ['Mirat a les 6:17', 'Canal Castells'],
    );
    assert.deepEqual(ca.records[0]?.attributes?.products, ['YouTube'], 'the "why" block is not taken for a product');
  });

  test('the pretty-printed French page: wrapped titles and a date split across lines', async () => {
    const bytes = read('fr-pretty.html');
    const result = await run(bytes, 'watch-history.html');
    assert.deepEqual(result.rejections, []);
    assert.deepEqual(
      result.records.map((record) => [record.kind, record.occurredAt.toISOString(), record.title, record.attributes?.action]),
      [
        ['video_watch', '2020-04-01T16:32:09.000Z', "Les volcans d'Auvergne | Documentaire complet", 'Vous avez regardé'],
        ['video_watch', '2020-03-31T21:04:55.000Z', 'la story de Seeker', 'Vous avez regardé'],
        ['video_watch', '2020-03-30T09:05:00.000Z', 'Recette des crêpes', 'Vous avez regardé'],
      ],
    );
    assert.deepEqual(result.records[0]?.attributes?.subtitles, [{ name: 'Science Étonnante', url: 'https://www.youtube.com/channel/UCfr11' }]);
    assert.deepEqual(result.offsets, outerCellOffsets(bytes));
  });

  test('the page language decides: a known title first, then the caption labels, then the action words, else every language', async () => {
    const page = (title: string, entries: string[]) =>
      Buffer.from(`<html><head><title>${title}</title></head><body><div class="mdl-grid">${entries.join('')}</div></body></html>`);
    const entry = (first: string, date: string, caption: string) =>
      `<div class="outer-cell mdl-cell mdl-cell--12-col mdl-shadow--2dp"><div class="mdl-grid"><div class="header-cell mdl-cell mdl-cell--12-col"><p class="mdl-typography--title">Search<br></p></div><div class="content-cell mdl-cell mdl-cell--6-col mdl-typography--body-1">${first}<br>${date}</div><div class="content-cell mdl-cell mdl-cell--6-col mdl-typography--body-1 mdl-typography--text-right"></div><div class="content-cell mdl-cell mdl-cell--12-col mdl-typography--caption">${caption}</div></div></div>`;
    const cst = '22 Jun 2022, 0:07:31 CST';
    const outcome = async (bytes: Buffer) =>
      (await run(bytes, 'x.html')).events.map((event) =>
        event.kind === 'record' ? [(event.record as ItemRecord).utcOffsetMinutes, (event.record as ItemRecord).attributes?.displayLanguage] : [event.rejection.category],
      );
    // No title, no label, no known action: English and Spanish both write the line and CST means
    // different things, so it is refused; a Products caption makes it English.
    assert.deepEqual(await outcome(page('?', [entry('tea', cst, '')])), [['unsupported']]);
    assert.deepEqual(await outcome(page('?', [entry('tea', cst, '<b>Products:</b><br>&emsp;Search<br>')])), [[-360, 'en']]);
    // The action alone: a Spanish verb makes the line Spanish, where CST is not read.
    assert.deepEqual(await outcome(page('?', [entry('Has buscado\u00a0<a href="https://www.google.com/search?q=t">t</a>', cst, '')])), [['unsupported']]);
    assert.deepEqual(
      await outcome(page('?', [entry('Has buscado\u00a0<a href="https://www.google.com/search?q=t">t</a>', '22 jun 2022, 0:07:31 COT', '')])),
      [[-300, 'es']],
    );
    // A Chinese caption: CST is China's.
    assert.deepEqual(await outcome(page('?', [entry('搜索了 <a href="https://www.google.com/search?q=t">t</a>', '2022年6月22日 0:07:31 CST', '<b>产品：</b><br>&emsp;搜索<br>')])), [[480, 'zh-CN']]);
    // A known title wins over an entry's labels: a German entry on an English page is not read.
    assert.deepEqual(
      await outcome(page('My Activity', [entry('Gesucht nach:\u00a0<a href="https://www.google.com/search?q=t">t</a>', '22.01.2022, 00:07:31 MEZ', '<b>Produkte:</b><br>&emsp;Suche<br>')])),
      [['unsupported']],
    );
  });

  test('a file cut off: after a complete entry nothing is lost; inside a date line that entry is quarantined with its text', async () => {
    const bytes = read('es.html');
    const offsets = outerCellOffsets(bytes);
    // Cut right after the fourth entry closes (no </div></body></html>), as the real Spanish file is.
    const afterFourth = bytes.subarray(0, (offsets[4] as number) - 1);
    const whole = await run(afterFourth, 'cut.html');
    assert.deepEqual(whole.rejections, []);
    assert.equal(whole.records.length, 4);
    // Cut inside the fourth entry's date line ("17 jun. 2020 8:43:17 ECT" → "17 jun. 2020 8:43:17").
    const date = bytes.indexOf(Buffer.from('17 jun. 2020 8:43:17 ECT'));
    const cut = await run(bytes.subarray(0, date + '17 jun. 2020 8:43:17'.length), 'cut.html');
    assert.equal(cut.records.length, 3);
    assert.deepEqual(
      cut.rejections.map((rejection) => [rejection.category, rejection.byteOffset, rejection.excerpt]),
      [['malformed', offsets[3], '17 jun. 2020 8:43:17']],
    );
  });
});

describe('detection by structure', () => {
  test('a localized page with an unknown name in an unknown folder is recognised by its content', () => {
    for (const language of FIXTURE_LANGUAGES) {
      const bytes = read(`${language}.html`);
      assert.equal(myActivityHtmlSource.detect(probe(bytes, `Takeout/Carpeta/${language}-actividad.html`)), 'content', language);
      // Takeout's style sheet pushes the first entry past the probe: the page head is recognised.
      const large = withTakeoutSizedStyle(bytes);
      assert.ok(outerCellOffsets(large)[0]! > 64 * 1024);
      assert.equal(myActivityHtmlSource.detect(probe(large, `Takeout/Carpeta/${language}-actividad.html`)), 'content', language);
      assert.equal(detectSource(probe(large, `Takeout/Mi actividad/YouTube/MiActividad.html`))?.id, 'google.myactivity.html', language);
    }
    const large = withTakeoutSizedStyle(read('fr-pretty.html'));
    assert.equal(myActivityHtmlSource.detect(probe(large, 'Takeout/x/y.html')), 'content');
  });

  test('other HTML is not: no Material Design banner, or a style sheet that ended without entries', () => {
    const page = withTakeoutSizedStyle(read('es.html')).toString('utf8');
    const noBanner = Buffer.from(page.replace('material-design-lite', 'my-own-styles'));
    assert.equal(myActivityHtmlSource.detect(probe(noBanner, 'Takeout/x/y.html')), null);
    const closedWithoutEntries = Buffer.from('<html><head><title>Notes</title><style type="text/css">/**\n * material-design-lite\n */ body {}</style></head><body><p>hello</p></body></html>');
    assert.equal(myActivityHtmlSource.detect(probe(closedWithoutEntries, 'Takeout/x/y.html')), null);
    assert.equal(detectSource(probe(noBanner, 'Takeout/x/y.html'))?.id === 'google.myactivity.html', false);
  });
});

describe('the real localized pages in ../shared', () => {
  // Entries counted with outerCellOffsets (README: es 40, ca 257, fr 57); kinds and first
  // instants read off the files by hand.
  const REAL: Record<string, { entries: number; kinds: Record<string, number>; language: string; first: [string, number] }> = {
    'rmarlon308_es_historial-de-busqueda.html': { entries: 40, kinds: { video_search: 40 }, language: 'es', first: ['2020-06-17T23:24:28.000Z', -300] },
    'Torregu_ca_historial de cerques_excerpt.html': {
      entries: 257,
      kinds: { video_search: 74, video_watch: 182, page_visit: 1 },
      language: 'ca',
      first: ['2024-03-22T21:55:41.000Z', 0],
    },
    'wdescamps_fr_watch-history.html': { entries: 57, kinds: { video_watch: 57 }, language: 'fr', first: ['2020-04-01T16:32:09.000Z', 0] },
  };

  for (const [name, expected] of Object.entries(REAL)) {
    test(name, async (t) => {
      if (!existsSync(new URL(name, REAL_DIR))) {
        t.skip(REAL_ABSENT);
        return;
      }
      const bytes = readFileSync(new URL(name, REAL_DIR));
      assert.equal(myActivityHtmlSource.detect(probe(bytes, `Takeout/Carpeta desconocida/${name}`)), 'content');
      const offsets = outerCellOffsets(bytes);
      assert.equal(offsets.length, expected.entries);
      const result = await run(bytes, name);
      assert.deepEqual(result.rejections, []);
      assert.deepEqual(result.offsets, offsets);
      const kinds: Record<string, number> = {};
      for (const record of result.records) kinds[record.kind] = (kinds[record.kind] ?? 0) + 1;
      assert.deepEqual(kinds, expected.kinds);
      assert.ok(result.records.every((record) => record.attributes?.displayLanguage === expected.language && record.attributes?.zoneStated === true));
      assert.deepEqual([result.records[0]?.occurredAt.toISOString(), result.records[0]?.utcOffsetMinutes], expected.first);
      if (expected.language === 'es') {
        // The uploader cut the file after its 40th entry: no closing tags, nothing lost.
        assert.ok(!bytes.toString('latin1').trimEnd().endsWith('</html>'));
      }
      if (expected.language === 'ca') {
        // The excerpt was chosen so that all twelve month forms appear: all twelve read.
        const localMonths = new Set(result.records.map((record) => new Date(record.occurredAt.getTime() + (record.utcOffsetMinutes ?? 0) * 60_000).getUTCMonth()));
        assert.equal(localMonths.size, 12);
      }
      assert.deepEqual(await run(bytes, name, 4096), result);
    });
  }
});

describe('import of localized pages', () => {
  let t: TestLake;
  let dir: string;
  before(async () => {
    t = await openTestLake();
    dir = await mkdtemp(path.join(os.tmpdir(), 'lake-myactivity-localized-'));
  });
  after(async () => {
    await t.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  test('every language through lake import: items and quarantine entries with their text, names and folders unknown', async () => {
    const user = await createUser(t.lake, 'localized');
    const root = path.join(dir, 'fixtures');
    const placed = new Map<string, ActivityLanguage>();
    for (const language of FIXTURE_LANGUAGES) {
      // Localized names the registry does not know; Takeout-sized style sheets for half of them.
      const relative = path.join('Takeout', `Actividad ${language}`, 'YouTube', `Actividad-${language}.html`);
      const bytes = FIXTURE_LANGUAGES.indexOf(language) % 2 === 0 ? withTakeoutSizedStyle(read(`${language}.html`)) : read(`${language}.html`);
      await mkdir(path.dirname(path.join(root, relative)), { recursive: true });
      await writeFile(path.join(root, relative), bytes);
      placed.set(relative.split(path.sep).join('/'), language);
    }
    const report = await runImport(t.lake.db, { userId: user, inputs: [root], batchSize: 7, blobs: t.lake.blobs });
    assert.equal(report.files.length, FIXTURE_LANGUAGES.length);
    for (const file of report.files) {
      const language = [...placed].find(([relative]) => file.path.endsWith(relative))?.[1];
      assert.ok(language, file.path);
      const expected = EXPECTED[language];
      const quarantined: Record<string, number> = {};
      for (const [category] of expected.rejections) quarantined[category] = (quarantined[category] ?? 0) + 1;
      assert.deepEqual([file.format, file.status, file.records, file.quarantined], ['google.myactivity.html', 'done', expected.records.length, quarantined], file.path);
    }

    const items = await t.lake.db.asUser(user, (tx) =>
      tx.query<{ language: string; kind: string; occurred_at: Date; utc_offset_minutes: number; title: string }>(
        `SELECT attributes->>'displayLanguage' AS language, kind, occurred_at, utc_offset_minutes, title
           FROM user_data.items WHERE source = 'google.myactivity.html' ORDER BY 1, occurred_at`,
      ),
    );
    const stored = new Map<string, string[]>();
    for (const row of items.rows) {
      (stored.get(row.language) ?? stored.set(row.language, []).get(row.language)!).push(
        `${row.kind} ${row.occurred_at.toISOString()} ${row.utc_offset_minutes} ${row.title}`,
      );
    }
    for (const language of FIXTURE_LANGUAGES) {
      const expected = EXPECTED[language].records
        .map(([kind, iso, offset, title]) => `${kind} ${iso} ${offset} ${title}`)
        .sort((a, b) => a.split(' ')[1]!.localeCompare(b.split(' ')[1]!));
      assert.deepEqual(stored.get(language), expected, language);
    }

    const quarantine = await t.lake.db.asUser(user, (tx) =>
      tx.query<{ entry: string; category: string; excerpt: string; reason: string; byte_offset: string }>(
        'SELECT entry, category, excerpt, reason, byte_offset FROM imports.quarantine',
      ),
    );
    const byPlace = (a: [string, ...unknown[]], b: [string, ...unknown[]]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
    const expectedQuarantine = [...placed]
      .flatMap(([relative, language]) => EXPECTED[language].rejections.map(([category, excerpt]): [string, string, string] => [relative, category, excerpt]))
      .sort(byPlace);
    const storedQuarantine = quarantine.rows
      .map((row): [string, string, string] => [[...placed.keys()].find((relative) => row.entry.endsWith(relative)) ?? row.entry, row.category, row.excerpt])
      .sort(byPlace);
    assert.deepEqual(storedQuarantine, expectedQuarantine);
    // Each quarantine entry quotes the date line in its reason.
    assert.ok(quarantine.rows.every((row) => row.reason.includes(JSON.stringify(row.excerpt))));
  });

  test('the real Spanish, Catalan and French pages under Takeout folder names the registry does not know', async (t2) => {
    const names = ['rmarlon308_es_historial-de-busqueda.html', 'Torregu_ca_historial de cerques_excerpt.html', 'wdescamps_fr_watch-history.html'];
    if (!names.every((name) => existsSync(new URL(name, REAL_DIR)))) {
      t2.skip(REAL_ABSENT);
      return;
    }
    const user = await createUser(t.lake, 'real-localized');
    const root = path.join(dir, 'real');
    // [where, entries, of which stored again]: the Spanish page holds three entries twice (same
    // search, same second, counted by hand), which the lake keeps once.
    const targets: Record<string, [string, number, number]> = {
      'rmarlon308_es_historial-de-busqueda.html': ['Takeout/Mi actividad/YouTube/MiActividad.html', 40, 3],
      'Torregu_ca_historial de cerques_excerpt.html': ['Takeout/YouTube i YouTube\u00a0Music/historial/historial de cerques.html', 257, 0],
      'wdescamps_fr_watch-history.html': ['Takeout/YouTube et YouTube Music/historique/watch-history.html', 57, 0],
    };
    for (const [name, [relative]] of Object.entries(targets)) {
      await mkdir(path.dirname(path.join(root, relative)), { recursive: true });
      await writeFile(path.join(root, relative), readFileSync(new URL(name, REAL_DIR)));
    }
    const report = await runImport(t.lake.db, { userId: user, inputs: [root], batchSize: 100, blobs: t.lake.blobs });
    for (const [relative, entries, twice] of Object.values(targets)) {
      const file = report.files.find((candidate) => candidate.path.endsWith(relative));
      assert.deepEqual(
        [file?.format, file?.status, file?.records, file?.duplicates, file?.quarantined],
        ['google.myactivity.html', 'done', entries - twice, twice, {}],
        relative,
      );
    }
    const counts = await t.lake.db.asUser(user, (tx) =>
      tx.query<{ language: string; n: number }>(`SELECT attributes->>'displayLanguage' AS language, count(*)::int AS n FROM user_data.items GROUP BY 1 ORDER BY 1`),
    );
    assert.deepEqual(counts.rows.map((row) => [row.language, row.n]), [['ca', 257], ['es', 37], ['fr', 57]]);
  });
});
