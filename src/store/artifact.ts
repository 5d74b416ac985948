import { createReadStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { Readable } from 'node:stream';
import { createInterface } from 'node:readline';
import type { Finding } from '../domain/rule.js';

/**
 * A file a scan writes, produced by streaming into a `Writable` so that large outputs (findings,
 * reports of a 100,000-account tenant) never sit in memory whole.
 */
export interface Artifact {
  /** File name inside the scan's folder, e.g. `findings.ndjson`. */
  readonly name: string;
  /** MIME type for Blob Storage and HTTP, e.g. `text/csv; charset=utf-8`. */
  readonly contentType: string;
  /** Writes the whole content to `out` and resolves when done; does not end `out`. */
  write(out: Writable): Promise<void>;
  /**
   * When the content is exactly this file (a path), finished and never written again: a store on the
   * same file system may link it instead of copying it (`DirectoryStore`; 1.3 GB of findings at
   * 100,000 accounts). Absent: only `write` gives the content.
   */
  readonly file?: string;
}

/** A re-readable source of findings: each call starts a new pass. */
export type FindingSource = () => AsyncIterable<Finding>;

/** Writes `chunk`, waiting for `drain` when the stream's buffer is full (backpressure). */
export async function writeChunk(out: Writable, chunk: string | Buffer): Promise<void> {
  if (!out.write(chunk)) {
    await new Promise<void>((resolve, reject) => {
      const onDrain = () => {
        out.off('error', onError);
        resolve();
      };
      const onError = (e: Error) => {
        out.off('drain', onDrain);
        reject(e);
      };
      out.once('drain', onDrain);
      out.once('error', onError);
    });
  }
}

/** Thrown for a `findings.ndjson` line that is not a finding; names the line. */
export class FindingsFormatError extends Error {}

/**
 * Splits NDJSON into findings, one chunk at a time (a chunk may end inside a line or inside a UTF-8
 * character). Lines end with `\n` (a `\r` before it is dropped); blank lines are skipped but counted,
 * so an error names the line as an editor numbers it. The one parser of findings.ndjson text:
 * `readFindings` and the report writer's single pass (reports/writer.ts) both use it.
 */
export class FindingLines {
  private readonly decoder = new StringDecoder('utf8');
  private rest = '';
  private line = 0;

  /**
   * The findings of the lines `chunk` completes, in order.
   * @throws FindingsFormatError naming the line number when a line is not a JSON object with a ruleId, an outcome and a resourceId.
   */
  push(chunk: Buffer | string): Finding[] {
    const text = this.rest + (typeof chunk === 'string' ? chunk : this.decoder.write(chunk));
    const out: Finding[] = [];
    let start = 0;
    for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', start)) {
      this.parse(text.slice(start, end), out);
      start = end + 1;
    }
    this.rest = text.slice(start);
    return out;
  }

  /** The finding of a last line without a newline, if any. @throws FindingsFormatError as `push` */
  end(): Finding[] {
    const out: Finding[] = [];
    const last = this.rest + this.decoder.end();
    this.rest = '';
    if (last !== '') this.parse(last, out);
    return out;
  }

  private parse(raw: string, out: Finding[]): void {
    this.line += 1;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new FindingsFormatError(`findings.ndjson line ${this.line} is not JSON`);
    }
    const f = value as Partial<Finding>;
    if (typeof f !== 'object' || f === null || typeof f.ruleId !== 'string' || typeof f.outcome !== 'string' || typeof f.resourceId !== 'string') {
      throw new FindingsFormatError(`findings.ndjson line ${this.line} is not a finding`);
    }
    out.push(f as Finding);
  }
}

/**
 * Reads findings from NDJSON text, one per line; blank lines are skipped.
 * @throws FindingsFormatError naming the line number when a line is not a JSON object with a ruleId and an outcome.
 */
export async function* readFindings(input: Readable): AsyncIterable<Finding> {
  const lines = new FindingLines();
  for await (const chunk of input as AsyncIterable<Buffer | string>) yield* lines.push(chunk);
  yield* lines.end();
}

/**
 * Reads JSON values from NDJSON text, one per line (blank lines skipped), e.g. a shard's account states.
 * @throws SyntaxError naming the line number when a line is not JSON
 */
export async function* readJsonLines<T>(input: Readable): AsyncIterable<T> {
  let n = 0;
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    n += 1;
    if (line.trim() === '') continue;
    try {
      yield JSON.parse(line) as T;
    } catch {
      throw new SyntaxError(`line ${n} is not JSON`);
    }
  }
}

/** A finding source over a file, re-opened for each pass. */
export function fileFindings(path: string): FindingSource {
  return () => readFindings(createReadStream(path, { encoding: 'utf8' }));
}

/** A finding source over findings in memory. */
export function memoryFindings(findings: readonly Finding[]): FindingSource {
  return async function* () {
    yield* findings;
  };
}

/** The `findings.ndjson` artifact: one JSON object per line. */
export function findingsArtifact(source: FindingSource): Artifact {
  return {
    name: 'findings.ndjson',
    contentType: 'application/x-ndjson',
    async write(out) {
      for await (const f of source()) await writeChunk(out, `${JSON.stringify(f)}\n`);
    },
  };
}

/** Copies a file to `out`, byte for byte, in 1 MiB chunks with backpressure; does not end `out`. */
export async function copyFile(path: string, out: Writable): Promise<void> {
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
    await writeChunk(out, chunk as Buffer);
  }
}

/**
 * An artifact whose content is a file already written (the scan's temporary findings file, a
 * report the one pass wrote), copied byte for byte: no parse and re-serialize of a 1 GB findings
 * file. `around` wraps the file in text known only once the file is written (the SARIF log around
 * its results).
 */
export function fileArtifact(name: string, contentType: string, path: string, around?: { readonly before: string; readonly after: string }): Artifact {
  return {
    name,
    contentType,
    ...(around ? {} : { file: path }),
    async write(out) {
      if (around) await writeChunk(out, around.before);
      await copyFile(path, out);
      if (around) await writeChunk(out, around.after);
    },
  };
}
