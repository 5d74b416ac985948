import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { Finding } from '../domain/rule.js';
import type { Baseline } from '../engine/diff.js';
import { type Artifact, fileArtifact, FindingLines, writeChunk } from '../store/artifact.js';
import type { ScanDocument } from '../store/scanDocument.js';
import { CsvRows } from './csv.js';
import { HtmlReport } from './html.js';
import { REPORT_FILES, type ReportFormat } from './index.js';
import { sarifFrame, SarifResults } from './sarif.js';
import { ReportAggregator, type ReportSummary, summaryText } from './summary.js';
import type { TrendPoint } from './trend.js';

/**
 * One pass over a scan's findings feeds every report format (issue 17): the bytes of
 * findings.ndjson are read once, each line is parsed once, and each finding goes to every consumer
 * at once — the caller's (the commit's summary), the CSV rows, the SARIF results, the counts of the
 * JSON summary and the HTML page (one aggregator for both), the HTML page's capped accounts and the
 * diff against the previous scan — while the bytes themselves are copied to a findings.ndjson of
 * its own. Each output goes to its own temporary file, with backpressure. What needs the end of the
 * scan (the HTML page, the JSON summary, the SARIF log around its results) is rendered by `finish`
 * from capped aggregates; the stores then copy the finished files (`fileArtifact`).
 *
 * Used by the commit (pipeline/commit.ts) and by `perimeter-auditor report` (rerender.ts): there is
 * no other writer of the reports.
 */

/** findings.ndjson bytes, in order: writes them to `out` with backpressure and does not end it (`PartToCommit.copyFindings`). */
export type FindingBytes = (out: Writable) => Promise<void>;

/** Options of `ReportWriter.open`. */
export interface ReportWriterOptions {
  /**
   * The scan as known before its findings are read: its `rules` (catalog order: the SARIF rule
   * index, the counts by rule and control). Its coverage is the finished scan's, given to `finish`.
   */
  readonly scan: Pick<ScanDocument, 'rules'>;
  /** The reports to write; any other format is neither computed nor written. */
  readonly formats: readonly ReportFormat[];
  /** Also write the bytes read as `findings.ndjson` (a commit: true; a re-render: false). Default false. */
  readonly findingsFile?: boolean;
  /** The previous scan's fails, for the HTML page's "new / resolved since" (engine/diff.ts). */
  readonly previous?: Baseline | undefined;
  /** Called with each finding as it is read, before the reports take it (the commit's `SummaryBuilder`). */
  readonly observe?: (f: Finding) => void;
  /** Where the temporary files go: a new folder in it, removed by `remove`. Default the OS temporary directory. */
  readonly workDir?: string | undefined;
  /** Accounts the HTML page shows with drill-down (count). Default 2000 (html.ts). */
  readonly htmlAccountCap?: number;
  /**
   * The store's trend before this scan (its committed scans, `ScanStore.history`): the HTML page's
   * "Trend" is these and the scan being written (reports/trend.ts). Absent: the page has no trend.
   */
  readonly history?: readonly TrendPoint[] | undefined;
}

/** A format's finished file, and the text around it (SARIF: the log around its results). */
interface Rendered {
  readonly path: string;
  readonly around?: { readonly before: string; readonly after: string };
}

/** Pending output is written once it reaches this size (bytes, approximately: UTF-16 code units). */
const FLUSH_AT = 64 * 1024;

/** A temporary output file: text is collected, then written in large chunks with backpressure. */
class OutputFile {
  private readonly stream: WriteStream;
  private error: Error | undefined;
  private pending = '';

  constructor(readonly path: string) {
    // A large buffer, so that the pass parses on while the file system writes (fs default: 16 KiB).
    this.stream = createWriteStream(path, { highWaterMark: 1024 * 1024 });
    // Recorded, never unhandled: the next write or `close` throws it.
    this.stream.on('error', (e) => {
      this.error ??= e;
    });
  }

  push(text: string): void {
    this.pending += text;
  }

  /** Writes what is pending when it is large (or `always`). @throws the file's write error */
  async flush(always = false): Promise<void> {
    if (this.pending.length === 0 || (!always && this.pending.length < FLUSH_AT)) return;
    const text = this.pending;
    this.pending = '';
    await this.write(text);
  }

  /** Writes `chunk` now, waiting for `drain` when the stream's buffer is full. @throws the file's write error */
  async write(chunk: string | Buffer): Promise<void> {
    if (this.error) throw this.error;
    if (this.stream.destroyed) throw new Error(`${this.path}: closed`);
    await writeChunk(this.stream, chunk);
  }

  /** Writes what is pending and closes the file. @throws the file's write error */
  async close(): Promise<void> {
    await this.flush(true);
    if (this.error) throw this.error;
    this.stream.end();
    await finished(this.stream);
  }

  /** Closes the file without writing what is pending (a failed pass). */
  async discard(): Promise<void> {
    this.stream.destroy();
    await finished(this.stream).catch(() => undefined);
  }
}

/**
 * The `Writable` a byte source writes into: each chunk is copied to findings.ndjson (when kept),
 * split into lines, parsed, and handed to `take`; the chunk is acknowledged when the outputs took it.
 * After a failure every further write throws it, so the source stops at once (a source waiting for
 * `drain` gets it on its next write) instead of reading on.
 */
class FindingsInput extends Writable {
  failure: unknown;
  private readonly lines = new FindingLines();

  constructor(private readonly take: (findings: readonly Finding[], bytes: Buffer | undefined) => Promise<void>) {
    super({ highWaterMark: 1024 * 1024 });
  }

  override write(chunk: unknown, ...rest: unknown[]): boolean {
    if (this.failure !== undefined) throw this.failure;
    return (super.write as (chunk: unknown, ...rest: unknown[]) => boolean)(chunk, ...rest);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.run(() => this.take(this.lines.push(chunk), chunk), done);
  }

  override _final(done: (error?: Error | null) => void): void {
    this.run(() => this.take(this.lines.end(), undefined), done);
  }

  /** Runs a step unless one failed; a failure is kept (thrown by `write`, read by the pass), not emitted. */
  private run(step: () => Promise<void>, done: () => void): void {
    if (this.failure !== undefined) {
      done();
      return;
    }
    let work: Promise<void>;
    try {
      work = step();
    } catch (error) {
      work = Promise.reject(error);
    }
    work.then(
      () => done(),
      (error: unknown) => {
        this.failure = error;
        done();
      },
    );
  }
}

/**
 * The report writer of one scan: `open`, then `read` (the one pass), then `finish` (the artifacts),
 * and `remove` on every path. Memory: the capped tables of the HTML page, a few flags per account
 * (the counts), the previous scan's fails (the diff), and one chunk of pending text per output.
 */
export class ReportWriter {
  private readonly csv: { rows: CsvRows; file: OutputFile } | undefined;
  private readonly sarif: { results: SarifResults; file: OutputFile } | undefined;
  private readonly counts: ReportAggregator | undefined;
  private readonly html: HtmlReport | undefined;
  private readonly findings: OutputFile | undefined;
  private readonly files: OutputFile[] = [];
  /** The formats asked for, each once, in the order asked. */
  private readonly formats: readonly ReportFormat[];
  private state: 'open' | 'reading' | 'read' | 'finished' = 'open';

  private constructor(
    private readonly dir: string,
    private readonly o: ReportWriterOptions,
  ) {
    this.formats = [...new Set(o.formats)];
    const has = (format: ReportFormat) => this.formats.includes(format);
    if (o.findingsFile) this.findings = this.file('findings.ndjson');
    if (has('csv')) this.csv = { rows: new CsvRows(o.scan.rules), file: this.file(REPORT_FILES.csv.name) };
    if (has('sarif')) this.sarif = { results: new SarifResults(o.scan.rules), file: this.file(`${REPORT_FILES.sarif.name}.results`) };
    if (has('json') || has('html')) this.counts = new ReportAggregator(o.scan.rules);
    if (has('html')) {
      this.html = new HtmlReport({
        ...(o.previous ? { previous: o.previous } : {}),
        ...(o.htmlAccountCap ? { accountCap: o.htmlAccountCap } : {}),
        ...(o.history ? { history: o.history } : {}),
      });
    }
  }

  /**
   * Creates the temporary folder and opens the outputs `o` asks for.
   * @throws the file system's error when the folder cannot be created
   */
  static async open(o: ReportWriterOptions): Promise<ReportWriter> {
    return new ReportWriter(await mkdtemp(join(o.workDir ?? tmpdir(), 'pa-report-files-')), o);
  }

  private file(name: string): OutputFile {
    const file = new OutputFile(join(this.dir, name));
    this.files.push(file);
    return file;
  }

  /**
   * The one pass: reads `sources` in order (a commit: its parts in shard order, each as its shard
   * finishes when the iterable is asynchronous), each once, and feeds every finding to every output. Call once.
   * @throws FindingsFormatError naming the line (per source) that is not a finding; a source's or
   *   an output file's I/O error; what the iterable throws (a shard that failed)
   */
  async read(sources: Iterable<FindingBytes> | AsyncIterable<FindingBytes>): Promise<void> {
    if (this.state !== 'open') throw new Error(`ReportWriter.read: already ${this.state}`);
    this.state = 'reading';
    for await (const source of sources) {
      const input = new FindingsInput((findings, bytes) => this.take(findings, bytes));
      try {
        await source(input);
        if (input.failure === undefined) {
          input.end();
          await finished(input);
        }
      } catch (error) {
        throw input.failure ?? error;
      } finally {
        input.destroy();
      }
      if (input.failure !== undefined) throw input.failure;
    }
    this.state = 'read';
  }

  /** One chunk: its findings to every consumer, then its bytes and the text it made to the files. */
  private async take(findings: readonly Finding[], bytes: Buffer | undefined): Promise<void> {
    const { observe } = this.o;
    const { csv, sarif, counts, html } = this;
    for (const f of findings) {
      observe?.(f);
      csv?.rows.add(f);
      sarif?.results.add(f);
      counts?.add(f);
      html?.add(f);
    }
    if (csv) csv.file.push(csv.rows.take());
    if (sarif) sarif.file.push(sarif.results.take());
    await Promise.all([bytes && this.findings?.write(bytes), csv?.file.flush(), sarif?.file.flush()]);
  }

  /**
   * Renders what needs the end of the scan (the HTML page, the JSON summary, the SARIF log around its
   * results), closes every file and returns the artifacts: findings.ndjson first (when kept), then
   * the reports in `formats` order. The files stay until `remove`. Call once, after `read`.
   * @param scan the finished scan (its summary, status and end time)
   * @throws an output file's I/O error
   */
  async finish(scan: ScanDocument): Promise<Artifact[]> {
    if (this.state !== 'read') throw new Error(`ReportWriter.finish: ${this.state === 'finished' ? 'already finished' : 'the findings were not read'}`);
    this.state = 'finished';
    const artifacts: Artifact[] = [];
    if (this.findings) {
      await this.findings.close();
      artifacts.push(fileArtifact('findings.ndjson', 'application/x-ndjson', this.findings.path));
    }
    const summary = this.counts?.summary(scan);
    for (const format of this.formats) {
      const { name, contentType } = REPORT_FILES[format];
      const { path, around } = await this.render(format, scan, summary);
      artifacts.push(fileArtifact(name, contentType, path, around));
    }
    return artifacts;
  }

  /** Finishes one format's file: the path of its content, and the text around it (SARIF). */
  private async render(format: ReportFormat, scan: ScanDocument, summary: ReportSummary | undefined): Promise<Rendered> {
    const { csv, sarif, html } = this;
    if (format === 'csv' && csv) {
      csv.file.push(csv.rows.take(true));
      await csv.file.close();
      return { path: csv.file.path };
    }
    if (format === 'sarif' && sarif) {
      await sarif.file.close();
      return { path: sarif.file.path, around: sarifFrame(scan) };
    }
    if (!summary) throw new Error(`ReportWriter: ${format} was not opened`);
    const file = this.file(REPORT_FILES[format].name);
    if (format === 'json') file.push(summaryText(summary));
    else await html?.write(scan, summary, (text) => file.write(text));
    await file.close();
    return { path: file.path };
  }

  /** Closes every file and removes the temporary folder; never throws. Call on every path. */
  async remove(): Promise<void> {
    await Promise.all(this.files.map((f) => f.discard()));
    await rm(this.dir, { recursive: true, force: true }).catch(() => undefined);
  }
}
