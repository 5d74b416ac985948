import type { Baseline } from '../engine/diff.js';
import type { Artifact, FindingSource } from '../store/artifact.js';
import type { ScanDocument } from '../store/scanDocument.js';
import { csvArtifact } from './csv.js';
import { htmlArtifact } from './html.js';
import { sarifArtifact } from './sarif.js';
import { summaryArtifact } from './summary.js';

/** Report formats and their file names (ARCHITECTURE.md: `report.*` beside `scan.json`). */
export const REPORT_FORMATS = ['json', 'csv', 'sarif', 'html'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export const REPORT_FILES: Readonly<Record<ReportFormat, { name: string; contentType: string }>> = {
  json: { name: 'report.json', contentType: 'application/json' },
  csv: { name: 'report.csv', contentType: 'text/csv; charset=utf-8' },
  sarif: { name: 'report.sarif', contentType: 'application/sarif+json' },
  html: { name: 'report.html', contentType: 'text/html; charset=utf-8' },
};

/** Thrown for a format name that is not one of `REPORT_FORMATS`. */
export class ReportFormatError extends Error {}

/** Parses `json,csv,…` (case-insensitive, de-duplicated). @throws ReportFormatError naming the bad format. */
export function parseReportFormats(text: string): ReportFormat[] {
  const out: ReportFormat[] = [];
  for (const raw of text.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean)) {
    if (!(REPORT_FORMATS as readonly string[]).includes(raw)) {
      throw new ReportFormatError(`unsupported format '${raw}' (supported: ${REPORT_FORMATS.join(', ')})`);
    }
    if (!out.includes(raw as ReportFormat)) out.push(raw as ReportFormat);
  }
  return out;
}

/** The report artifacts of a scan, in the given formats. */
export function reportArtifacts(scan: ScanDocument, source: FindingSource, formats: readonly ReportFormat[], previous?: Baseline): Artifact[] {
  return formats.map((format) => {
    switch (format) {
      case 'json':
        return summaryArtifact(scan, source);
      case 'csv':
        return csvArtifact(source);
      case 'sarif':
        return sarifArtifact(scan, source);
      case 'html':
        return htmlArtifact(scan, source, previous ? { previous } : {});
    }
  });
}
