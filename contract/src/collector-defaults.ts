// The collector's defaults, apart from its code: the CLI builds every command's options (with these as
// collect's defaults) in both images, and the indexer image has no collector/ (docker/Dockerfile).
// The indexer's own are in indexer/src/worker/defaults.ts, which both images ship.
export const COLLECTOR_DEFAULTS = { batchEvents: 2000, batchDelayMs: 200, spoolMaxBytes: 1 << 30, metricsPort: 9464, metricsHost: '127.0.0.1', checkpointMs: 10_000 };
