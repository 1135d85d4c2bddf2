// The local stack: embedded Redis and Elasticsearch.
export * from './endpoints';
export * from './errors';
export * from './firewall';
export * from './paths';
export * from './redact';
export * from './redis';
export * from './redis-auth';
export * from './redis-connect';
export * from './redis-sentinel';
export * from './stack';
export * from './state';
