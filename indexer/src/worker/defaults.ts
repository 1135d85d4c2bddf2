// The indexer's defaults, apart from its code so the CLI can show them without loading the
// Elasticsearch client (the collector process never needs it: about 30 MB of RSS).
export const INDEXER_DEFAULTS = { indexPrefix: 'filewarden-events', deadletterIndex: 'filewarden-deadletter', checkpointIndex: 'filewarden-checkpoints', alertIndex: 'filewarden-alerts', auditIndex: 'filewarden-audit', commandLifetimeMs: 60_000, retentionIntervalMs: 3_600_000, concurrency: 2, metricsPort: 9465, metricsHost: '127.0.0.1' };
