// The shape of an error from the native addon (native/src/errors.h): told apart by its fields, so
// every command can report one, including in the indexer image, which has no collector/ or addon.

export interface NativeError extends Error {
  /** FW_ERR_BPF_LOAD, FW_ERR_ATTACH, ... */
  code: string;
  errno: number;
  /** The hook the error is about (tracepoint, kprobe, fexit, lsm). */
  hook: string;
  /** The verifier's log, when the kernel refused a program. */
  log?: string;
}

export function isNativeError(e: unknown): e is NativeError {
  return e instanceof Error && typeof (e as NativeError).code === 'string' && typeof (e as NativeError).hook === 'string';
}
