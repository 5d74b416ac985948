import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { Baseline } from '../engine/diff.js';
import { SummaryBuilder } from '../engine/summary.js';
import { type Artifact, writeChunk } from '../store/artifact.js';
import type { ScanDocument } from '../store/scanDocument.js';
import type { ReportFormat } from './index.js';
import type { TrendPoint } from './trend.js';
import { type ArtifactFile, artifactsOf, ReportWriter } from './writer.js';

/**
 * The commit's one pass over the findings (reports/writer.ts `ReportWriter`, the only writer of the
 * reports) run in a worker thread (issue 17): a scan in one process evaluates accounts on the main
 * thread while the pass reads each finished part's findings file on a second core, so the reports
 * are written while later shards are still read and evaluated, not after the last page.
 *
 * The protocol, one request at a time: `open` (the options) → `part` (a findings file, in shard
 * order) … → `end` → the findings' summary (engine/summary.ts) → `finish` (the finished scan) → the
 * finished files → `remove` (the temporary files and the thread end). An error in the thread is
 * sent back as its message and rejects the request waiting (or the next one).
 */

/** `workerData.kind` of this thread: the module runs its thread side only when started as one. */
const THREAD_KIND = 'perimeter-auditor/report-writer';

/** Options of the pass: `ReportWriterOptions` as plain data (they are copied to the thread). */
export interface ReportThreadOptions {
  /** The scan's rules in catalog order (`ScanDocument.rules`). */
  readonly rules: ScanDocument['rules'];
  readonly formats: readonly ReportFormat[];
  readonly previous?: Baseline | undefined;
  readonly history?: readonly TrendPoint[] | undefined;
  /** Where the temporary files go. Default the OS temporary directory. */
  readonly workDir?: string | undefined;
  readonly htmlAccountCap?: number;
}

type Request
  = | { readonly type: 'part'; readonly file: string }
    | { readonly type: 'end' }
    | { readonly type: 'finish'; readonly scan: ScanDocument }
    | { readonly type: 'remove' };

type Reply
  = | { readonly type: 'opened'; readonly dir: string }
    | { readonly type: 'read'; readonly summary: ScanDocument['summary'] }
    | { readonly type: 'finished'; readonly files: ArtifactFile[] }
    | { readonly type: 'removed' }
    | { readonly type: 'error'; readonly message: string };

/**
 * The compiled thread module. Tests run the TypeScript sources, whose compiled files are under
 * dist/ (`npm test` builds first); the Function App's bundle has its own beside functions.mjs
 * (scripts/bundle.mjs).
 */
function threadModule(): URL {
  return import.meta.url.endsWith('.ts') ? new URL('../../dist/src/reports/reportThread.js', import.meta.url) : new URL('./reportThread.js', import.meta.url);
}

/** The main thread's side: one pass in a worker thread. */
export class ReportThread {
  private failure: Error | undefined;
  private waiting: { readonly expect: Reply['type']; resolve(reply: Reply): void; reject(error: Error): void } | undefined;
  private exited = false;
  /** The thread's temporary folder (ReportWriter's), removed by `remove` also when the thread died. */
  private dir: string | undefined;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (reply: Reply) => {
      if (reply.type === 'error') this.fail(new Error(reply.message));
      else if (this.waiting?.expect === reply.type) {
        const { resolve } = this.waiting;
        this.waiting = undefined;
        resolve(reply);
      }
    });
    worker.on('error', (error) => this.fail(error));
    worker.on('exit', (code) => {
      this.exited = true;
      this.fail(new Error(`the report thread ended (exit code ${code})`));
    });
  }

  /**
   * Starts the thread and opens the report files.
   * @throws the thread's error when it cannot start or the temporary folder cannot be created
   */
  static async open(options: ReportThreadOptions): Promise<ReportThread> {
    const thread = new ReportThread(new Worker(threadModule(), { workerData: { kind: THREAD_KIND, options } }));
    try {
      thread.dir = (await thread.reply('opened')).dir;
    } catch (error) {
      await thread.worker.terminate();
      throw error;
    }
    return thread;
  }

  private fail(error: Error): void {
    this.failure ??= error;
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.reject(this.failure);
  }

  private reply<T extends Reply['type']>(expect: T): Promise<Extract<Reply, { type: T }>> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting = { expect, resolve: resolve as (reply: Reply) => void, reject };
    });
  }

  private send(request: Request): void {
    if (this.failure) throw this.failure;
    this.worker.postMessage(request);
  }

  /**
   * The one pass: each findings file as it is given (in shard order), then the findings' summary.
   * @throws what `files` throws (a shard that failed); the thread's error (a line that is not a finding, an I/O error)
   */
  async read(files: AsyncIterable<string>): Promise<ScanDocument['summary']> {
    // Failures of the thread are seen at once, not only when the last file is given.
    const summary = this.reply('read');
    summary.catch(() => undefined);
    for await (const file of files) this.send({ type: 'part', file });
    this.send({ type: 'end' });
    return (await summary).summary;
  }

  /**
   * Renders what needs the finished scan and closes the files (`ReportWriter.finish`).
   * @throws the thread's error
   */
  async finish(scan: ScanDocument): Promise<Artifact[]> {
    const finished = this.reply('finished');
    this.send({ type: 'finish', scan });
    return artifactsOf((await finished).files);
  }

  /** Removes the temporary files and ends the thread; never throws. Call on every path. */
  async remove(): Promise<void> {
    if (!this.exited) {
      const ended = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
      // Also after an error it sent: the thread closes its files and removes them, then ends.
      this.worker.postMessage({ type: 'remove' } satisfies Request);
      await ended;
    }
    // A thread that died (or was stopped) could not remove its folder.
    if (this.dir) await rm(this.dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** A queue of findings files: given by messages, read by the pass as an async iterable. */
class PartQueue implements AsyncIterable<(out: Writable) => Promise<void>> {
  private readonly files: string[] = [];
  private ended = false;
  private abort: Error | undefined;
  private wake: (() => void) | undefined;

  push(file: string): void {
    this.files.push(file);
    this.wake?.();
  }

  end(error?: Error): void {
    this.ended = true;
    this.abort ??= error;
    this.wake?.();
  }

  async* [Symbol.asyncIterator](): AsyncIterator<(out: Writable) => Promise<void>> {
    for (;;) {
      if (this.abort) throw this.abort;
      const file = this.files.shift();
      if (file !== undefined) {
        yield async (out: Writable) => {
          for await (const chunk of createReadStream(file)) await writeChunk(out, chunk as Buffer);
        };
      } else if (this.ended) return;
      else await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}

/** The thread's side: the report writer, driven by the main thread's requests. */
async function serve(options: ReportThreadOptions): Promise<void> {
  const port = parentPort;
  if (!port) return;
  const post = (reply: Reply) => port.postMessage(reply);
  const message = (error: unknown) => (error instanceof Error ? error.message : String(error));
  const summary = new SummaryBuilder(options.rules.map((r) => r.id));
  let writer: ReportWriter;
  try {
    writer = await ReportWriter.open({
      scan: { rules: options.rules },
      formats: options.formats,
      findingsFile: true,
      previous: options.previous,
      history: options.history,
      observe: (f) => summary.add(f),
      workDir: options.workDir,
      ...(options.htmlAccountCap ? { htmlAccountCap: options.htmlAccountCap } : {}),
    });
  } catch (error) {
    post({ type: 'error', message: message(error) });
    port.close();
    return;
  }
  const parts = new PartQueue();
  let removing = false;
  const reading = writer.read(parts).then(
    () => post({ type: 'read', summary: summary.build() }),
    // A pass stopped by `remove` (the commit failed elsewhere) is no error of its own.
    (error: unknown) => removing || post({ type: 'error', message: message(error) }),
  );
  port.on('message', (request: Request) => {
    if (request.type === 'part') parts.push(request.file);
    else if (request.type === 'end') parts.end();
    else if (request.type === 'finish') {
      writer.finishFiles(request.scan).then(
        (files) => post({ type: 'finished', files }),
        (error: unknown) => post({ type: 'error', message: message(error) }),
      );
    } else if (request.type === 'remove') {
      removing = true;
      parts.end(new Error('the commit ended before its parts were read'));
      void reading.then(() => writer.remove()).finally(() => {
        post({ type: 'removed' });
        port.close();
      });
    }
  });
  post({ type: 'opened', dir: writer.directory });
}

if (!isMainThread && (workerData as { kind?: unknown } | null)?.kind === THREAD_KIND) {
  await serve((workerData as { options: ReportThreadOptions }).options);
}
