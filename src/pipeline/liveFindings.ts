import { closeSync, createReadStream, openSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { writeChunk } from '../store/artifact.js';

/**
 * A shard's findings as it writes them, for the commit's one pass (pipeline/commit.ts) to read while
 * the shard still runs, in the same process: the pass reads a shard's findings once the shards
 * before it are read, and without this it would wait for the shard to finish. Nothing is held for a
 * shard the pass has not reached: what the shard wrote before the pass reached it is read from the
 * shard's batch files, what it writes after is handed over in memory (up to `maxQueuedChars` of
 * text plus the write being handed over, then the shard waits for the pass). The bytes the pass
 * reads are the bytes of the shard's files, in the same order: a shard reads its batches one after
 * another (collect/collector.ts `collectAccounts`), so only its last batch is ever being written.
 *
 * A batch of the shard's subscriptions can be discarded after some of its pages were written (its
 * read failed; pipeline/shard.ts, collect/collector.ts `collectAccounts`). If the pass had read any
 * of it, the pass is wrong and `copyWhileMade` throws `RestartPass`: the commit starts its pass again
 * from the parts' finished files.
 */
export class LiveFindings {
  /** Every batch so far, in order: its findings file, the characters written to it (count), its state. */
  private readonly batches: { file: string; chars: number; state: 'open' | 'kept' | 'discarded'; read: boolean }[] = [];
  /** Text written after the pass attached, not yet copied, with its batch's number. */
  private queue: { batch: number; text: string }[] = [];
  private queuedChars = 0;
  private attached = false;
  private used = false;
  private ended = false;
  private failure: { error: unknown } | undefined;
  private restart = false;
  /** Wakes the pass (more text, the end, a failure) or the shard (room in the queue). */
  private wakeReader: (() => void) | undefined;
  private wakeWriter: (() => void) | undefined;

  /**
   * @param maxQueuedChars text handed over and not yet copied (UTF-16 code units: 4 MiB of JSON text
   *   that is ASCII, up to 8 MiB otherwise) beyond which the shard waits for the pass. Default 4 M.
   */
  constructor(private readonly maxQueuedChars = 4 * 1024 * 1024) {}

  /** The shard starts a batch whose findings go to `file`; returns the batch's number. */
  startBatch(file: string): number {
    this.batches.push({ file, chars: 0, state: 'open', read: false });
    return this.batches.length - 1;
  }

  /**
   * The shard wrote `text` to batch `batch`'s file, and the file has it (its write's callback ran).
   * Resolves at once, or, when the pass is attached and more than `maxQueuedChars` wait for it, once
   * it has copied them.
   */
  async written(batch: number, text: string): Promise<void> {
    const b = this.batches[batch];
    if (!b) throw new Error(`LiveFindings: no batch ${batch}`);
    b.chars += text.length;
    if (!this.attached || this.restart) return;
    this.queue.push({ batch, text });
    this.queuedChars += text.length;
    this.wake();
    while (this.queuedChars > this.maxQueuedChars && this.attached && !this.restart) {
      await new Promise<void>((resolve) => (this.wakeWriter = resolve));
    }
  }

  /** The shard kept batch `batch` (its read completed). */
  kept(batch: number): void {
    const b = this.batches[batch];
    if (b) b.state = 'kept';
  }

  /** The shard discarded batch `batch`: its text is dropped, and the pass restarts if it read any. */
  discarded(batch: number): void {
    const b = this.batches[batch];
    if (!b) return;
    b.state = 'discarded';
    if (b.read) this.restart = true;
    const before = this.queue.length;
    this.queue = this.queue.filter((q) => q.batch !== batch);
    if (this.queue.length !== before) this.queuedChars = this.queue.reduce((n, q) => n + q.text.length, 0);
    this.wake();
  }

  /** The shard finished: every batch is kept or discarded. */
  end(): void {
    this.ended = true;
    this.wake();
  }

  /** The shard failed with `error`. */
  fail(error: unknown): void {
    this.failure = { error };
    this.wake();
  }

  /** Whether the shard has finished or failed (its part, or its error, is then the thing to read). */
  get settled(): boolean {
    return this.ended || this.failure !== undefined;
  }

  /**
   * Copies the shard's findings to `out` while the shard runs, until it ends. Call once, before the
   * shard settled (`settled`). When it returns or throws, nothing more is handed over and a shard
   * waiting for room goes on.
   * @throws RestartPass when a batch the pass read from was discarded; the shard's error when it
   *   failed; the file system's error opening or reading a batch file; `out`'s write error; an Error
   *   when called twice or when a batch file holds less than the shard said it wrote
   */
  async copyWhileMade(out: Writable): Promise<void> {
    if (this.used) throw new Error('LiveFindings.copyWhileMade: called twice');
    this.used = true;
    this.attached = true;
    try {
      await this.copy(out);
    } finally {
      // The pass stopped (done, or failed): nothing more is handed over, and a waiting shard goes on.
      this.attached = false;
      this.queue = [];
      this.queuedChars = 0;
      this.releaseWriter();
    }
  }

  private async copy(out: Writable): Promise<void> {
    // What the files hold now: the batches so far, each up to what the shard wrote. Opened now, so a
    // file the shard renames when it ends (its batches joined) is still read.
    const snapshot: { i: number; chars: number; fd: number | undefined }[] = [];
    try {
      for (const [i, b] of this.batches.entries()) {
        const s = { i, chars: b.chars, fd: undefined as number | undefined };
        snapshot.push(s);
        if (b.state !== 'discarded' && b.chars > 0) s.fd = openSync(b.file, 'r');
      }
      for (const s of snapshot) {
        const b = this.batches[s.i];
        if (s.fd === undefined || !b) continue;
        const fd = s.fd;
        s.fd = undefined;
        if (b.state === 'discarded') {
          closeSync(fd);
          continue;
        }
        b.read = true;
        await copyPrefix(fd, s.chars, out);
        this.check();
      }
    } finally {
      for (const s of snapshot) if (s.fd !== undefined) closeSync(s.fd);
    }
    for (;;) {
      this.check();
      const next = this.queue.shift();
      if (next) {
        this.queuedChars -= next.text.length;
        const b = this.batches[next.batch];
        if (b) b.read = true;
        if (this.queuedChars <= this.maxQueuedChars) this.releaseWriter();
        await writeChunk(out, next.text);
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.wakeReader = resolve));
    }
  }

  private check(): void {
    if (this.restart) throw new RestartPass('a batch of the shard was discarded after the pass read part of it');
    if (this.failure) throw this.failure.error;
  }

  private wake(): void {
    const reader = this.wakeReader;
    this.wakeReader = undefined;
    reader?.();
    if (this.restart) this.releaseWriter();
  }

  private releaseWriter(): void {
    const writer = this.wakeWriter;
    this.wakeWriter = undefined;
    writer?.();
  }
}

/** Thrown by `LiveFindings.copyWhileMade` when what the pass read is no longer the shard's findings. */
export class RestartPass extends Error {
  override readonly name = 'RestartPass';
}

/**
 * Copies the first `chars` characters of the UTF-8 file open as `fd` to `out`, and closes `fd`. The
 * shard writes JSON text, so characters and bytes differ only beyond ASCII: counted as decoded, exactly.
 * @throws an Error when the file holds fewer than `chars` characters; the file's or `out`'s I/O error
 */
async function copyPrefix(fd: number, chars: number, out: Writable): Promise<void> {
  if (chars === 0) {
    closeSync(fd);
    return;
  }
  let left = chars;
  const stream = createReadStream('', { fd, encoding: 'utf8', autoClose: true });
  try {
    for await (const chunk of stream) {
      const text = chunk as string;
      const take = text.length <= left ? text : text.slice(0, left);
      left -= take.length;
      await writeChunk(out, take);
      if (left === 0) break;
    }
  } finally {
    stream.destroy();
  }
  if (left > 0) throw new Error(`LiveFindings: the shard's file ended ${left} character(s) before what it wrote`);
}
