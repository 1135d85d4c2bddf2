// The JSON Canonicalization Scheme (RFC 8785): one value, one byte sequence, whoever serialises it.
// Event digests, chain links and record signatures are all taken over this form. Written out by
// hand because it runs for every event; the `canonicalize` package is its test oracle.

export class CanonicalJsonError extends Error {
  override readonly name = 'CanonicalJsonError';
}

const quotedKeys = new Map<string, string>();
const quoteKey = (k: string): string => {
  let q = quotedKeys.get(k);
  if (q === undefined) {
    q = JSON.stringify(k);
    // Documents have a few dozen distinct keys; the bound only guards against odd input.
    if (quotedKeys.size < 10_000) quotedKeys.set(k, q);
  }
  return q;
};

/**
 * RFC 8785 text of a JSON value: object keys sorted by UTF-16 code units at every level, numbers
 * as ECMAScript prints them, strings escaped as JSON.stringify does. Properties whose value is
 * undefined are left out (as JSON.stringify does); NaN and the infinities have no JSON form and throw.
 */
export function canonicalize(v: unknown): string {
  const s = canon(v);
  if (s === undefined) throw new CanonicalJsonError(`a ${typeof v} has no JSON form`);
  return s;
}

function canon(v: unknown): string | undefined {
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'number':
      if (!Number.isFinite(v)) throw new CanonicalJsonError(`${v} has no JSON form`);
      // ECMAScript's Number-to-String is JCS's number form (and gives "0" for -0).
      return String(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object':
      break;
    default:
      return undefined;
  }
  if (v === null) return 'null';
  if (Array.isArray(v)) {
    let s = '[';
    for (let i = 0; i < v.length; i++) s += (i ? ',' : '') + (canon(v[i]) ?? 'null');
    return `${s}]`;
  }
  const o = v as Record<string, unknown>;
  // Array.prototype.sort without a comparator orders by UTF-16 code units, as RFC 8785 asks.
  const keys = Object.keys(o).sort();
  let s = '{';
  let first = true;
  for (const k of keys) {
    const x = canon(o[k]);
    if (x === undefined) continue;
    s += `${first ? '' : ','}${quoteKey(k)}:${x}`;
    first = false;
  }
  return `${s}}`;
}
