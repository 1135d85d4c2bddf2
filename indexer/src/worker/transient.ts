// Which failures are worth a retry: Elasticsearch or Redis being unavailable, overloaded or
// refusing our credentials. Everything else is the job's own fault and is dead-lettered at once.

/** @elastic/transport error names that mean "the cluster did not answer". */
const ES_UNAVAILABLE = new Set(['ConnectionError', 'TimeoutError', 'NoLivingConnectionsError', 'RetryableBulkError']);
/** ioredis/BullMQ failures of the connection, not of a command's input. */
const REDIS_UNAVAILABLE = new Set(['MaxRetriesPerRequestError', 'AbortError']);
const NET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

export function isTransient(e: unknown): boolean {
  const err = e as { name?: string; code?: string; message?: string; meta?: { statusCode?: number } } | null;
  if (!err || typeof err !== 'object') return false;
  if (ES_UNAVAILABLE.has(err.name ?? '') || REDIS_UNAVAILABLE.has(err.name ?? '')) return true;
  if (err.name === 'ResponseError') {
    const s = err.meta?.statusCode ?? 0;
    // 401/403: our credentials were refused or expired, which no job can fix; 429/5xx: overloaded or down.
    return s === 401 || s === 403 || s === 429 || s >= 500;
  }
  // A Redis error reply (OOM, LOADING, NOAUTH, READONLY during failover) is the server's state.
  if (err.name === 'ReplyError') return true;
  if (NET_CODES.has(err.code ?? '')) return true;
  return err.message === 'Connection is closed.';
}
