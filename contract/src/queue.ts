// The names both sides of Redis agree on: the BullMQ prefix and queues, and how jobs are retried.

export const DEFAULT_QUEUE = 'filewarden-events';
export const QUEUE_PREFIX = 'filewarden';
/** Enough attempts to ride out a month-long Elasticsearch outage at the 30 s backoff cap. */
export const JOB_ATTEMPTS = 100_000;
/** The indexer's custom backoff (capped exponential); the collector names it on every job. */
export const BACKOFF_TYPE = 'filewarden-capped';
/** The queue a host takes its commands from (BullMQ prefix "filewarden"). */
export const commandQueueName = (hostId: string): string => `commands-${hostId.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
