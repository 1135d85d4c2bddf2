// uid and gid to names from /etc/passwd and /etc/group, cached and reloaded when a file changes.
// Only local accounts: names served by NSS modules (LDAP, sssd) are not looked up (docs/pipeline.md).
import fs from 'node:fs';

/** Parses passwd(5) or group(5) text: name is field 0, the numeric id field 2. */
export function parseIdFile(text: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of text.split('\n')) {
    if (line.length === 0 || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 3 || !/^\d+$/.test(f[2])) continue;
    const id = Number(f[2]);
    // The first entry for an id wins, as getpwuid(3) does with files.
    if (!out.has(id)) out.set(id, f[0]);
  }
  return out;
}

class IdFile {
  private map = new Map<number, string>();
  private mtimeMs = -1;
  private checkedAt = -Infinity;

  constructor(
    private readonly file: string,
    private readonly recheckMs: number,
  ) {}

  lookup(id: number, now: number): string | undefined {
    if (now - this.checkedAt >= this.recheckMs || (!this.map.has(id) && now - this.checkedAt >= 1000)) this.reload(now);
    return this.map.get(id);
  }

  private reload(now: number): void {
    this.checkedAt = now;
    try {
      const st = fs.statSync(this.file);
      if (st.mtimeMs === this.mtimeMs) return;
      this.map = parseIdFile(fs.readFileSync(this.file, 'utf8'));
      this.mtimeMs = st.mtimeMs;
    } catch {
      this.map = new Map();
      this.mtimeMs = -1;
    }
  }
}

export class AccountNames {
  private readonly users: IdFile;
  private readonly groups: IdFile;

  /** @param recheckMs how often a file's mtime is checked for changes @defaultValue 10000 */
  constructor(etc = '/etc', recheckMs = 10_000) {
    this.users = new IdFile(`${etc}/passwd`, recheckMs);
    this.groups = new IdFile(`${etc}/group`, recheckMs);
  }

  userName(uid: number, now = Date.now()): string | undefined {
    return this.users.lookup(uid, now);
  }

  groupName(gid: number, now = Date.now()): string | undefined {
    return this.groups.lookup(gid, now);
  }
}
