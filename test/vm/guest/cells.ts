// The kernel matrix's cell shape and rows, shared by the guest suite and the host-side test.
import type { Hook } from '../../../collector/src/probe/native';

export interface Cell {
  kernel: string;
  hook: Hook | '-';
  test: string;
  status: 'pass' | 'fail' | 'n/a';
  detail: string;
}

/** The per-hook rows of the matrix, in order. */
export const HOOK_TESTS = [
  'attach',
  'open fields',
  'relative name, full path',
  'ENOENT relative, once',
  'success, once',
  'EACCES as nobody, once',
  'kill at open',
  'deny',
  'EPERM by deny, once',
  'deny x10000',
  'operations: delete, rename, truncate denied',
  'path tricks stopped',
  'mount namespace: host path, kill',
  'pinned capture taken over after SIGKILL',
];
