/**
 * What the collector read, or why it could not read it. Never a guess.
 *
 * Source: shared/design/ARCHITECTURE.md, "Observed data": a rule whose verdict depends on an
 * unread value returns `unknown` with that reason.
 */
export type Observed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

/** Wraps a value that was read. */
export function read<T>(value: T): Observed<T> {
  return { ok: true, value };
}

/** Records that a value could not be read, and why (shown in `unknown` findings). */
export function unread<T = never>(reason: string): Observed<T> {
  return { ok: false, reason };
}

/** Applies `f` to a read value; an unread value stays unread with its reason. */
export function mapObserved<T, U>(o: Observed<T>, f: (value: T) => U): Observed<U> {
  return o.ok ? read(f(o.value)) : o;
}

/**
 * A three-valued fact (Kleene logic): true, false, or unknown because data was not read.
 * `why` explains a known value in words a finding message can quote.
 */
export type Fact
  = | { readonly ok: true; readonly value: boolean; readonly why: string }
    | { readonly ok: false; readonly reason: string };

/** A known fact with its explanation. */
export function fact(value: boolean, why: string): Fact {
  return { ok: true, value, why };
}

/**
 * Kleene AND: false if any operand is known false (its `why` is kept), unknown if any is unknown,
 * true otherwise. Operands are evaluated lazily so that an applicability test never touches data
 * a known-false operand already made irrelevant.
 */
export function allOf(...operands: Array<() => Fact>): Fact {
  let unknown: Fact | undefined;
  const whys: string[] = [];
  for (const operand of operands) {
    const f = operand();
    if (!f.ok) {
      unknown ??= f;
      continue;
    }
    if (!f.value) return f;
    whys.push(f.why);
  }
  return unknown ?? fact(true, whys.join('; '));
}

/** Kleene NOT. */
export function not(f: Fact, why?: string): Fact {
  return f.ok ? fact(!f.value, why ?? f.why) : f;
}

/** Kleene OR: true if any operand is known true, unknown if any is unknown, false otherwise. */
export function anyOf(...operands: Array<() => Fact>): Fact {
  let unknown: Fact | undefined;
  const whys: string[] = [];
  for (const operand of operands) {
    const f = operand();
    if (!f.ok) {
      unknown ??= f;
      continue;
    }
    if (f.value) return f;
    whys.push(f.why);
  }
  return unknown ?? fact(false, whys.join('; '));
}
