/**
 * A reader for the subset of Bicep that infra/ is written in, for the infrastructure drift check
 * (scripts/infra/check.ts). No Bicep compiler can be installed on the build machine (its installer
 * downloads a binary), so this parses the text itself: declarations (`targetScope`, `param`, `var`,
 * `resource`, `module`, `output`, decorators) and expressions (strings with interpolation, numbers,
 * booleans, `null`, objects, arrays, `for` and `if` bodies, lambdas, calls, member and index access,
 * unary, binary and ternary operators). Grammar source: "Bicep file structure and syntax" and
 * "Bicep operators" (learn.microsoft.com/azure/azure-resource-manager/bicep).
 *
 * Anything outside the subset is a {@link BicepSyntaxError} with the file and line, never skipped: a
 * construct this reader does not know must fail the check, not pass it unread.
 */

/** Thrown for text this reader cannot parse; the message names the file, line and what was expected. */
export class BicepSyntaxError extends Error {}

/** An expression; `line` is 1-based. */
export type Expr
  = | { readonly k: 'str'; readonly parts: ReadonlyArray<string | Expr>; readonly line: number }
    | { readonly k: 'num'; readonly value: number; readonly line: number }
    | { readonly k: 'bool'; readonly value: boolean; readonly line: number }
    | { readonly k: 'null'; readonly line: number }
    | { readonly k: 'id'; readonly name: string; readonly line: number }
    | { readonly k: 'member'; readonly object: Expr; readonly name: string; readonly line: number }
    | { readonly k: 'index'; readonly object: Expr; readonly index: Expr; readonly line: number }
    | { readonly k: 'call'; readonly callee: Expr; readonly args: readonly Expr[]; readonly line: number }
    | { readonly k: 'object'; readonly props: ReadonlyArray<{ readonly key: string; readonly value: Expr }>; readonly line: number }
    | { readonly k: 'array'; readonly items: readonly Expr[]; readonly line: number }
    | { readonly k: 'for'; readonly item: string; readonly index?: string; readonly source: Expr; readonly body: Expr; readonly line: number }
    | { readonly k: 'if'; readonly condition: Expr; readonly body: Expr; readonly line: number }
    | { readonly k: 'lambda'; readonly params: readonly string[]; readonly body: Expr; readonly line: number }
    | { readonly k: 'ternary'; readonly condition: Expr; readonly then: Expr; readonly else: Expr; readonly line: number }
    | { readonly k: 'binary'; readonly op: string; readonly left: Expr; readonly right: Expr; readonly line: number }
    | { readonly k: 'unary'; readonly op: string; readonly operand: Expr; readonly line: number };

/** A decorator such as `@description('…')`: its name and arguments. */
export interface Decorator {
  readonly name: string;
  readonly args: readonly Expr[];
}

/** A top-level declaration. */
export type Declaration
  = | { readonly k: 'targetScope'; readonly value: Expr; readonly line: number }
    | { readonly k: 'param'; readonly name: string; readonly type: string; readonly default?: Expr; readonly decorators: readonly Decorator[]; readonly line: number }
    | { readonly k: 'var'; readonly name: string; readonly value: Expr; readonly decorators: readonly Decorator[]; readonly line: number }
    | {
      readonly k: 'resource';
      readonly name: string;
      /** e.g. `Microsoft.Storage/storageAccounts` */
      readonly type: string;
      readonly apiVersion: string;
      readonly existing: boolean;
      readonly value: Expr;
      readonly decorators: readonly Decorator[];
      readonly line: number;
    }
    | { readonly k: 'module'; readonly name: string; readonly path: string; readonly value: Expr; readonly decorators: readonly Decorator[]; readonly line: number }
    | { readonly k: 'output'; readonly name: string; readonly type: string; readonly value: Expr; readonly decorators: readonly Decorator[]; readonly line: number };

/** A parsed file. */
export interface BicepFile {
  /** Path as given (used in messages). */
  readonly path: string;
  /** `targetScope` of the file; `resourceGroup` when not declared. */
  readonly targetScope: 'resourceGroup' | 'subscription' | 'managementGroup' | 'tenant';
  readonly declarations: readonly Declaration[];
}

type TokenKind = 'id' | 'num' | 'str' | 'punct' | 'nl' | 'eof';
interface Token {
  readonly kind: TokenKind;
  readonly text: string;
  /** For strings: literal parts and the raw source of each interpolation, parsed later. */
  readonly parts?: ReadonlyArray<string | { readonly source: string; readonly line: number }>;
  readonly line: number;
}

const PUNCT = ['=>', '==', '!=', '<=', '>=', '&&', '||', '??', '.?', '=~', '!~', '{', '}', '[', ']', '(', ')', ':', ',', '.', '?', '=', '<', '>', '!', '+', '-', '*', '/', '%', '@'];

function tokenize(text: string, path: string, firstLine = 1): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = firstLine;
  const fail = (what: string): never => {
    throw new BicepSyntaxError(`${path}:${line}: ${what}`);
  };
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\n') {
      tokens.push({ kind: 'nl', text: '\n', line });
      line++;
      i++;
    } else if (c === ' ' || c === '\t' || c === '\r') {
      i++;
    } else if (text.startsWith('//', i)) {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (text.startsWith('/*', i)) {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) fail('unterminated comment');
      for (let j = i; j < end; j++) if (text[j] === '\n') line++;
      i = end + 2;
    } else if (text.startsWith('\'\'\'', i)) {
      const end = text.indexOf('\'\'\'', i + 3);
      if (end < 0) fail('unterminated multi-line string');
      let body = text.slice(i + 3, end);
      if (body.startsWith('\n')) body = body.slice(1);
      tokens.push({ kind: 'str', text: body, parts: [body], line });
      for (const ch of text.slice(i, end)) if (ch === '\n') line++;
      i = end + 3;
    } else if (c === '\'') {
      const start = line;
      const parts: Array<string | { source: string; line: number }> = [];
      let literal = '';
      i++;
      for (;;) {
        if (i >= text.length || text[i] === '\n') fail('unterminated string');
        const ch = text[i]!;
        if (ch === '\'') {
          i++;
          break;
        }
        if (ch === '\\') {
          const next = text[i + 1];
          const escapes: Record<string, string> = { '\\': '\\', '\'': '\'', n: '\n', r: '\r', t: '\t', $: '$' };
          if (next === undefined || !(next in escapes)) fail(`unknown escape \\${next ?? ''}`);
          literal += escapes[next!];
          i += 2;
        } else if (ch === '$' && text[i + 1] === '{') {
          // An interpolation: find its matching brace, minding nested strings and braces.
          let depth = 1;
          let j = i + 2;
          let inString = false;
          while (j < text.length && depth > 0) {
            const d = text[j]!;
            if (d === '\n') fail('line break inside an interpolation');
            if (inString) {
              if (d === '\\') j++;
              else if (d === '\'') inString = false;
            } else if (d === '\'') inString = true;
            else if (d === '{') depth++;
            else if (d === '}') depth--;
            j++;
          }
          if (depth > 0) fail('unterminated interpolation');
          if (literal) parts.push(literal);
          literal = '';
          parts.push({ source: text.slice(i + 2, j - 1), line: start });
          i = j;
        } else {
          literal += ch;
          i++;
        }
      }
      if (literal || parts.length === 0) parts.push(literal);
      tokens.push({ kind: 'str', text: parts.map((p) => (typeof p === 'string' ? p : `\${${p.source}}`)).join(''), parts, line: start });
    } else if (/[0-9]/.test(c)) {
      const m = /^[0-9]+(\.[0-9]+)?/.exec(text.slice(i))!;
      tokens.push({ kind: 'num', text: m[0], line });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i))!;
      tokens.push({ kind: 'id', text: m[0], line });
      i += m[0].length;
    } else {
      const p = PUNCT.find((q) => text.startsWith(q, i));
      if (!p) fail(`unexpected character ${JSON.stringify(c)}`);
      tokens.push({ kind: 'punct', text: p!, line });
      i += p!.length;
    }
  }
  tokens.push({ kind: 'eof', text: '', line });
  return tokens;
}

class Parser {
  private pos = 0;
  constructor(private readonly tokens: Token[], private readonly path: string) {}

  private get t(): Token {
    return this.tokens[this.pos]!;
  }

  private peek(n = 1): Token {
    return this.tokens[Math.min(this.pos + n, this.tokens.length - 1)]!;
  }

  fail(what: string, token: Token = this.t): never {
    const found = token.kind === 'eof' ? 'end of file' : token.kind === 'nl' ? 'line break' : JSON.stringify(token.text);
    throw new BicepSyntaxError(`${this.path}:${token.line}: expected ${what}, found ${found}`);
  }

  private is(text: string): boolean {
    return (this.t.kind === 'punct' || this.t.kind === 'id') && this.t.text === text;
  }

  private accept(text: string): boolean {
    if (!this.is(text)) return false;
    this.pos++;
    return true;
  }

  private expect(text: string): Token {
    if (!this.is(text)) this.fail(`"${text}"`);
    return this.tokens[this.pos++]!;
  }

  private identifier(): string {
    if (this.t.kind !== 'id') this.fail('a name');
    return this.tokens[this.pos++]!.text;
  }

  private skipNewlines(): void {
    while (this.t.kind === 'nl') this.pos++;
  }

  private endOfStatement(): void {
    if (this.t.kind === 'eof') return;
    if (this.t.kind !== 'nl') this.fail('a line break after the declaration');
    this.skipNewlines();
  }

  file(): Declaration[] {
    const out: Declaration[] = [];
    this.skipNewlines();
    while (this.t.kind !== 'eof') {
      const decorators: Decorator[] = [];
      while (this.accept('@')) {
        const name = this.identifier();
        this.expect('(');
        decorators.push({ name, args: this.args(')') });
        this.skipNewlines();
      }
      const line = this.t.line;
      const keyword = this.identifier();
      switch (keyword) {
        case 'targetScope':
          this.expect('=');
          out.push({ k: 'targetScope', value: this.expression(), line });
          break;
        case 'param': {
          const name = this.identifier();
          const type = this.typeName();
          const dflt = this.accept('=') ? this.expression() : undefined;
          out.push({ k: 'param', name, type, ...(dflt ? { default: dflt } : {}), decorators, line });
          break;
        }
        case 'var': {
          const name = this.identifier();
          this.expect('=');
          out.push({ k: 'var', name, value: this.expression(), decorators, line });
          break;
        }
        case 'resource': {
          const name = this.identifier();
          const typeToken = this.t;
          if (typeToken.kind !== 'str' || typeToken.parts?.length !== 1) this.fail('a resource type string \'Type@version\'');
          this.pos++;
          const m = /^([A-Za-z0-9.]+(?:\/[A-Za-z0-9.]+)+)@([0-9]{4}-[0-9]{2}-[0-9]{2}(?:-preview)?)$/.exec(typeToken.text);
          if (!m) this.fail('a resource type of the form Namespace/type@yyyy-mm-dd', typeToken);
          const existing = this.accept('existing');
          this.expect('=');
          out.push({ k: 'resource', name, type: m![1]!, apiVersion: m![2]!, existing, value: this.body(), decorators, line });
          break;
        }
        case 'module': {
          const name = this.identifier();
          const pathToken = this.t;
          if (pathToken.kind !== 'str' || pathToken.parts?.length !== 1) this.fail('a module path string');
          this.pos++;
          this.expect('=');
          out.push({ k: 'module', name, path: pathToken.text, value: this.body(), decorators, line });
          break;
        }
        case 'output': {
          const name = this.identifier();
          const type = this.typeName();
          this.expect('=');
          out.push({ k: 'output', name, type, value: this.expression(), decorators, line });
          break;
        }
        default:
          this.fail('targetScope, param, var, resource, module or output', this.tokens[this.pos - 1]);
      }
      this.endOfStatement();
    }
    return out;
  }

  private typeName(): string {
    const name = this.identifier();
    if (!['string', 'int', 'bool', 'object', 'array'].includes(name)) this.fail('a type (string, int, bool, object, array)', this.tokens[this.pos - 1]);
    return name;
  }

  /** A resource or module body: an object, `if (…) {…}` or `[for … : {…}]`. */
  private body(): Expr {
    const line = this.t.line;
    if (this.accept('if')) {
      this.expect('(');
      this.skipNewlines();
      const condition = this.expression();
      this.skipNewlines();
      this.expect(')');
      if (!this.is('{')) this.fail('an object after the condition');
      return { k: 'if', condition, body: this.primary(), line };
    }
    if (!this.is('{') && !this.is('[')) this.fail('an object, if (…) or [for …]');
    return this.expression();
  }

  private args(close: string): Expr[] {
    const out: Expr[] = [];
    this.skipNewlines();
    while (!this.accept(close)) {
      out.push(this.expression());
      this.skipNewlines();
      if (this.accept(close)) break;
      this.expect(',');
      this.skipNewlines();
    }
    return out;
  }

  expression(): Expr {
    const line = this.t.line;
    // Lambdas: `x => …` and `(x, y) => …`.
    if (this.t.kind === 'id' && this.peek().text === '=>') {
      const param = this.identifier();
      this.expect('=>');
      return { k: 'lambda', params: [param], body: this.expression(), line };
    }
    if (this.is('(')) {
      const params: string[] = [];
      let j = this.pos + 1;
      while (this.tokens[j]?.kind === 'id') {
        params.push(this.tokens[j]!.text);
        if (this.tokens[j + 1]?.text !== ',') {
          j++;
          break;
        }
        j += 2;
      }
      if (params.length > 0 && this.tokens[j]?.text === ')' && this.tokens[j + 1]?.text === '=>') {
        this.pos = j + 2;
        return { k: 'lambda', params, body: this.expression(), line };
      }
    }
    const condition = this.binary(0);
    if (this.accept('?')) {
      this.skipNewlines();
      const then = this.expression();
      this.skipNewlines();
      this.expect(':');
      this.skipNewlines();
      return { k: 'ternary', condition, then, else: this.expression(), line };
    }
    return condition;
  }

  private static readonly LEVELS: readonly (readonly string[])[] = [['??'], ['||'], ['&&'], ['==', '!=', '=~', '!~'], ['<', '>', '<=', '>='], ['+', '-'], ['*', '/', '%']];

  private binary(level: number): Expr {
    if (level >= Parser.LEVELS.length) return this.unary();
    let left = this.binary(level + 1);
    for (;;) {
      const op = Parser.LEVELS[level]!.find((o) => this.t.kind === 'punct' && this.t.text === o);
      if (!op) return left;
      const line = this.t.line;
      this.pos++;
      this.skipNewlines();
      left = { k: 'binary', op, left, right: this.binary(level + 1), line };
    }
  }

  private unary(): Expr {
    const line = this.t.line;
    if (this.t.kind === 'punct' && (this.t.text === '!' || this.t.text === '-')) {
      const op = this.t.text;
      this.pos++;
      return { k: 'unary', op, operand: this.unary(), line };
    }
    return this.postfix(this.primary());
  }

  private postfix(start: Expr): Expr {
    let e = start;
    for (;;) {
      const line = this.t.line;
      if (this.accept('.') || this.accept('.?')) {
        e = { k: 'member', object: e, name: this.identifier(), line };
      } else if (this.is('[')) {
        this.pos++;
        this.skipNewlines();
        const index = this.expression();
        this.skipNewlines();
        this.expect(']');
        e = { k: 'index', object: e, index, line };
      } else if (this.is('(') && (e.k === 'id' || e.k === 'member')) {
        this.pos++;
        e = { k: 'call', callee: e, args: this.args(')'), line };
      } else {
        return e;
      }
    }
  }

  private primary(): Expr {
    const tok = this.t;
    const line = tok.line;
    if (tok.kind === 'num') {
      this.pos++;
      return { k: 'num', value: Number(tok.text), line };
    }
    if (tok.kind === 'str') {
      this.pos++;
      const parts = (tok.parts ?? []).map((p) => {
        if (typeof p === 'string') return p;
        const inner = new Parser(tokenize(p.source, this.path, p.line), this.path);
        const e = inner.expression();
        if (inner.t.kind !== 'eof') inner.fail('the end of the interpolation');
        return e;
      });
      return { k: 'str', parts, line };
    }
    if (tok.kind === 'id') {
      this.pos++;
      if (tok.text === 'true' || tok.text === 'false') return { k: 'bool', value: tok.text === 'true', line };
      if (tok.text === 'null') return { k: 'null', line };
      return { k: 'id', name: tok.text, line };
    }
    if (this.accept('(')) {
      this.skipNewlines();
      const e = this.expression();
      this.skipNewlines();
      this.expect(')');
      return e;
    }
    if (this.accept('{')) return this.objectRest(line);
    if (this.accept('[')) {
      this.skipNewlines();
      if (this.accept('for')) return this.forRest(line);
      const items: Expr[] = [];
      while (!this.accept(']')) {
        items.push(this.expression());
        if (!this.accept(',') && !this.is(']') && this.t.kind !== 'nl') this.fail('a comma, a line break or "]"');
        this.skipNewlines();
      }
      return { k: 'array', items, line };
    }
    return this.fail('an expression');
  }

  private objectRest(line: number): Expr {
    const props: Array<{ key: string; value: Expr }> = [];
    this.skipNewlines();
    while (!this.accept('}')) {
      const keyToken = this.t;
      let key: string;
      if (keyToken.kind === 'id') key = keyToken.text;
      else if (keyToken.kind === 'str' && keyToken.parts?.length === 1 && typeof keyToken.parts[0] === 'string') key = keyToken.parts[0];
      else if (keyToken.kind === 'str') key = keyToken.text; // an interpolated key, e.g. '${identityId}'
      else return this.fail('a property name');
      this.pos++;
      this.expect(':');
      if (props.some((p) => p.key === key)) this.fail(`a property other than the repeated "${key}"`, keyToken);
      // An interpolated key keeps its expression source; the value is all that the checks read.
      props.push({ key, value: this.expression() });
      if (!this.accept(',') && !this.is('}') && this.t.kind !== 'nl') this.fail('a comma, a line break or "}"');
      this.skipNewlines();
    }
    return { k: 'object', props, line };
  }

  private forRest(line: number): Expr {
    let item: string;
    let index: string | undefined;
    if (this.accept('(')) {
      item = this.identifier();
      this.expect(',');
      index = this.identifier();
      this.expect(')');
    } else {
      item = this.identifier();
    }
    this.expect('in');
    const source = this.expression();
    this.expect(':');
    const body = this.is('if') ? this.body() : this.expression();
    this.skipNewlines();
    this.expect(']');
    return { k: 'for', item, ...(index ? { index } : {}), source, body, line };
  }
}

/**
 * Parses one Bicep file. @throws BicepSyntaxError naming `path`, the line and what was expected.
 */
export function parseBicep(text: string, path: string): BicepFile {
  const declarations = new Parser(tokenize(text, path), path).file();
  const scopes = declarations.filter((d) => d.k === 'targetScope');
  if (scopes.length > 1) throw new BicepSyntaxError(`${path}: targetScope is declared ${scopes.length} times`);
  let targetScope: BicepFile['targetScope'] = 'resourceGroup';
  const scope = scopes[0];
  if (scope) {
    const v = literalString(scope.value);
    if (v !== 'resourceGroup' && v !== 'subscription' && v !== 'managementGroup' && v !== 'tenant') {
      throw new BicepSyntaxError(`${path}:${scope.line}: targetScope must be resourceGroup, subscription, managementGroup or tenant`);
    }
    targetScope = v;
  }
  return { path, targetScope, declarations };
}

/** The text of a string literal without interpolation, else undefined. */
export function literalString(e: Expr | undefined): string | undefined {
  if (e?.k !== 'str') return undefined;
  return e.parts.every((p) => typeof p === 'string') ? e.parts.join('') : undefined;
}

/** The property `key` of an object expression, else undefined. */
export function property(e: Expr | undefined, key: string): Expr | undefined {
  return e?.k === 'object' ? e.props.find((p) => p.key === key)?.value : undefined;
}

/** The object a resource or module body declares (through `if` and `for`). */
export function bodyObject(e: Expr): Expr {
  if (e.k === 'if') return bodyObject(e.body);
  if (e.k === 'for') return bodyObject(e.body);
  return e;
}

/**
 * The direct sub-expressions of `e` (interpolations included), each with the names it binds for that
 * child: a `for` body binds its item and index, a lambda body its parameters.
 */
export function children(e: Expr): ReadonlyArray<{ readonly expr: Expr; readonly binds: readonly string[] }> {
  const plain = (...xs: Expr[]) => xs.map((expr) => ({ expr, binds: [] as readonly string[] }));
  switch (e.k) {
    case 'str': return plain(...e.parts.filter((p): p is Expr => typeof p !== 'string'));
    case 'member': return plain(e.object);
    case 'index': return plain(e.object, e.index);
    case 'call': return plain(e.callee, ...e.args);
    case 'object': return plain(...e.props.map((p) => p.value));
    case 'array': return plain(...e.items);
    case 'for': return [...plain(e.source), { expr: e.body, binds: e.index ? [e.item, e.index] : [e.item] }];
    case 'if': return plain(e.condition, e.body);
    case 'lambda': return [{ expr: e.body, binds: e.params }];
    case 'ternary': return plain(e.condition, e.then, e.else);
    case 'binary': return plain(e.left, e.right);
    case 'unary': return plain(e.operand);
    default: return [];
  }
}

/** Every expression under `e`, `e` first (depth-first, interpolations included). */
export function* walk(e: Expr): Generator<Expr> {
  yield e;
  for (const c of children(e)) yield* walk(c.expr);
}

/** Thrown when {@link evaluate} meets an expression it cannot compute (as deployment would fail). */
export class BicepEvaluationError extends Error {}

/** What {@link evaluate} knows of the deployment: parameter values and stand-ins for runtime values. */
export interface EvaluationContext {
  /** Parameter values; a parameter not given takes its default. */
  readonly params: Readonly<Record<string, unknown>>;
  /** Symbol → value for modules and resources (e.g. `{ identity: { outputs: { clientId } } }`). */
  readonly symbols: Readonly<Record<string, unknown>>;
  /** Values of `subscription()`, `environment()` and the like. */
  readonly functions: Readonly<Record<string, unknown>>;
}

const fnOf = (v: unknown, name: string): ((...a: unknown[]) => unknown) => {
  if (typeof v !== 'function') throw new BicepEvaluationError(`${name}: expected a lambda`);
  return v as (...a: unknown[]) => unknown;
};
const arrOf = (v: unknown, name: string): unknown[] => {
  if (!Array.isArray(v)) throw new BicepEvaluationError(`${name}: expected an array, got ${JSON.stringify(v)}`);
  return v;
};
const strOf = (v: unknown, name: string): string => {
  if (typeof v !== 'string') throw new BicepEvaluationError(`${name}: expected a string, got ${JSON.stringify(v)}`);
  return v;
};

/** The built-in functions {@link evaluate} computes, with ARM's semantics for the cases infra/ uses. */
const BUILTINS: Record<string, (...a: unknown[]) => unknown> = {
  split: (s, d) => strOf(s, 'split').split(strOf(d, 'split')),
  trim: (s) => strOf(s, 'trim').trim(),
  toLower: (s) => strOf(s, 'toLower').toLowerCase(),
  toUpper: (s) => strOf(s, 'toUpper').toUpperCase(),
  replace: (s, a, b) => strOf(s, 'replace').split(strOf(a, 'replace')).join(strOf(b, 'replace')),
  join: (a, d) => arrOf(a, 'join').map((x) => strOf(x, 'join')).join(strOf(d, 'join')),
  empty: (v) => v === null || v === '' || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && v !== null && Object.keys(v).length === 0),
  length: (v) => (typeof v === 'string' || Array.isArray(v) ? v.length : Object.keys(v as object).length),
  map: (a, f) => arrOf(a, 'map').map((x, i) => fnOf(f, 'map')(x, i)),
  filter: (a, f) => arrOf(a, 'filter').filter((x, i) => fnOf(f, 'filter')(x, i) === true),
  take: (a, n) => arrOf(a, 'take').slice(0, Number(n)),
  skip: (a, n) => arrOf(a, 'skip').slice(Number(n)),
  toObject: (a, k, v) => Object.fromEntries(arrOf(a, 'toObject').map((x) => [strOf(fnOf(k, 'toObject')(x), 'toObject key'), v === undefined ? x : fnOf(v, 'toObject')(x)])),
  union: (...xs) => (xs.every(Array.isArray) ? [...new Set(xs.flat())] : Object.assign({}, ...xs.map((x) => x as object))),
  string: (v) => (typeof v === 'string' ? v : JSON.stringify(v)),
  json: (s) => JSON.parse(strOf(s, 'json')) as unknown,
};

/**
 * Computes a Bicep expression of `file` (e.g. a var) with ARM's semantics for the functions infra/ uses,
 * so that tests can check what a deployment would produce from given parameters. Module outputs and
 * deployment functions come from `context`.
 * @throws BicepEvaluationError for an index out of range, a wrong type or an unknown function, as the
 *   deployment would fail.
 */
export function evaluate(file: BicepFile, expr: Expr, context: EvaluationContext, locals: ReadonlyMap<string, unknown> = new Map()): unknown {
  const ev = (e: Expr, l: ReadonlyMap<string, unknown> = locals): unknown => evaluate(file, e, context, l);
  switch (expr.k) {
    case 'str':
      return expr.parts.map((p) => (typeof p === 'string' ? p : BUILTINS.string!(ev(p)))).join('');
    case 'num':
    case 'bool':
      return expr.value;
    case 'null':
      return null;
    case 'id': {
      if (locals.has(expr.name)) return locals.get(expr.name);
      if (expr.name in context.symbols) return context.symbols[expr.name];
      const d = file.declarations.find((x) => x.k !== 'targetScope' && x.k !== 'output' && x.name === expr.name);
      if (d?.k === 'var') return ev(d.value, new Map());
      if (d?.k === 'param') {
        if (expr.name in context.params) return context.params[expr.name];
        if (d.default) return ev(d.default, new Map());
        throw new BicepEvaluationError(`parameter ${expr.name} has no value`);
      }
      throw new BicepEvaluationError(`${file.path}:${expr.line}: ${expr.name} has no value here`);
    }
    case 'member': {
      const o = ev(expr.object);
      if (typeof o !== 'object' || o === null || !(expr.name in o)) throw new BicepEvaluationError(`${file.path}:${expr.line}: no property ${expr.name}`);
      return (o as Record<string, unknown>)[expr.name];
    }
    case 'index': {
      const o = ev(expr.object);
      const i = ev(expr.index);
      if (Array.isArray(o)) {
        if (typeof i !== 'number' || i < 0 || i >= o.length) throw new BicepEvaluationError(`${file.path}:${expr.line}: index ${String(i)} is out of range (length ${o.length})`);
        return o[i];
      }
      if (typeof o === 'object' && o !== null && typeof i === 'string' && i in o) return (o as Record<string, unknown>)[i];
      throw new BicepEvaluationError(`${file.path}:${expr.line}: cannot index ${JSON.stringify(o)} with ${JSON.stringify(i)}`);
    }
    case 'call': {
      if (expr.callee.k !== 'id') throw new BicepEvaluationError(`${file.path}:${expr.line}: only plain function calls are evaluated`);
      const name = expr.callee.name;
      if (name in context.functions) return context.functions[name];
      const f = BUILTINS[name];
      if (!f) throw new BicepEvaluationError(`${file.path}:${expr.line}: ${name}() is not evaluated by this reader`);
      return f(...expr.args.map((a) => ev(a)));
    }
    case 'object':
      return Object.fromEntries(expr.props.map((p) => [p.key, ev(p.value)]));
    case 'array':
      return expr.items.map((i) => ev(i));
    case 'for':
      return arrOf(ev(expr.source), 'for').map((x, i) => ev(expr.body, new Map([...locals, [expr.item, x], ...(expr.index ? [[expr.index, i] as const] : [])])));
    case 'if':
      return ev(expr.condition) === true ? ev(expr.body) : undefined;
    case 'lambda':
      return (...args: unknown[]) => ev(expr.body, new Map([...locals, ...expr.params.map((p, i) => [p, args[i]] as const)]));
    case 'ternary':
      return ev(expr.condition) === true ? ev(expr.then) : ev(expr.else);
    case 'unary': {
      const v = ev(expr.operand);
      if (expr.op === '!') return v !== true;
      return -(v as number);
    }
    case 'binary': {
      const l = ev(expr.left);
      if (expr.op === '&&') return l === true && ev(expr.right) === true;
      if (expr.op === '||') return l === true || ev(expr.right) === true;
      const r = ev(expr.right);
      switch (expr.op) {
        case '==': return l === r;
        case '!=': return l !== r;
        case '>': return (l as number) > (r as number);
        case '<': return (l as number) < (r as number);
        case '>=': return (l as number) >= (r as number);
        case '<=': return (l as number) <= (r as number);
        case '+': return (l as number) + (r as number);
        case '-': return (l as number) - (r as number);
        case '??': return l ?? r;
        default: throw new BicepEvaluationError(`${file.path}:${expr.line}: operator ${expr.op} is not evaluated by this reader`);
      }
    }
    default:
      throw new BicepEvaluationError(`${file.path}: cannot evaluate this expression`);
  }
}
