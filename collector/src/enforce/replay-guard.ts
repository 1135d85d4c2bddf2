// Remembers every accepted command's nonce until the command expires, on disk, so a command cannot
// be played twice, not even across a collector restart.
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../../../stack/src/atomic-write';

export class ReplayGuard {
  private readonly seen = new Map<string, number>();
  private readonly file: string;

  constructor(stateDir: string) {
    this.file = path.join(stateDir, 'command-nonces.json');
    try {
      const saved = JSON.parse(fs.readFileSync(this.file, 'utf8')) as Record<string, number>;
      for (const [n, exp] of Object.entries(saved)) this.seen.set(n, exp);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot read ${this.file}: ${(e as Error).message}`);
    }
  }

  /** True the first time a nonce is offered (and records it, durably); false for a replay. */
  accept(nonce: string, exp: number, now: number): boolean {
    for (const [n, e] of this.seen) if (e < now) this.seen.delete(n);
    if (this.seen.has(nonce)) return false;
    this.seen.set(nonce, exp);
    writeFileAtomic(this.file, JSON.stringify(Object.fromEntries(this.seen)), { mode: 0o600 });
    return true;
  }
}
