// Every registered source with its parser loaded, for tests, benchmarks and the fuzzer, which
// look at all of them at once. The importer itself goes through the registry (registry.ts) and
// loads only the parsers it needs: nothing under src/ imports this module.
import { loadParser, type Probe, type Source } from '../source.js';
import { detectSource as detectAmong, REGISTRY } from './registry.js';

export const SOURCES: readonly Source[] = await Promise.all(REGISTRY.map((entry) => loadParser(entry.parser)));

/** registry.ts's detectSource over `sources`, every registered source by default. */
export function detectSource(probe: Probe, sources: readonly Source[] = SOURCES, trustName = true): Source | null {
  return detectAmong(probe, sources, trustName);
}
