// A strict KQL subset, translated to the Elasticsearch query Kibana's KQL builds, so the saved
// searches run against a real Elasticsearch without Kibana: field:value, field:"phrase",
// field:(a or b), field:* (exists), field:pre* (wildcard), and, or, not, parentheses. Anything
// else is a syntax error here, so a saved search cannot use KQL this check does not cover.

type Node = object;

export class KqlError extends Error {
  override readonly name = 'KqlError';
}

interface Token {
  kind: 'word' | 'quoted' | '(' | ')' | ':' | 'and' | 'or' | 'not' | 'end';
  text: string;
  at: number;
}

function tokens(q: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < q.length) {
    const c = q[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '(' || c === ')' || c === ':') {
      out.push({ kind: c, text: c, at: i++ });
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      let s = '';
      while (j < q.length && q[j] !== '"') {
        if (q[j] === '\\') j++;
        s += q[j++];
      }
      if (j >= q.length) throw new KqlError(`unterminated quote at ${i}`);
      out.push({ kind: 'quoted', text: s, at: i });
      i = j + 1;
      continue;
    }
    let j = i;
    while (j < q.length && !/[\s():"]/.test(q[j]!)) {
      if ('\\<>{}'.includes(q[j]!)) throw new KqlError(`"${q[j]}" at ${j} is outside the supported KQL subset`);
      j++;
    }
    const w = q.slice(i, j);
    const lw = w.toLowerCase();
    out.push({ kind: lw === 'and' || lw === 'or' || lw === 'not' ? lw : 'word', text: w, at: i });
    i = j;
  }
  out.push({ kind: 'end', text: '', at: q.length });
  return out;
}

/** Kibana escapes query_string's reserved characters in a wildcard value, keeping the *. */
const qsEscape = (v: string): string => v.replace(/[+\-=&|><!(){}[\]^"~?:\\/ ]/g, '\\$&');

export function kqlToQuery(q: string): Node {
  const t = tokens(q);
  let p = 0;
  const peek = (): Token => t[p]!;
  const take = (kind: Token['kind']): Token => {
    const x = t[p]!;
    if (x.kind !== kind) throw new KqlError(`expected ${kind} at ${x.at}, found "${x.text || 'the end'}"`);
    p++;
    return x;
  };
  const value = (field: string, v: Token): Node => {
    if (v.kind === 'quoted') return { match_phrase: { [field]: v.text } };
    if (v.text === '*') return { exists: { field } };
    if (v.text.includes('*')) return { query_string: { fields: [field], query: qsEscape(v.text).replace(/\\\*/g, '*') } };
    return { match: { [field]: v.text } };
  };
  const or = (): Node => {
    const xs = [and()];
    while (peek().kind === 'or') {
      p++;
      xs.push(and());
    }
    return xs.length === 1 ? xs[0]! : { bool: { should: xs, minimum_should_match: 1 } };
  };
  const and = (): Node => {
    const xs = [not()];
    while (peek().kind === 'and') {
      p++;
      xs.push(not());
    }
    return xs.length === 1 ? xs[0]! : { bool: { filter: xs } };
  };
  const not = (): Node => {
    if (peek().kind === 'not') {
      p++;
      return { bool: { must_not: [not()] } };
    }
    return primary();
  };
  const primary = (): Node => {
    if (peek().kind === '(') {
      p++;
      const e = or();
      take(')');
      return e;
    }
    const field = take('word').text;
    take(':');
    if (peek().kind === '(') {
      p++;
      const vs = [value(field, valueToken())];
      while (peek().kind === 'or') {
        p++;
        vs.push(value(field, valueToken()));
      }
      take(')');
      return vs.length === 1 ? vs[0]! : { bool: { should: vs, minimum_should_match: 1 } };
    }
    return value(field, valueToken());
  };
  const valueToken = (): Token => {
    const x = peek();
    if (x.kind !== 'word' && x.kind !== 'quoted') throw new KqlError(`expected a value at ${x.at}, found "${x.text || 'the end'}"`);
    p++;
    return x;
  };
  const e = or();
  take('end');
  return e;
}
