// Flag and errno names come from fixed tables, chosen by the ABI of the kernel that produced the
// event, never from the machine that runs the code: an arm64 collector's document is the same
// whichever machine reads it.
import os from 'node:os';
import t from 'tap';
import { buildDocument } from '../../../contract/src/event-document';
import { abiOf, ERRNO, errnoName, openFlagNames } from '../../../contract/src/tables';
import { event, host } from '../../utils/wire-fixtures';

t.test('open flags are named per kernel ABI', async (t) => {
  // O_WRONLY|O_CREAT|O_TRUNC|O_DIRECTORY as each ABI encodes it.
  t.strictSame(openFlagNames(0o1101 | 0o200000, 'x86_64'), ['O_WRONLY', 'O_CREAT', 'O_TRUNC', 'O_DIRECTORY']);
  t.strictSame(openFlagNames(0o1101 | 0o40000, 'aarch64'), ['O_WRONLY', 'O_CREAT', 'O_TRUNC', 'O_DIRECTORY']);
  t.strictSame(openFlagNames(0o40000, 'x86_64'), ['O_RDONLY', 'O_DIRECT'], 'the same bit means O_DIRECT on x86_64');
  t.strictSame(openFlagNames(0o200000, 'aarch64'), ['O_RDONLY', 'O_DIRECT'], 'and another bit on arm64');
  t.strictSame(openFlagNames(0x80000000, 'x86_64'), ['O_RDONLY', '0x80000000'], 'an unknown bit is kept as hex');
  t.equal(abiOf('x64'), 'x86_64');
  t.equal(abiOf('arm64'), 'aarch64');
  t.throws(() => abiOf('mips'), /no open\(2\) flag table for architecture mips/);
});

t.test('errno names are the kernel\'s, whatever the machine', async (t) => {
  t.equal(errnoName(2), 'ENOENT');
  t.equal(errnoName(13), 'EACCES');
  t.equal(errnoName(11), 'EAGAIN', 'glibc\'s name for the alias');
  t.equal(errnoName(95), 'EOPNOTSUPP');
  t.equal(errnoName(133), 'EHWPOISON');
  t.equal(errnoName(41), 'E41', 'an unused number');
  t.equal(errnoName(512), 'E512', 'a kernel-internal number');
  // Every name Node knows on this machine has the same number in the table (aliases aside).
  const aliases = new Set(['EWOULDBLOCK', 'ENOTSUP', 'EDEADLOCK']);
  for (const [name, n] of Object.entries(os.constants.errno)) if (!aliases.has(name)) t.equal(ERRNO.get(n), name, `${name} = ${n}`);
});

t.test('a document built for one ABI does not change with the machine reading it', async (t) => {
  const e = event({ openFlags: 0o40000 | 0o100 });
  const arm = buildDocument(e, { host, stream: 's', abi: 'aarch64' });
  const x86 = buildDocument(e, { host, stream: 's', abi: 'x86_64' });
  t.strictSame(arm.filewarden.open_flags?.names, ['O_RDONLY', 'O_CREAT', 'O_DIRECTORY']);
  t.strictSame(x86.filewarden.open_flags?.names, ['O_RDONLY', 'O_CREAT', 'O_DIRECT']);
});
