import { createReadStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
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
 * Reads findings from NDJSON text, one per line; blank lines are skipped.
 * @throws FindingsFormatError naming the line number when a line is not a JSON object with a ruleId and an outcome.
 */
export async function* readFindings(input: Readable): AsyncIterable<Finding> {
  const lines = createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  for await (const line of lines) {
    n += 1;
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new FindingsFormatError(`findings.ndjson line ${n} is not JSON`);
    }
    const f = value as Partial<Finding>;
    if (typeof f !== 'object' || f === null || typeof f.ruleId !== 'string' || typeof f.outcome !== 'string' || typeof f.resourceId !== 'string') {
      throw new FindingsFormatError(`findings.ndjson line ${n} is not a finding`);
    }
    yield f as Finding;
  }
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

/**
 * An artifact whose content is a file already written (the scan's temporary findings file), copied
 * byte for byte: no parse and re-serialize of a 1 GB findings file.
 */
export function fileArtifact(name: string, contentType: string, path: string): Artifact {
  return {
    name,
    contentType,
    async write(out) {
      for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
        await writeChunk(out, chunk as Buffer);
      }
    },
  };
}
