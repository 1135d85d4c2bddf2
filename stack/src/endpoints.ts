// Where the pipeline finds Redis and Elasticsearch: explicit settings first, then the embedded stack.
import { StackError } from './errors';
import { stackPaths } from './paths';
import { elasticsearchUrl, readState, redisUrl } from './state';

export interface Endpoints {
  redisUrl: string;
  elasticsearchUrl: string;
  /** Where each URL came from, for messages. */
  redisSource: 'env' | 'stack';
  elasticsearchSource: 'env' | 'stack';
}

/**
 * `FILEWARDEN_REDIS_URL` and `FILEWARDEN_ELASTICSEARCH_URL` override the embedded stack; otherwise
 * the URLs recorded by `filewarden stack up` in the state directory are used.
 */
export function resolveEndpoints(stateDir: string, env: NodeJS.ProcessEnv = process.env): Endpoints {
  const state = readState(stackPaths(stateDir).stateFile);
  const redis = env.FILEWARDEN_REDIS_URL ?? (state.redis ? redisUrl(state.redis) : undefined);
  const es = env.FILEWARDEN_ELASTICSEARCH_URL ?? (state.elasticsearch ? elasticsearchUrl(state.elasticsearch) : undefined);
  if (!redis || !es) {
    const missing = [!redis && 'Redis', !es && 'Elasticsearch'].filter(Boolean).join(' and ');
    throw new StackError('FW_STACK_NOT_RUNNING', `no ${missing} configured and the embedded stack in ${stateDir} has none`, {
      hint: 'run `filewarden stack up`, or set FILEWARDEN_REDIS_URL / FILEWARDEN_ELASTICSEARCH_URL',
    });
  }
  return {
    redisUrl: redis,
    elasticsearchUrl: es,
    redisSource: env.FILEWARDEN_REDIS_URL ? 'env' : 'stack',
    elasticsearchSource: env.FILEWARDEN_ELASTICSEARCH_URL ? 'env' : 'stack',
  };
}

/** One service's URL: the explicit value, then the environment, then the embedded stack. */
export function resolveEndpoint(stateDir: string, service: 'redis' | 'elasticsearch', explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (explicit) return explicit;
  const state = readState(stackPaths(stateDir).stateFile);
  const url =
    service === 'redis'
      ? (env.FILEWARDEN_REDIS_URL ?? (state.redis ? redisUrl(state.redis) : undefined))
      : (env.FILEWARDEN_ELASTICSEARCH_URL ?? (state.elasticsearch ? elasticsearchUrl(state.elasticsearch) : undefined));
  if (!url) {
    const name = service === 'redis' ? 'Redis' : 'Elasticsearch';
    const v = service === 'redis' ? 'FILEWARDEN_REDIS_URL' : 'FILEWARDEN_ELASTICSEARCH_URL';
    throw new StackError('FW_STACK_NOT_RUNNING', `no ${name} configured and the embedded stack in ${stateDir} has none`, {
      hint: `run \`filewarden stack up\`, or pass the URL option, or set ${v}`,
    });
  }
  return url;
}
