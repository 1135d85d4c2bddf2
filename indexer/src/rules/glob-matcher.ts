// Rule globs (`**`, `*`, `?`, literals; anchored) matched without backtracking: the pattern is a
// row of positions and a path is read once, left to right, moving a bitset of live positions.
// A JavaScript RegExp backtracks on `/**/a/**/a/**/zzz`-like globs and can hold the indexer for
// minutes on one long path; here the time is the path length times the pattern's machine words.

/**
 * The complexity bound the rule loader enforces on every glob (docs/rules.md). The matching cost
 * is one step per path character over ceil((tokens + 1) / 32) 32-bit words, so the length bound
 * caps it at 9 words; the wildcard bound keeps a glob reviewable and its kernel prefix meaningful.
 */
export const GLOB_LIMITS = {
  /** UTF-16 code units of the glob as written. */
  maxLength: 256,
  /** `**`, `*` and `?` together, each `**` counting once. */
  maxWildcards: 32,
} as const;

const enum Kind {
  Literal,
  One, // `?`: one character but '/'
  Star, // `*`: any run without '/'
  GlobStar, // `**`: any run
}

interface Token {
  kind: Kind;
  /** The character code of a literal. */
  code: number;
}

const SLASH = 0x2f;
const STAR = 0x2a;
const QUESTION = 0x3f;

/** The pattern as written, read left to right: `**` wherever two stars meet, as the rule language always did. */
function tokenize(glob: string): Token[] {
  const out: Token[] = [];
  for (let i = 0; i < glob.length; i++) {
    const c = glob.charCodeAt(i);
    if (c === STAR && glob.charCodeAt(i + 1) === STAR) {
      out.push({ kind: Kind.GlobStar, code: 0 });
      i++;
    } else if (c === STAR) out.push({ kind: Kind.Star, code: 0 });
    else if (c === QUESTION) out.push({ kind: Kind.One, code: 0 });
    else out.push({ kind: Kind.Literal, code: c });
  }
  return out;
}

/** The wildcards a glob holds, counted as the loader's bound counts them. */
export function globWildcards(glob: string): number {
  return tokenize(glob).filter((t) => t.kind !== Kind.Literal).length;
}

/** Why a glob is over the complexity bound, or undefined when it is within it. */
export function globProblem(glob: string): string | undefined {
  if (glob.length > GLOB_LIMITS.maxLength) return `is ${glob.length} characters long; a glob has at most ${GLOB_LIMITS.maxLength}`;
  const w = globWildcards(glob);
  if (w > GLOB_LIMITS.maxWildcards) return `has ${w} wildcards (*, **, ?); a glob has at most ${GLOB_LIMITS.maxWildcards}`;
  return undefined;
}

/**
 * Adjacent stars merge into one self-loop: `**` next to `*` or `**` matches what `**` alone does.
 * After this no star follows a star, so the empty match of a star is one step of closure.
 */
function merge(tokens: Token[]): Token[] {
  const out: Token[] = [];
  for (const t of tokens) {
    const last = out[out.length - 1];
    if (last && t.kind >= Kind.Star && last.kind >= Kind.Star) last.kind = Kind.GlobStar;
    else out.push({ ...t });
  }
  return out;
}

export interface GlobMatcher {
  readonly glob: string;
  /** True when the whole of `s` matches. Time linear in `s.length` for a fixed glob. */
  test(s: string): boolean;
}

/** Compiles one glob. It does not check the complexity bound: the rule loader does. */
export function compileGlob(glob: string): GlobMatcher {
  const tokens = merge(tokenize(glob));
  if (tokens.every((t) => t.kind === Kind.Literal)) return { glob, test: (s) => s === glob };
  return new BitsetGlob(glob, tokens);
}

/**
 * Position i is live once the first i tokens matched a prefix of the path; position n (all
 * tokens) live at the end means a match. Per character: a live literal or `?` position whose
 * token takes the character moves to i + 1, a live star stays, then every live star also makes
 * the position after it live (the star matching nothing).
 */
class BitsetGlob implements GlobMatcher {
  private readonly words: number;
  private readonly accept: number;
  /** Masks of `words` words each: [0] moves on a character the pattern does not name, [1] on '/', then one per literal character. */
  private readonly advance: Uint32Array;
  private readonly classOf = new Map<number, number>();
  private readonly asciiClass = new Int32Array(128);
  /** Self-loops on '/' (`**` only) and on any other character (`**` and `*`). */
  private readonly loopSlash: Uint32Array;
  private readonly loopOther: Uint32Array;
  private readonly stars: Uint32Array;
  private readonly start: Uint32Array;

  constructor(
    readonly glob: string,
    tokens: Token[],
  ) {
    const n = tokens.length;
    const W = (this.words = ((n + 1 + 31) >>> 5) | 0);
    this.accept = n;
    const literals = [...new Set(tokens.filter((t) => t.kind === Kind.Literal && t.code !== SLASH).map((t) => t.code))];
    this.advance = new Uint32Array((2 + literals.length) * W);
    literals.forEach((c, k) => (c < 128 ? (this.asciiClass[c] = 2 + k) : this.classOf.set(c, 2 + k)));
    this.asciiClass[SLASH] = 1;
    this.loopSlash = new Uint32Array(W);
    this.loopOther = new Uint32Array(W);
    this.stars = new Uint32Array(W);
    const set = (m: Uint32Array, off: number, i: number): void => {
      m[off + (i >>> 5)] |= 1 << (i & 31);
    };
    tokens.forEach((t, i) => {
      if (t.kind === Kind.Literal) set(this.advance, (t.code === SLASH ? 1 : 2 + literals.indexOf(t.code)) * W, i);
      else if (t.kind === Kind.One) for (let k = 0; k < 2 + literals.length; k++) if (k !== 1) set(this.advance, k * W, i);
      if (t.kind === Kind.GlobStar) set(this.loopSlash, 0, i);
      if (t.kind === Kind.GlobStar || t.kind === Kind.Star) {
        set(this.loopOther, 0, i);
        set(this.stars, 0, i);
      }
    });
    this.start = new Uint32Array(W);
    set(this.start, 0, 0);
    if (tokens[0]!.kind >= Kind.Star) set(this.start, 0, 1);
  }

  test(s: string): boolean {
    return this.words === 1 ? this.testOneWord(s) : this.testWords(s);
  }

  /** The common case (up to 31 tokens, every built-in glob): the bitset is one number. */
  private testOneWord(s: string): boolean {
    const { advance, asciiClass, classOf } = this;
    const loopSlash = this.loopSlash[0]!;
    const loopOther = this.loopOther[0]!;
    const stars = this.stars[0]!;
    let d = this.start[0]!;
    for (let p = 0; p < s.length; p++) {
      const c = s.charCodeAt(p);
      let x = (d & advance[c < 128 ? asciiClass[c]! : (classOf.get(c) ?? 0)]!) << 1;
      x |= d & (c === SLASH ? loopSlash : loopOther);
      x |= (x & stars) << 1;
      if (x === 0) return false;
      d = x;
    }
    return ((d >>> this.accept) & 1) === 1;
  }

  private testWords(s: string): boolean {
    // Fields into locals: the loop stores into typed arrays, so the engine would reload them per step.
    const { words: W, advance, asciiClass, classOf, loopSlash, loopOther, stars } = this;
    let cur = this.start.slice();
    let next = new Uint32Array(W);
    for (let p = 0; p < s.length; p++) {
      const c = s.charCodeAt(p);
      const adv = (c < 128 ? asciiClass[c]! : (classOf.get(c) ?? 0)) * W;
      const loop = c === SLASH ? loopSlash : loopOther;
      let carryMove = 0;
      let carryStar = 0;
      let live = 0;
      for (let w = 0; w < W; w++) {
        const d = cur[w]!;
        const moved = d & advance[adv + w]!;
        let x = (moved << 1) | carryMove | (d & loop[w]!);
        const star = x & stars[w]!;
        x |= (star << 1) | carryStar;
        carryMove = moved >>> 31;
        carryStar = star >>> 31;
        next[w] = x;
        live |= x;
      }
      // Nothing live: no continuation of the path can match.
      if (live === 0) return false;
      const t = cur;
      cur = next;
      next = t;
    }
    return (cur[this.accept >>> 5]! & (1 << (this.accept & 31))) !== 0;
  }
}

/** A predicate that holds when any of the globs matches the whole value; undefined for no globs. */
export function anyGlob(globs: string[] | undefined): ((v: string | undefined) => boolean) | undefined {
  if (!globs) return undefined;
  const ms = globs.map(compileGlob);
  return (v) => v !== undefined && ms.some((m) => m.test(v));
}
