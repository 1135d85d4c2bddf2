// How a failed command reports: one line `filewarden: <message>`, plus the details and hint a coded
// error carries. The stack trace is for --debug (or FILEWARDEN_DEBUG=1) only: it is noise to an operator.
import { InvalidArgumentError } from 'commander';
import { StackError } from '../../stack/src';
import { redactUrl } from '../../stack/src/redact';
import { isNativeError } from '../../stack/src/native-error';

/** The parts of @elastic/transport's errors used here (the client is loaded only by the commands that use it). */
interface EsClientError extends Error {
  meta?: {
    statusCode?: number;
    body?: unknown;
    meta?: { connection?: { url?: URL } | null };
  };
}

/** The transport's errors that mean no answer came back. */
const ES_UNREACHABLE = new Set(['ConnectionError', 'TimeoutError', 'NoLivingConnectionsError']);

/** Newlines and the tabs after them (Elasticsearch's "Root causes" lists) become one line. */
const oneLine = (s: string): string => s.replace(/\s*\n\s*/g, '; ').trim();

/** A useful sentence for an Elasticsearch client error, or undefined for any other error. */
export function esErrorReason(err: Error): string | undefined {
  const e = err as EsClientError;
  if (ES_UNREACHABLE.has(e.name)) {
    const url = e.meta?.meta?.connection?.url;
    return `cannot reach Elasticsearch${url ? ` at ${redactUrl(url.toString())}` : ''}: ${oneLine(e.message)}`;
  }
  if (e.name === 'ResponseError') {
    const status = e.meta?.statusCode;
    const body = e.meta?.body as { error?: { type?: string; reason?: string } | string } | string | undefined;
    const error = typeof body === 'object' ? body?.error : undefined;
    const detail =
      typeof error === 'object' && error?.type
        ? `${error.type}${error.reason ? `: ${error.reason}` : ''}`
        : typeof error === 'string'
          ? error
          : typeof body === 'string' && body
            ? body.slice(0, 200)
            : e.message;
    return `Elasticsearch refused the request${status ? ` (HTTP ${status})` : ''}: ${oneLine(detail)}`;
  }
  return undefined;
}

/** Error classes whose message is already the sentence to show. */
const MESSAGE_ONLY = new Set([
  'EsConfigError',
  'IndexNameError',
  'IndexerStartError',
  'KeyFileError',
  'EnforcementSetupError',
  'RetentionPolicyError',
  'ChromiumError',
  'HostKeyError',
  'FieldError',
  'StateLockError',
]);

/** The lines to print for an error: the first is `filewarden: ...`; the rest are details or a hint. */
export function errorLines(err: unknown): string[] {
  if (!(err instanceof Error)) return [`filewarden: ${oneLine(String(err))}`];
  if (err instanceof StackError) {
    return [`filewarden: ${err.message} [${err.code}]`, ...(err.details ? [err.details.replace(/^/gm, '  | ')] : []), ...(err.hint ? [`  hint: ${err.hint}`] : [])];
  }
  if (isNativeError(err)) {
    return [`filewarden: ${err.hook} hook: ${err.message} [${err.code}, errno ${err.errno}]`, ...(err.log ? [err.log.trimEnd().replace(/^/gm, '  | ')] : [])];
  }
  // Its message lists one problem per line, file:line first: that list is the point.
  if (err.name === 'RuleFileError') return [`filewarden: the rules have problems:\n${err.message}`];
  // The same for the objects Kibana refused: one line each, under the sentence that counts them.
  if (err.name === 'KibanaImportError') return [`filewarden: ${err.message}`];
  // By name, like the two above: hook selection (collector/src/probe/hook-select.ts) loads only with the collector.
  if (err.name === 'NoHookError') return [`filewarden: ${err.message}`, '  hint: run filewarden doctor to see what this kernel and these privileges allow'];
  if (err instanceof InvalidArgumentError || MESSAGE_ONLY.has(err.name)) return [`filewarden: ${oneLine(err.message)}`];
  const es = esErrorReason(err);
  if (es) return [`filewarden: ${es}`];
  // Anything else (a file that cannot be written, a bug): its message, without the class name.
  return [`filewarden: ${oneLine(err.message) || err.name}`];
}

/** --debug or FILEWARDEN_DEBUG=1 (any value but empty, 0, false or no). */
export function debugWanted(flag: unknown, env: NodeJS.ProcessEnv = process.env): boolean {
  const v = (env.FILEWARDEN_DEBUG ?? '').trim().toLowerCase();
  return flag === true || (v !== '' && !['0', 'false', 'no'].includes(v));
}
