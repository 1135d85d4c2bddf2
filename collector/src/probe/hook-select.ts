// Chooses the hook family: `auto` tries the strongest first and keeps the first that loads and
// attaches on the running kernel, recording why each stronger one was skipped.
import { parseLockdown, parseLsmList, readText } from './kernel-facts';
import { HOOKS, type FilterOptions, type Hook, isNativeError, native, type PolicyOptions } from './native';

/** Strongest first: LSM (full path, can deny), fexit, kprobe (full path), tracepoint (all at the syscall). */
export const AUTO_ORDER: readonly Hook[] = ['lsm', 'fexit', 'kprobe', 'tracepoint'];

export type HookRequest = Hook | 'auto';

export function parseHookRequest(s: string): HookRequest {
  if (s === 'auto' || (HOOKS as readonly string[]).includes(s)) return s as HookRequest;
  throw new Error(`--hooks must be auto, ${HOOKS.join(', ')}; got ${JSON.stringify(s)}`);
}

/** No hook family loads and attaches on this kernel; the message lists each one's reason. */
export class NoHookError extends Error {
  override readonly name = 'NoHookError';
}

export interface SkippedHook {
  hook: Hook;
  reason: string;
  code?: string;
  errno?: number;
}

export interface HookChoice {
  hook: Hook;
  requested: HookRequest;
  skipped: SkippedHook[];
  /** Where this hook's failed opens (EACCES, ENOENT, ...) come from; see failedOpensBy. */
  failedOpens: string;
}

/**
 * lsm, fexit and kprobe never see an open refused before the file is reached, so next to them the
 * syscall exit tracepoints record the failed opens (events with hook "tracepoint"), and only those
 * the hook did not record itself. The tracepoint hook records every open at the syscall exit.
 */
export function failedOpensBy(hook: Hook): string {
  return hook === 'tracepoint'
    ? 'failed opens: the tracepoint hook itself (syscall exit)'
    : `failed opens: the syscall exit tracepoints next to ${hook} (events with hook tracepoint; ${hook} records the successes and the failures it sees itself)`;
}

/** A short, specific reason from the kernel's answer and what /sys says about lockdown and LSMs. */
export function explainRefusal(hook: Hook, err: unknown): string {
  if (!isNativeError(err)) return String(err);
  const lockdownText = readText('/sys/kernel/security/lockdown');
  const lockdown = lockdownText === undefined ? undefined : parseLockdown(lockdownText);
  const lsmText = readText('/sys/kernel/security/lsm');
  const lsms = lsmText === undefined ? undefined : parseLsmList(lsmText);
  if (hook === 'lsm' && lsms !== undefined && !lsms.includes('bpf')) return `BPF LSM inactive (active LSMs: ${lsms.join(',')}); add bpf to lsm= on the kernel command line`;
  if ((hook === 'lsm' || hook === 'fexit') && err.errno === 1 && lockdown && lockdown !== 'none') return `kernel lockdown (${lockdown}) refuses ${hook} programs`;
  if (hook === 'kprobe' && err.code === 'FW_ERR_ATTACH') return 'kprobes not compiled in (CONFIG_KPROBES unset) or vfs_open not probeable; the programs passed the verifier';
  return `${err.code}: ${err.message}`;
}

/**
 * Resolves a hook request to one hook that works here. Throws when none does. lsm comes first, so a
 * deny policy refuses opens wherever the BPF LSM is active; elsewhere it falls back to a kill.
 */
export function selectHook(requested: HookRequest, filters?: FilterOptions, policy?: PolicyOptions): HookChoice {
  if (requested !== 'auto') return { hook: requested, requested, skipped: [], failedOpens: failedOpensBy(requested) };
  const skipped: SkippedHook[] = [];
  for (const hook of AUTO_ORDER) {
    try {
      // Which hook records opens is the question: the other operations' tracepoints are the same
      // under every hook, and each one takes time to attach.
      native().checkHook({ hook, attach: true, selfPid: process.pid, filters, policy, opMask: 1 << native().layout().enums.op.open });
      return { hook, requested, skipped, failedOpens: failedOpensBy(hook) };
    } catch (e) {
      skipped.push({ hook, reason: explainRefusal(hook, e), ...(isNativeError(e) ? { code: e.code, errno: e.errno } : {}) });
    }
  }
  throw new NoHookError(`no hook works on this kernel: ${skipped.map((s) => `${s.hook}: ${s.reason}`).join('; ')}`);
}
