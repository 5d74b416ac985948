/** Report formats and their file names (ARCHITECTURE.md: `report.*` beside `scan.json`). */
export const REPORT_FORMATS = ['json', 'csv', 'sarif', 'html'] as const;
/** A report format: `json`, `csv`, `sarif` or `html` (written by reports/writer.ts in one pass). */
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/** Each format's file name and content type (Blob Storage and HTTP). */
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
