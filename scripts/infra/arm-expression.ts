/**
 * ARM template expressions (`[function(args).property[index]]`), for the parts of a deployment snapshot
 * that only Azure can compute. Bicep's snapshot (Microsoft's template engine) evaluates everything it can;
 * what depends on a resource that exists only once deployed — `reference(id, apiVersion).clientId`, a role
 * assignment name hashed from it, `environment()` — stays an expression string. Grammar source: "Syntax and
 * expressions in ARM templates" (learn.microsoft.com/azure/azure-resource-manager/templates/template-expressions):
 * a string in brackets holds one function call; arguments are strings in single quotes (`''` escapes one),
 * integers, or function calls; a value is followed by `.property` or `[index]`; `[[` starts a literal string.
 */

/** An expression: a literal, a function call, or a property or index of one. */
export type ArmExpression
  = | { readonly k: 'string'; readonly value: string }
    | { readonly k: 'number'; readonly value: number }
    | { readonly k: 'call'; readonly name: string; readonly args: readonly ArmExpression[] }
    | { readonly k: 'property'; readonly object: ArmExpression; readonly name: string }
    | { readonly k: 'index'; readonly object: ArmExpression; readonly index: ArmExpression };

/** Thrown for text that is not an expression, or one that cannot be evaluated; the message says where. */
export class ArmExpressionError extends Error {}

class Parser {
  private i = 0;
  constructor(private readonly text: string) {}

  private fail(what: string): never {
    throw new ArmExpressionError(`expected ${what} at ${this.i} in ${this.text}`);
  }

  private space(): void {
    while (this.text[this.i] === ' ') this.i++;
  }

  private eat(c: string): boolean {
    this.space();
    if (this.text[this.i] !== c) return false;
    this.i++;
    return true;
  }

  whole(): ArmExpression {
    const e = this.value();
    this.space();
    if (this.i !== this.text.length) this.fail('the end');
    if (e.k !== 'call' && e.k !== 'property' && e.k !== 'index') this.fail('a function call');
    return e;
  }

  private value(): ArmExpression {
    this.space();
    let e: ArmExpression;
    const c = this.text[this.i];
    if (c === '\'') {
      let s = '';
      for (this.i++; ; this.i++) {
        if (this.i >= this.text.length) this.fail('the end of a string');
        if (this.text[this.i] === '\'') {
          if (this.text[this.i + 1] !== '\'') break;
          this.i++;
        }
        s += this.text[this.i];
      }
      this.i++;
      e = { k: 'string', value: s };
    } else if (c !== undefined && /[-0-9]/.test(c)) {
      const m = /^-?[0-9]+/.exec(this.text.slice(this.i)) ?? this.fail('a number');
      this.i += m[0].length;
      e = { k: 'number', value: Number(m[0]) };
    } else {
      const m = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(this.text.slice(this.i)) ?? this.fail('a value');
      this.i += m[0].length;
      if (!this.eat('(')) this.fail(`"(" after ${m[0]}`);
      const args: ArmExpression[] = [];
      if (!this.eat(')')) {
        do args.push(this.value());
        while (this.eat(','));
        if (!this.eat(')')) this.fail('")"');
      }
      e = { k: 'call', name: m[0].toLowerCase(), args };
    }
    for (;;) {
      if (this.eat('.')) {
        const m = /^[A-Za-z_$][A-Za-z0-9_$]*/.exec(this.text.slice(this.i)) ?? this.fail('a property name');
        this.i += m[0].length;
        e = { k: 'property', object: e, name: m[0] };
      } else if (this.eat('[')) {
        const index = this.value();
        if (!this.eat(']')) this.fail('"]"');
        e = { k: 'index', object: e, index };
      } else {
        return e;
      }
    }
  }
}

/**
 * The expression a template string holds: `undefined` for a literal — a string not in brackets, one that
 * starts with `[[` (an escaped literal), or one in brackets that is not an expression (the JSON text of an
 * array such as `[{"name":"A"}]`, which an evaluated `string()` yields).
 */
export function expressionOf(text: string): ArmExpression | undefined {
  if (!text.startsWith('[') || !text.endsWith(']') || text.startsWith('[[')) return undefined;
  try {
    return new Parser(text.slice(1, -1)).whole();
  } catch (err) {
    if (err instanceof ArmExpressionError) return undefined;
    throw err;
  }
}

/** Functions by lower-case name; each gets its evaluated arguments. */
export type ArmFunctions = Readonly<Record<string, (...args: unknown[]) => unknown>>;

/**
 * Evaluates an expression with `functions` (names in lower case, as ARM's are case-insensitive).
 * @throws ArmExpressionError for a function not in `functions`, or a property or index that does not exist.
 */
export function evaluateExpression(e: ArmExpression, functions: ArmFunctions): unknown {
  switch (e.k) {
    case 'string':
    case 'number':
      return e.value;
    case 'call': {
      const f = functions[e.name];
      if (!f) throw new ArmExpressionError(`${e.name}() is not evaluated here`);
      return f(...e.args.map((a) => evaluateExpression(a, functions)));
    }
    case 'property': {
      const o = evaluateExpression(e.object, functions);
      if (typeof o !== 'object' || o === null || !(e.name in o)) throw new ArmExpressionError(`no property ${e.name} in ${JSON.stringify(o)}`);
      return (o as Record<string, unknown>)[e.name];
    }
    case 'index': {
      const o = evaluateExpression(e.object, functions);
      const i = evaluateExpression(e.index, functions);
      const v = Array.isArray(o) && typeof i === 'number' ? o[i] : typeof o === 'object' && o !== null && typeof i === 'string' ? (o as Record<string, unknown>)[i] : undefined;
      if (v === undefined) throw new ArmExpressionError(`no [${JSON.stringify(i)}] in ${JSON.stringify(o)}`);
      return v;
    }
  }
}
