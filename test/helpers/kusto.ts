import { createRequire } from 'node:module';

/**
 * Microsoft's own KQL parser and semantic analyser, Kusto.Language (npm `@kusto/language-service-next`,
 * AZURE-FACTS.md "Perimeter access logs"), for tests: a query text is parsed and analysed against tables
 * whose columns are given, and what the analyser reports comes back as plain objects.
 *
 * The package is a Bridge.NET translation of the C# library: two scripts that define the global
 * `Kusto` (bridge.js, then Kusto.Language.Bridge.js, about 18 MB). They are loaded on the first call,
 * once per process (vitest runs each test file in its own process); building the default global state
 * and the first analysis then take about a second more, later analyses a few milliseconds.
 *
 * Only the few members used here are typed below; the package's own declarations (1.7 MB) are not
 * pulled into the compilation.
 */

/** One thing the analyser reports: an error (syntax, unknown name, wrong type) or a warning. */
export interface KqlDiagnostic {
  /** `Error`, `Warning`, `Suggestion` or `Information`. */
  readonly severity: string;
  /** Kusto.Language's code, e.g. `KS142` for a name that refers to no column, table or function. */
  readonly code: string;
  readonly message: string;
  /** Offset in the query text (UTF-16 code units) where the reported span starts. */
  readonly at: number;
}

/** A column of the analysed query's result. */
export interface KqlColumn {
  readonly name: string;
  /** Kusto type name: `string`, `long`, `datetime`, `dynamic`… */
  readonly type: string;
}

/** What the analyser made of a query. */
export interface KqlAnalysis {
  readonly diagnostics: KqlDiagnostic[];
  /** The result's columns in order; undefined when the query's result is not a table. */
  readonly columns: KqlColumn[] | undefined;
  /** The values of the query's string literals (escapes decoded), in text order. */
  readonly strings: string[];
  /** The keyword of each query operator after a `|` (`where`, `summarize`, `project`…), in text order, subqueries included. */
  readonly operators: string[];
}

/** Tables to analyse against: table name → schema, `(Column:type, Column:type, …)`. */
export type KqlTables = Readonly<Record<string, string>>;

// --- the few members of Kusto.Language used here (Bridge.NET objects) ---

interface DotNetList<T> {
  readonly Count: number;
  getItem(index: number): T;
}
interface KType {
  readonly Name: string;
  readonly Columns?: DotNetList<{ readonly Name: string; readonly Type: KType }>;
}
interface KToken {
  readonly Text: string;
}
interface KNode {
  readonly Kind: number;
  readonly TextStart: number;
  readonly IsLiteral?: boolean;
  readonly LiteralValue?: unknown;
  /** A pipe's query operator (PipeExpression only). */
  readonly Operator?: KOperator | null;
}
interface KOperator {
  readonly TextStart: number;
  GetFirstToken(): KToken | null;
}
interface KCode {
  readonly ResultType: KType | null;
  readonly Syntax: { WalkNodes(action: (node: KNode) => void): void };
  GetDiagnostics(): DotNetList<{ readonly Severity: string; readonly Code: string; readonly Message: string; readonly Start: number }>;
}
interface KGlobalState {
  WithDatabase(database: unknown): KGlobalState;
}
interface KustoLanguage {
  readonly KustoCode: { ParseAndAnalyze(text: string, globals: KGlobalState): KCode };
  readonly GlobalState: { readonly Default: KGlobalState };
  readonly Symbols: {
    readonly TableSymbol: { readonly $ctor7: new (name: string, schema: string, description: string) => KType };
    readonly DatabaseSymbol: { readonly $ctor2: new (name: string, description: string | null, members: unknown[]) => unknown };
  };
  readonly Syntax: { readonly SyntaxKind: { readonly PipeExpression: number; readonly StringLiteralExpression: number } };
}

let kusto: KustoLanguage | undefined;

/** Kusto.Language, its scripts loaded on the first call. */
function language(): KustoLanguage {
  if (kusto === undefined) {
    const require = createRequire(import.meta.url);
    require('@kusto/language-service-next/bridge.js');
    require('@kusto/language-service-next/Kusto.Language.Bridge.js');
    const loaded = (globalThis as { Kusto?: { Language?: KustoLanguage } }).Kusto?.Language;
    if (loaded === undefined) throw new Error('@kusto/language-service-next loaded but defined no Kusto.Language');
    kusto = loaded;
  }
  return kusto;
}

const SCALAR_TYPES = new Set(['bool', 'datetime', 'decimal', 'dynamic', 'guid', 'int', 'long', 'real', 'string', 'timespan']);

/**
 * The columns of a schema string, checked: Kusto.Language's own schema parser silently drops every
 * column from a keyword-named one on (`kind`, in Resource Graph rows) and types a misspelt type
 * `unknown`, so a binding would be narrower than the schema written and nobody would know.
 * @throws Error naming the malformed column
 */
function schemaColumns(table: string, schema: string): KqlColumn[] {
  const body = /^\s*\((.*)\)\s*$/s.exec(schema)?.[1];
  if (body === undefined) throw new Error(`schema of ${table} is not "(Column:type, …)": ${schema}`);
  return body.split(',').map((part) => {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s*([a-z]+)\s*$/.exec(part);
    if (!m?.[1] || !m[2] || !SCALAR_TYPES.has(m[2])) throw new Error(`schema of ${table}: "${part.trim()}" is not Column:type with a Kusto scalar type`);
    return { name: m[1], type: m[2] };
  });
}

/** A table symbol with exactly the columns of `schema` (each name bracket-quoted, so keywords are columns too). */
function tableSymbol(k: KustoLanguage, name: string, schema: string): KType {
  const columns = schemaColumns(name, schema);
  const symbol = new k.Symbols.TableSymbol.$ctor7(name, `(${columns.map((c) => `['${c.name}']:${c.type}`).join(', ')})`, '');
  const bound = columnsOf(symbol);
  if (JSON.stringify(bound) !== JSON.stringify(columns)) throw new Error(`table ${name} bound as ${JSON.stringify(bound)}, not its schema ${schema}`);
  return symbol;
}

function columnsOf(type: KType | null): KqlColumn[] | undefined {
  const list = type?.Columns;
  if (list === undefined) return undefined;
  const out: KqlColumn[] = [];
  for (let i = 0; i < list.Count; i++) {
    const c = list.getItem(i);
    out.push({ name: c.Name, type: c.Type.Name });
  }
  return out;
}

const globalsByTables = new Map<string, KGlobalState>();

/** The global state (functions, operators) with one database holding `tables`; built once per set of tables. */
function globalsFor(k: KustoLanguage, tables: KqlTables): KGlobalState {
  const key = JSON.stringify(Object.entries(tables));
  let globals = globalsByTables.get(key);
  if (globals === undefined) {
    const symbols = Object.entries(tables).map(([name, schema]) => tableSymbol(k, name, schema));
    globals = k.GlobalState.Default.WithDatabase(new k.Symbols.DatabaseSymbol.$ctor2('db', null, symbols));
    globalsByTables.set(key, globals);
  }
  return globals;
}

/**
 * Parses and analyses `text` with Kusto.Language against `tables` (the only tables in scope, in the
 * default database; every Kusto function is known).
 * @param text a KQL query
 * @param tables table name → schema string, e.g. `{ NSPAccessLogs: '(TimeGenerated:datetime, Category:string)' }`
 * @throws Error when a schema is not `(Column:type, …)` with Kusto scalar types
 */
export function kqlAnalysis(text: string, tables: KqlTables): KqlAnalysis {
  const k = language();
  const code = k.KustoCode.ParseAndAnalyze(text, globalsFor(k, tables));
  const found = code.GetDiagnostics();
  const diagnostics: KqlDiagnostic[] = [];
  for (let i = 0; i < found.Count; i++) {
    const d = found.getItem(i);
    diagnostics.push({ severity: d.Severity, code: d.Code, message: d.Message, at: d.Start });
  }
  const strings: Array<{ at: number; value: string }> = [];
  const operators: Array<{ at: number; keyword: string }> = [];
  const kinds = k.Syntax.SyntaxKind;
  code.Syntax.WalkNodes((node) => {
    if (node.Kind === kinds.StringLiteralExpression && node.IsLiteral) strings.push({ at: node.TextStart, value: String(node.LiteralValue) });
    if (node.Kind === kinds.PipeExpression) {
      const keyword = node.Operator?.GetFirstToken()?.Text;
      if (node.Operator && keyword !== undefined) operators.push({ at: node.Operator.TextStart, keyword });
    }
  });
  return {
    diagnostics,
    columns: columnsOf(code.ResultType),
    strings: strings.sort((a, b) => a.at - b.at).map((s) => s.value),
    operators: operators.sort((a, b) => a.at - b.at).map((o) => o.keyword),
  };
}

/**
 * What Microsoft's KQL analyser reports about `text` bound to `tables`: syntax errors, names that
 * refer to no column, table or function, type errors, warnings. An empty list is a query Kusto.Language
 * accepts as written against those columns.
 * @param text a KQL query
 * @param tables table name → schema string, `(Column:type, …)`
 * @throws Error when a schema is not `(Column:type, …)` with Kusto scalar types
 */
export function kqlDiagnostics(text: string, tables: KqlTables): KqlDiagnostic[] {
  return kqlAnalysis(text, tables).diagnostics;
}
