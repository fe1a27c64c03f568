/**
 * Records per load transaction unless told otherwise. Each transaction has a cost besides its
 * rows, which smaller batches pay more often; larger ones load hardly faster and hold more memory
 * (measured with Records.json on the server). Batches of large records end earlier
 * (pipeline/batches.ts). In a module of its own so that the command line's help, the API's schema
 * and the job queries read it without loading every importer.
 */
export const DEFAULT_BATCH_SIZE = 10_000;
