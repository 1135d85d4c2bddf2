// The local stack: embedded Redis and Elasticsearch.
export * from './endpoints';
export * from './errors';
export * from './paths';
export * from './redis';
export * from './stack';
export * from './state';
