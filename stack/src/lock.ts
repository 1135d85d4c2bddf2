// An exclusive lock on the state directory, so two `stack up` runs never start two servers.
import fs from 'node:fs';
import path from 'node:path';
import { isAlive, sleep } from './processes';

export async function withStateLock<T>(root: string, fn: () => Promise<T>, waitMs = 300_000): Promise<T> {
  fs.mkdirSync(root, { recursive: true });
  const file = path.join(root, 'stack.lock');
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number.parseInt(fs.readFileSync(file, 'utf8') || '0', 10);
      if (!holder || !isAlive(holder)) {
        fs.rmSync(file, { force: true }); // the holder died without releasing it
        continue;
      }
      if (Date.now() > deadline) throw new Error(`${file} is held by pid ${holder} for more than ${waitMs / 1000} s`);
      await sleep(200);
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(file, { force: true });
  }
}
