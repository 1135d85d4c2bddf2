// writeFileAtomic, the one way state files are replaced: whole old bytes or whole new ones, the mode
// asked for, no temporary file left behind, and (seen through strace) the file synced before the
// rename and the directory after it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { writeFileAtomic } from '../../../stack/src/atomic-write';

const repoRoot = path.resolve(__dirname, '..', '..', '..');

t.test('a new file is written whole, 0600 unless told otherwise, with no temporary file beside it', async (t) => {
  const dir = t.testdir();
  const file = path.join(dir, 'state.json');
  writeFileAtomic(file, '{"a":1}');
  t.equal(fs.readFileSync(file, 'utf8'), '{"a":1}');
  t.equal(fs.statSync(file).mode & 0o777, 0o600, 'private by default');
  writeFileAtomic(path.join(dir, 'bytes'), Buffer.from([0, 1, 2, 255]));
  t.strictSame([...fs.readFileSync(path.join(dir, 'bytes'))], [0, 1, 2, 255], 'bytes as given');
  t.strictSame(fs.readdirSync(dir).sort(), ['bytes', 'state.json'], 'only the files themselves');
});

t.test('a replaced file is a new inode: a reader of the old one keeps reading the old bytes whole', async (t) => {
  const dir = t.testdir();
  const file = path.join(dir, 'state.json');
  writeFileAtomic(file, 'old contents');
  const before = fs.statSync(file).ino;
  const fd = fs.openSync(file, 'r');
  t.teardown(() => fs.closeSync(fd));
  writeFileAtomic(file, 'new');
  t.equal(fs.readFileSync(file, 'utf8'), 'new');
  t.not(fs.statSync(file).ino, before, 'renamed over, not written in place');
  t.equal(fs.readFileSync(fd, 'utf8'), 'old contents', 'the old file was never truncated or half-written');
  t.strictSame(fs.readdirSync(dir), ['state.json']);
});

t.test('the mode asked for is the mode the file gets, whatever the umask', async (t) => {
  const dir = t.testdir();
  const old = process.umask(0o077);
  t.teardown(() => void process.umask(old));
  writeFileAtomic(path.join(dir, 'host.pub'), 'key', { mode: 0o644 });
  t.equal(fs.statSync(path.join(dir, 'host.pub')).mode & 0o777, 0o644);
  // A replacement takes the new mode too, not the old file's.
  writeFileAtomic(path.join(dir, 'host.pub'), 'key2', { mode: 0o640 });
  t.equal(fs.statSync(path.join(dir, 'host.pub')).mode & 0o777, 0o640);
});

t.test('a write that fails leaves the target as it was and no temporary file behind', async (t) => {
  const dir = t.testdir({ 'a-directory': { inside: 'x' } });
  // The rename over a directory fails (EISDIR), after the temporary file was written and synced.
  t.throws(() => writeFileAtomic(path.join(dir, 'a-directory'), 'data'), { code: 'EISDIR' });
  t.strictSame(fs.readdirSync(dir), ['a-directory'], 'no temporary file left');
  t.strictSame(fs.readdirSync(path.join(dir, 'a-directory')), ['inside'], 'the target untouched');
  t.throws(() => writeFileAtomic(path.join(dir, 'missing', 'f'), 'data'), { code: 'ENOENT' }, 'a missing directory is an error, not created');
});

t.test('the file is synced before the rename and its directory after it; state of this boot only is renamed, not synced (strace)', async (t) => {
  const dir = t.testdir();
  const file = path.join(dir, 'spool.json');
  const boot = path.join(dir, 'sequence.json');
  // The helper runs in a child under strace, through the TypeScript loader the tests use.
  const loader = pathToFileURL(path.join(repoRoot, 'node_modules', '@tapjs', 'typescript', 'dist', 'esm', 'import.mjs')).href;
  const script = path.join(dir, 'write.ts');
  fs.writeFileSync(script, `import { writeFileAtomic } from ${JSON.stringify(path.join(repoRoot, 'stack', 'src', 'atomic-write'))};\nwriteFileAtomic(${JSON.stringify(file)}, 'x');\nwriteFileAtomic(${JSON.stringify(boot)}, 'y', { perBoot: true });\n`);
  const trace = path.join(dir, 'trace');
  const r = spawnSync('strace', ['-f', '-qq', '-yy', '-e', 'trace=fdatasync,fsync,rename,renameat,renameat2', '-o', trace, process.execPath, `--import=${loader}`, script], { encoding: 'utf8' });
  t.equal(r.status, 0, `the child ran under strace: ${r.stderr}`);
  // Only the calls on this test's directory (the loader syncs caches of its own), each as
  // "call path...": -yy shows the path behind a descriptor as fd<path>.
  const calls = fs
    .readFileSync(trace, 'utf8')
    .split('\n')
    .filter((l) => l.includes(dir))
    .map((l) => {
      const [, call, args] = /^\d+\s+(\w+)\((.*)\)\s+=/.exec(l)!;
      const paths = [...args!.matchAll(/<([^>]*)>|"([^"]*)"/g)].map((m) => path.relative(dir, m[1] ?? m[2]!).replace(/\.\d+\.\d+\.tmp$/, '.<pid>.<thread>.tmp') || '.');
      return `${call} ${paths.join(' ')}`;
    });
  t.strictSame(calls, ['fdatasync .spool.json.<pid>.<thread>.tmp', 'rename .spool.json.<pid>.<thread>.tmp spool.json', 'fsync .', 'rename .sequence.json.<pid>.<thread>.tmp sequence.json']);
  t.equal(fs.readFileSync(boot, 'utf8'), 'y', 'and the per-boot file is in place');
});
