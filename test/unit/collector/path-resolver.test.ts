// User space's last resort for a name the kernel could not resolve: an absolute name is only
// normalised, a relative one joined to the process's cwd or dirfd as /proc shows them (a flagged
// guess), and no name at all is never joined to anything (the fd number may name another file by now).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { PathResolver } from '../../../collector/src/resolve/path-resolver';

t.test('an empty name is unavailable, never the path of whatever its fd number holds now', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-resolver-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const fd = fs.openSync(path.join(dir, 'other-file'), 'w');
  t.teardown(() => fs.closeSync(fd));
  const r = new PathResolver();
  t.strictSame(r.resolve(process.pid, fd, Buffer.alloc(0), false), { path: Buffer.alloc(0), resolution: 'unavailable' });
  t.strictSame(r.resolve(process.pid, fd, Buffer.from('x'), false), { path: Buffer.from(path.join(fs.realpathSync(dir), 'other-file', 'x')), resolution: 'proc' }, 'a relative name is joined to the fd (a flagged guess)');
  t.strictSame(r.resolve(process.pid, -100, Buffer.from('/a//b/../c'), false), { path: Buffer.from('/a/c'), resolution: 'absolute' });
});
