import assert from 'node:assert/strict';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'vitest';
import { LiveFindings, RestartPass } from '../../src/pipeline/liveFindings.js';

/**
 * A shard's findings handed to the commit's pass while the shard runs (pipeline/liveFindings.ts):
 * what the shard wrote before the pass reached it comes from its files, what it writes after from
 * memory, and the pass reads exactly the shard's bytes in order. The "shard" here writes real files
 * the way pipeline/shard.ts does: the text in the file first, then `written`.
 */

/** A batch file written as the shard writes it. */
class Batch {
  readonly stream: WriteStream;
  readonly number: number;
  constructor(
    readonly live: LiveFindings,
    readonly file: string,
  ) {
    this.stream = createWriteStream(file, { encoding: 'utf8' });
    this.number = live.startBatch(file);
  }

  async write(text: string): Promise<void> {
    await new Promise<void>((resolve, reject) => this.stream.write(text, (e) => (e ? reject(e) : resolve())));
    await this.live.written(this.number, text);
  }

  async keep(): Promise<void> {
    await new Promise<void>((resolve) => this.stream.end(resolve));
    this.live.kept(this.number);
  }

  discard(): void {
    this.stream.destroy();
    this.live.discarded(this.number);
  }
}

/** A pass's input: collects the text; `hold()` makes it stop taking chunks until `release()`. */
class Sink extends Writable {
  text = '';
  private held: (() => void)[] | undefined;
  constructor() {
    super({ highWaterMark: 1, decodeStrings: false });
  }

  hold(): void {
    this.held = [];
  }

  release(): void {
    const waiting = this.held ?? [];
    this.held = undefined;
    for (const w of waiting) w();
  }

  override _write(chunk: string | Buffer, _e: BufferEncoding, done: () => void): void {
    const take = () => {
      this.text += chunk.toString();
      done();
    };
    if (this.held) this.held.push(take);
    else take();
  }
}

const line = (account: string, n: number) => `${JSON.stringify({ ruleId: `R-${n}`, accountName: account, message: 'é ✓ 𝔘 long enough text' })}\n`;
const settle = () => new Promise<void>((r) => setImmediate(r));

async function dir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'pa-live-'));
}

describe('a shard read while it runs (LiveFindings)', () => {
  it('the pass reads what was written before it came from the files, then the rest as written: every byte once, in order', async () => {
    const d = await dir();
    try {
      const live = new LiveFindings();
      const first = new Batch(live, join(d, 'b0.ndjson'));
      let expected = '';
      for (let i = 0; i < 50; i++) {
        const t = line('a', i);
        expected += t;
        await first.write(t);
      }
      await first.keep();
      const second = new Batch(live, join(d, 'b1.ndjson'));
      for (let i = 0; i < 20; i++) {
        const t = line('b', i);
        expected += t;
        await second.write(t);
      }
      // The pass comes now: batch 0 kept, batch 1 half written.
      const sink = new Sink();
      const copying = live.copyWhileMade(sink);
      for (let i = 20; i < 40; i++) {
        const t = line('b', i);
        expected += t;
        await second.write(t);
      }
      await second.keep();
      const third = new Batch(live, join(d, 'b2.ndjson'));
      const t = line('c', 0);
      expected += t;
      await third.write(t);
      await third.keep();
      live.end();
      await copying;
      assert.equal(sink.text, expected);
    } finally {
      await rm(d, { recursive: true, force: true });
    }
  });

  it('a batch discarded before the pass read any of it is left out; one discarded after makes the pass start again', async () => {
    const d = await dir();
    try {
      // Discarded before the pass came: never read.
      const live = new LiveFindings();
      const gone = new Batch(live, join(d, 'gone.ndjson'));
      await gone.write(line('gone', 0));
      gone.discard();
      const sink = new Sink();
      const copying = live.copyWhileMade(sink);
      // The pass is held on the kept batch's line, so the later batch's line is still in memory
      // when that batch is discarded: dropped, never read.
      sink.hold();
      const kept = new Batch(live, join(d, 'kept.ndjson'));
      await kept.write(line('kept', 0));
      await kept.keep();
      const later = new Batch(live, join(d, 'later.ndjson'));
      await later.write(line('later', 0));
      later.discard();
      sink.release();
      live.end();
      await copying;
      assert.equal(sink.text, line('kept', 0));

      // Discarded after the pass read part of it: RestartPass.
      const again = new LiveFindings();
      const readSink = new Sink();
      const reading = again.copyWhileMade(readSink);
      const half = new Batch(again, join(d, 'half.ndjson'));
      await half.write(line('half', 0));
      await settle();
      assert.equal(readSink.text, line('half', 0), 'the pass read the first page');
      half.discard();
      await assert.rejects(reading, RestartPass);
    } finally {
      await rm(d, { recursive: true, force: true });
    }
  });

  it('a shard that fails fails the pass with its error', async () => {
    const d = await dir();
    try {
      const live = new LiveFindings();
      const copying = live.copyWhileMade(new Sink());
      const b = new Batch(live, join(d, 'b.ndjson'));
      await b.write(line('a', 0));
      live.fail(new Error('ENOSPC: no space left on device'));
      await assert.rejects(copying, /ENOSPC/);
    } finally {
      await rm(d, { recursive: true, force: true });
    }
  });

  it('holds at most maxQueuedChars for the pass: the shard waits, and goes on when the pass reads or stops', async () => {
    const d = await dir();
    try {
      const live = new LiveFindings(100);
      const sink = new Sink();
      sink.hold();
      const copying = live.copyWhileMade(sink);
      const b = new Batch(live, join(d, 'b.ndjson'));
      const text = 'x'.repeat(60);
      await b.write(`${text}\n`);
      await b.write(`${text}\n`);
      let third = false;
      const writing = b.write(`${text}\n`).then(() => (third = true));
      await settle();
      await settle();
      assert.equal(third, false, 'the shard waits: over 100 characters wait for the pass');
      sink.release();
      await writing;
      assert.equal(third, true);
      await b.keep();
      live.end();
      await copying;
      assert.equal(sink.text, `${text}\n`.repeat(3));

      // A pass that stops (its output fails) while the shard waits for room lets the shard go on.
      const stopped = new LiveFindings(10);
      let failWrite: ((e: Error) => void) | undefined;
      const failing = new Writable({ highWaterMark: 1, write: (_c, _e, done) => (failWrite = done) });
      failing.on('error', () => undefined);
      const reading = assert.rejects(stopped.copyWhileMade(failing), /disk full/);
      const c = new Batch(stopped, join(d, 'c.ndjson'));
      await c.write('y'.repeat(20)); // taken by the pass, which is now held writing it
      let waited = false;
      const second = c.write('z'.repeat(20)).then(() => (waited = true));
      await settle();
      await settle();
      assert.ok(failWrite, 'the pass is writing the first text');
      assert.equal(waited, false, 'the shard waits: 20 characters over the 10 allowed, and the pass is held');
      failWrite(new Error('disk full'));
      await reading;
      await second;
      assert.equal(waited, true, 'the shard went on once the pass stopped');
      await c.keep();
    } finally {
      await rm(d, { recursive: true, force: true });
    }
  });
});
