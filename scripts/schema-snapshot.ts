// Rewrite src/db/schema-snapshot.txt from a freshly migrated embedded database.
// Run after adding a migration: `npm run schema:snapshot`; review and commit the diff.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config/config.js';
import { schemaSnapshot, SNAPSHOT_FILE } from '../src/db/snapshot.js';
import { Lake } from '../src/lake.js';

const dataDir = await mkdtemp(path.join(os.tmpdir(), 'lake-snapshot-'));
const lake = await Lake.open(loadConfig({ LAKE_DATA_DIR: dataDir }), { inMemory: true });
try {
  await writeFile(SNAPSHOT_FILE, await schemaSnapshot(lake.db));
  console.log(`wrote ${SNAPSHOT_FILE.pathname}`);
} finally {
  await lake.close();
  await rm(dataDir, { recursive: true, force: true });
}
