// Coded errors for the local stack: every failure names what failed and how to fix it, so the CLI
// can print one clear line instead of a stack trace.

/** Error codes raised by the stack manager. Values are stable; scripts may match on them. */
export type StackErrorCode =
  | 'FW_STACK_PORT_TAKEN'
  | 'FW_STACK_JAVA'
  | 'FW_STACK_MAVEN'
  | 'FW_STACK_DOWNLOAD'
  | 'FW_STACK_MODULE_BUILD'
  | 'FW_STACK_USER'
  | 'FW_STACK_FIREWALL'
  | 'FW_STACK_REDIS_AUTH'
  | 'FW_STACK_REDIS_START'
  | 'FW_STACK_REDIS_URL'
  | 'FW_STACK_REDIS_RUNNING'
  | 'FW_STACK_ES_START'
  | 'FW_STACK_ES_VERSION'
  | 'FW_STACK_ES_RUNNING'
  | 'FW_STACK_ES_NODES'
  | 'FW_STACK_NOT_RUNNING'
  | 'FW_STACK_STATE';

export class StackError extends Error {
  override readonly name = 'StackError';
  readonly code: StackErrorCode;
  /** What the user can do about it; printed after the message. */
  readonly hint: string | undefined;
  /** Extra diagnostic output (for example the tail of a log), printed under the message. */
  readonly details: string | undefined;

  constructor(code: StackErrorCode, message: string, opts: { hint?: string; details?: string } = {}) {
    super(message);
    this.code = code;
    this.hint = opts.hint;
    this.details = opts.details;
  }
}
