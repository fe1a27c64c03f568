// Throughput of the per-record transformation stage on synthetic item records: normalization,
// validation and language tagging, each alone and all three in a row, as the runner applies them.
//
//   node --import tsx bench/normalize.ts [--records 1000000] [--seed 7]
//
// The mix imitates My Activity data: 40% searches (1-4 words, often too short to tag), 30% page
// visits (4-10 words), 20% video watches (5-12 words and an emoji), 10% notes with a paragraph;
// half English, the rest French, German, Spanish, Russian, Japanese; 2% carry a NUL, 1% a lone surrogate, 2% decomposed
// (NFD) accents. Records are built in batches outside the timed sections (normalization changes
// them in place, so each stage gets fresh copies).
import { parseArgs } from 'node:util';
import type { ItemRecord, RepairCounts } from '../src/ingest/records.js';
import { tagLanguage } from '../src/ingest/transform/language.js';
import { normalizeRecord } from '../src/ingest/transform/normalize.js';
import { validateRecord } from '../src/ingest/validate/validate.js';
import { makeRandom } from './support/random.js';

const { values: args } = parseArgs({
  options: { records: { type: 'string', default: '1000000' }, seed: { type: 'string', default: '7' } },
});
const total = Number(args.records);
const BATCH = 50_000;


// Words per language: titles are random word sequences, so almost every text is distinct and the
// language cache never helps (the worst case).
const VOCABULARY: ReadonlyArray<readonly string[]> = [
  'the weather today is sunny with a chance of rain how to cook pasta fresh tomatoes and basil best review new video official music live'.split(' '),
  'comment réparer un pneu de vélo à la maison sans outils recette facile pour le dîner avec des légumes frais'.split(' '),
  'wie repariert man einen platten Fahrradreifen zu Hause das Wetter ist heute sonnig mit Regen am Abend'.split(' '),
  'cómo reparar una rueda de bicicleta en casa sin herramientas el tiempo hoy es soleado con lluvia por la noche'.split(' '),
  'как починить шину велосипеда дома без инструментов сегодня солнечно вечером возможен дождь'.split(' '),
  '自転車 修理 方法 今日 天気 晴れ 夜 雨 東京 ラーメン 美味しい 作り方'.split(' '),
];
const LANGUAGE_WEIGHTS = [0.5, 0.6, 0.7, 0.8, 0.9, 1];

function pick<T>(random: () => number, list: readonly T[]): T {
  return list[Math.floor(random() * list.length)] as T;
}

function words(random: () => number, min: number, max: number): string {
  const roll = random();
  const vocabulary = VOCABULARY[LANGUAGE_WEIGHTS.findIndex((weight) => roll < weight)] ?? VOCABULARY[0];
  const count = min + Math.floor(random() * (max - min + 1));
  const chosen: string[] = [];
  for (let i = 0; i < count; i++) chosen.push(pick(random, vocabulary as readonly string[]));
  return chosen.join(' ');
}

function makeBatch(random: () => number, count: number, firstIndex: number): ItemRecord[] {
  const records: ItemRecord[] = [];
  for (let i = 0; i < count; i++) {
    const roll = random();
    let kind: string;
    let title: string;
    let text: string | null = null;
    if (roll < 0.4) {
      kind = 'search';
      title = words(random, 1, 4);
    } else if (roll < 0.7) {
      kind = 'page_visit';
      title = `${words(random, 4, 10)} | Example`;
    } else if (roll < 0.9) {
      kind = 'video_watch';
      title = `${words(random, 5, 12)} 🎵`;
    } else {
      kind = 'note';
      title = 'Note';
      text = `${words(random, 10, 20)}. ${words(random, 10, 20)}.`;
    }
    const damage = random();
    if (damage < 0.02) title = `${title}\u0000`;
    else if (damage < 0.03) title = `${title} \ud800`;
    else if (damage < 0.05) title = `${title} Cafe\u0301`;
    records.push({
      type: 'item',
      source: 'bench.synthetic',
      key: ['bench', firstIndex + i],
      kind,
      occurredAt: new Date(1_600_000_000_000 + (firstIndex + i) * 1000),
      utcOffsetMinutes: null,
      title,
      text,
      url: `https://example.org/${firstIndex + i}`,
      attributes: { header: 'Search', products: ['Search'] },
    });
  }
  return records;
}

type Stage = (record: ItemRecord, repairs: RepairCounts) => void;
const stages: Record<string, Stage> = {
  normalize: (record, repairs) => void normalizeRecord(record, repairs),
  validate: (record) => void validateRecord(record),
  language: (record) => tagLanguage(record),
  'normalize+validate+language': (record, repairs) => {
    normalizeRecord(record, repairs);
    const result = validateRecord(record);
    if (result.ok) tagLanguage(result.record);
  },
};

console.log(`${total.toLocaleString('en-US')} synthetic item records, batches of ${BATCH.toLocaleString('en-US')}, Node ${process.version}`);
for (const [name, stage] of Object.entries(stages)) {
  const random = makeRandom(Number(args.seed));
  const repairs: RepairCounts = { invalidUtf8: 0, nulCharacters: 0 };
  let elapsedNs = 0n;
  let tagged = 0;
  for (let done = 0; done < total; done += BATCH) {
    const batch = makeBatch(random, Math.min(BATCH, total - done), done);
    const start = process.hrtime.bigint();
    for (const record of batch) stage(record, repairs);
    elapsedNs += process.hrtime.bigint() - start;
    for (const record of batch) if (record.language != null) tagged++;
  }
  const seconds = Number(elapsedNs) / 1e9;
  const perRecordUs = (seconds / total) * 1e6;
  const extra = name === 'normalize' ? ` repairs ${JSON.stringify(repairs)}` : name === 'language' ? ` tagged ${((tagged / total) * 100).toFixed(1)}%` : '';
  console.log(
    `${name.padEnd(28)} ${Math.round(total / seconds).toLocaleString('en-US').padStart(11)} records/s  ${perRecordUs.toFixed(2).padStart(6)} µs/record${extra}`,
  );
}
console.log(`peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MB`);
