// How the CLI words the collector's errors, now that error-report.ts tells them apart without importing the
// collector (the indexer image has none): by name for NoHookError, by shape for the addon's errors.
import t from 'tap';
import { errorLines } from '../../../cli/src/error-report';
import { NoHookError } from '../../../collector/src/probe/hook-select';
import { isNativeError } from '../../../collector/src/probe/native';

const addonError = (fields: Record<string, unknown>): Error => Object.assign(new Error('attach failed: the LSM hook is not active'), fields);

t.test('an addon error shows its hook, code and errno, and the libbpf log under it', async (t) => {
  const e = addonError({ code: 'FW_ERR_ATTACH', errno: 95, hook: 'lsm', log: 'libbpf: line one\nlibbpf: line two\n' });
  t.strictSame(errorLines(e), [
    'filewarden: lsm hook: attach failed: the LSM hook is not active [FW_ERR_ATTACH, errno 95]',
    '  | libbpf: line one\n  | libbpf: line two',
  ]);
});

t.test('error-report takes exactly the errors the collector calls addon errors', async (t) => {
  const samples: [string, Error][] = [
    ['an addon error', addonError({ code: 'FW_ERR_BPF_LOAD', errno: 1, hook: 'fexit' })],
    ['a system error (a code, no hook)', Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT', errno: -2 })],
    ['a hook that is not a string', addonError({ code: 'FW_ERR_ATTACH', errno: 1, hook: 3 })],
    ['a plain error', new Error('plain')],
  ];
  for (const [what, e] of samples) {
    const shownAsAddon = errorLines(e)[0]!.includes(' hook: ');
    t.equal(shownAsAddon, isNativeError(e), `${what}: ${isNativeError(e) ? 'shown' : 'not shown'} as an addon error`);
  }
});

t.test('no hook working on this kernel points at filewarden doctor', async (t) => {
  t.strictSame(errorLines(new NoHookError('no hook works on this kernel: lsm: not active; fexit: no BTF')), [
    'filewarden: no hook works on this kernel: lsm: not active; fexit: no BTF',
    '  hint: run filewarden doctor to see what this kernel and these privileges allow',
  ]);
});
