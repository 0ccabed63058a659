/**
 * Preloaded (`node --import`) into a benchmark's child processes when the parent needs to weigh
 * what is alive in them: on SIGUSR2, full garbage collections, then process.memoryUsage() as JSON
 * into $BENCH_MEMORY_PROBE_FILE (bench/lib/harness.ts probeLiveMemory asks and reads). RSS alone
 * also counts garbage not yet collected and freed pages not yet returned, which can be more than
 * what 2,000 held streams add. Plain JavaScript: it loads before any TypeScript loader is there.
 */
import { writeFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

const file = process.env.BENCH_MEMORY_PROBE_FILE;
if (file) {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc');
  process.on('SIGUSR2', () => {
    // twice: the first one's finalizers can free more
    gc();
    gc();
    writeFileSync(file, JSON.stringify(process.memoryUsage()));
  });
}
