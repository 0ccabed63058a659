interface Pending<I, O> {
  input: I;
  resolve: (value: O) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit for asynchronous stores: calls are handed to `runBatch` together, so that
 * concurrent requests share one statement, one round trip and one commit instead of paying for
 * one each. A call waits at most for the end of the current turn of the event loop, or, while
 * `maxInFlight` batches are running, for one of them to finish: the calls that arrived meanwhile
 * then go together. Under light load a batch is one call, sent at once.
 *
 * Reads use it too (a herd of devices pulling after a push): a batch is sent only after each of its
 * calls was made, so every caller sees the store as of its own call or later, never older.
 *
 * If a batch fails, each of its calls is retried alone, in order, so one bad input fails only its
 * own caller; with `failTogether` (calls whose inputs cannot be bad, such as lookups by a key the
 * server made) they all get the batch's error at once, so an unreachable database answers a herd of
 * a thousand callers once rather than one after the other.
 */
/** How many batches of reads may run at once on one node (a pool has 10 connections by default). */
export const READ_BATCHES_IN_FLIGHT = 4;

export class WriteBatcher<I, O> {
  private queue: Pending<I, O>[] = [];
  private scheduled = false;
  private inFlight = 0;

  constructor(
    /** returns one output per input, in order */
    private readonly runBatch: (inputs: I[]) => Promise<O[]>,
    private readonly options: { maxBatch?: number; maxInFlight?: number; failTogether?: boolean } = {},
  ) {}

  submit(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.flush();
        });
      }
    });
  }

  private flush(): void {
    const maxInFlight = this.options.maxInFlight ?? 1;
    while (this.queue.length > 0 && this.inFlight < maxInFlight) {
      const batch = this.queue.splice(0, this.options.maxBatch ?? 256);
      this.inFlight++;
      void this.settle(batch).finally(() => {
        this.inFlight--;
        this.flush();
      });
    }
  }

  private async settle(batch: Pending<I, O>[]): Promise<void> {
    try {
      const outputs = await this.runBatch(batch.map((item) => item.input));
      batch.forEach((item, i) => item.resolve(outputs[i]));
    } catch (error) {
      if (batch.length === 1 || this.options.failTogether) return batch.forEach((item) => item.reject(error));
      // one at a time, in the order they came: the last write of a key is still the one that stays
      for (const item of batch) {
        await this.runBatch([item.input]).then(([output]) => item.resolve(output), item.reject);
      }
    }
  }
}
