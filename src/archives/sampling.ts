// A measuring instrument, off unless ARCHIVE_SAMPLE_PAUSE_ROWS is set (only `npm run bench` does):
// an isolate busy streaming an archive gives its inspector no turn, so a heap sample could only
// fall between a job's steps. With it set, writing and reading back pause for a moment every that
// many rows of a file, mid-stream, with everything in flight held where it is, for the bench's
// sampler to read the live heap there (scripts/bench/export.mjs).

/** How long each pause lasts: a few of the bench's 200 ms samples. */
export const SAMPLE_PAUSE_MS = 500;

let everyRows = 0;

/** Set from the settings by each archive or restore step (0: never pause). */
export function sampleEvery(rows: number) {
  everyRows = rows;
}

/** Pauses if `rows` (a file's rows so far) just passed a multiple of the setting, `added` ago. */
export async function samplePause(rows: number, added: number) {
  if (everyRows > 0 && rows % everyRows < added) await scheduler.wait(SAMPLE_PAUSE_MS);
}
