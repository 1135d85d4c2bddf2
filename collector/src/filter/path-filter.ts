// The user-space twin of the kernel's path-prefix filter, for names the kernel could not judge
// (relative or not normalised): the same rules, so an event is kept or dropped the same way
// whichever side decides. The longest matching byte prefix decides.
import type { FilterOptions } from '../probe/native';

export class PathFilter {
  private readonly entries: { prefix: Buffer; include: boolean }[];
  private readonly hasInclude: boolean;

  constructor(filters: FilterOptions | undefined) {
    const toBuf = (p: string | Buffer) => (typeof p === 'string' ? Buffer.from(p) : p);
    this.entries = [
      ...(filters?.includePaths ?? []).map((p) => ({ prefix: toBuf(p), include: true })),
      ...(filters?.excludePaths ?? []).map((p) => ({ prefix: toBuf(p), include: false })),
    ];
    this.hasInclude = this.entries.some((e) => e.include);
  }

  get active(): boolean {
    return this.entries.length > 0;
  }

  /** True when the path is filtered out. */
  drops(path: Buffer): boolean {
    let best: { prefix: Buffer; include: boolean } | undefined;
    for (const e of this.entries) {
      if (e.prefix.length <= path.length && path.subarray(0, e.prefix.length).equals(e.prefix)) {
        // Equal lengths: the kernel's trie keeps one entry per prefix and the later write wins,
        // which is the exclude (excludes are written after includes).
        if (!best || e.prefix.length >= best.prefix.length) best = e;
      }
    }
    if (best) return !best.include;
    return this.hasInclude;
  }
}
