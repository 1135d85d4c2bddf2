// Watches the directories of the files a policy protects by inode (inotify, through fs.watch), so
// that a file replaced or removed under its protected name is looked at again at once instead of at
// the next 2 s refresh: the old inode number, which the filesystem may give to the next file it
// creates, stops being protected within milliseconds.
import fs from 'node:fs';

export class ProtectedFilesWatch {
  private readonly watchers = new Map<string, fs.FSWatcher>();
  /** Directory -> the protected names in it. */
  private names = new Map<string, Set<string>>();
  private pending = false;
  /** Changes to a protected name that triggered a refresh. */
  changes = 0;

  constructor(private readonly onChange: () => void) {}

  /** Watches exactly the directories holding these absolute paths. A name that is not UTF-8, or a
   * directory that cannot be watched, is left to the periodic refresh. */
  set(paths: readonly Buffer[]): void {
    const want = new Map<string, Set<string>>();
    for (const p of paths) {
      const s = p.toString('utf8');
      const at = s.lastIndexOf('/');
      if (at < 0 || !Buffer.from(s, 'utf8').equals(p)) continue;
      const dir = at === 0 ? '/' : s.slice(0, at);
      if (!want.has(dir)) want.set(dir, new Set());
      want.get(dir)!.add(s.slice(at + 1));
    }
    for (const [dir, w] of this.watchers) {
      if (want.has(dir)) continue;
      w.close();
      this.watchers.delete(dir);
    }
    this.names = want;
    for (const dir of want.keys()) {
      if (this.watchers.has(dir)) continue;
      try {
        const w = fs.watch(dir, { persistent: false }, (_event, name) => this.event(dir, name));
        w.on('error', () => {
          w.close();
          this.watchers.delete(dir);
        });
        this.watchers.set(dir, w);
      } catch {
        // A directory that is gone or unreadable: the periodic refresh still covers its names.
      }
    }
  }

  private event(dir: string, name: string | null): void {
    // No name: inotify could not say which entry changed (queue overflow), so any may have.
    if (name !== null && !this.names.get(dir)?.has(name)) return;
    if (this.pending) return;
    this.pending = true;
    setImmediate(() => {
      this.pending = false;
      this.changes++;
      this.onChange();
    });
  }

  close(): void {
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }
}
