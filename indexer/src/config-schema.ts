// The config files people write (rule files, retention policies) are checked against a JSON schema
// with ajv; this hands each failure back with the path to its place, so the file's loader can say it
// in its own words and point at the line.
import Ajv, { type ErrorObject } from 'ajv';

export type Segment = string | number;

export interface SchemaProblem {
  /** Path to the value at fault; for a missing or an unknown key, the path to that key. */
  path: Segment[];
  /** The ajv keyword that failed: type, enum, pattern, required, additionalProperties, ... */
  keyword: string;
  params: Record<string, unknown>;
  /** ajv's own wording, for a failure the loader has no sentence for. */
  message: string;
  /** The value at fault (for a missing or an unknown key, the mapping that lacks or has it). */
  value: unknown;
  /** The schema object that holds the failed keyword: the loaders key their sentences on it. */
  schema: JsonSchema;
}

/** The part of JSON Schema these files use, as far as walking it goes. */
export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  [keyword: string]: unknown;
}

// allErrors: a file's author fixes everything in one pass. verbose: the failing schema object and
// value come with each error. strictRequired stays off: "exactly one of" is written as oneOf over
// required lists, which name properties declared next to the oneOf, not inside it.
const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, strictRequired: false, allowUnionTypes: true });

export type Say = (p: SchemaProblem) => string | undefined;

/** What a file's problems are called, in its own words, keyed by the schema object that failed. */
export class Sentences {
  private readonly bySchema = new Map<object, Say>();

  /** The schema, marked: its failures are told by `say` (which returns undefined to leave one to the default). */
  on(schema: JsonSchema, say: Say): JsonSchema {
    this.bySchema.set(schema, say);
    return schema;
  }

  /** A missing key is told by the key's own schema when that has a sentence ("count must be an integer"). */
  tell(p: SchemaProblem, otherwise: (p: SchemaProblem) => string): string {
    const own = p.keyword === 'required' ? p.schema.properties?.[String(p.params.missingProperty)] : undefined;
    return this.bySchema.get(p.schema)?.(p) ?? (own && this.bySchema.get(own)?.(p)) ?? otherwise(p);
  }
}

/** A checker for one schema: every problem of a value, or none. */
export function schemaChecker(schema: JsonSchema): (data: unknown) => SchemaProblem[] {
  const validate = ajv.compile(schema);
  return (data) => (validate(data) ? [] : problems(data, validate.errors ?? []));
}

function problems(data: unknown, errors: ErrorObject[]): SchemaProblem[] {
  // A oneOf or anyOf that fails says so itself; the failures of its branches are not the author's
  // problem (a hold that names neither host nor index lacks "one of them", not each of them).
  const combinators = errors.filter((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf').map((e) => `${e.schemaPath}/`);
  // A value of the wrong type has that one problem: a number where a hold belongs is not also
  // "a hold with neither host nor index".
  const mistyped = new Set(errors.filter((e) => e.keyword === 'type').map((e) => e.instancePath));
  return errors
    .filter((e) => !combinators.some((c) => e.schemaPath.startsWith(c)))
    .filter((e) => e.keyword === 'type' || !mistyped.has(e.instancePath))
    .map((e) => {
      const path = instancePath(data, e.instancePath);
      const key = e.keyword === 'required' ? e.params.missingProperty : e.keyword === 'additionalProperties' ? e.params.additionalProperty : undefined;
      return { path: typeof key === 'string' ? [...path, key] : path, keyword: e.keyword, params: e.params, message: e.message ?? 'is invalid', value: e.data, schema: e.parentSchema as JsonSchema };
    });
}

/** "/rules/0/match" as ['rules', 0, 'match']: indices where the value is a list. */
function instancePath(data: unknown, pointer: string): Segment[] {
  const out: Segment[] = [];
  let at = data;
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const index = Array.isArray(at) ? Number(seg) : undefined;
    out.push(index ?? seg);
    at = at !== null && typeof at === 'object' ? (at as Record<string, unknown>)[seg] : undefined;
  }
  return out;
}

/**
 * A sort key that lists a file's problems in the schema's order: a mapping's unknown keys first,
 * then its own problem, then its properties in the order the schema declares them; list items by
 * index.
 */
export function schemaOrder(root: JsonSchema, p: SchemaProblem): number[] {
  const out: number[] = [];
  let s: JsonSchema | undefined = root;
  for (const seg of p.path) {
    if (typeof seg === 'number') {
      out.push(seg);
      s = s?.items;
    } else {
      out.push(Object.keys(s?.properties ?? {}).indexOf(seg));
      s = s?.properties?.[seg];
    }
  }
  if (p.keyword !== 'required' && p.keyword !== 'additionalProperties') out.push(-0.5);
  return out;
}

export function compareOrder(a: number[], b: number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}
