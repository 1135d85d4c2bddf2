// Where the pipeline finds Redis and Elasticsearch: explicit settings first, then the embedded stack.
import { StackError } from './errors';
import { stackPaths } from './paths';
import { readSecretFile, withRedisCredentials } from './redis-auth';
import { elasticsearchUrl, readState, redisUrl } from './state';

export interface Endpoints {
  /** Carries the password: print it only through redactUrl. */
  redisUrl: string;
  elasticsearchUrl: string;
  /** Where each URL came from, for messages. */
  redisSource: 'env' | 'stack';
  elasticsearchSource: 'env' | 'stack';
}

/**
 * `FILEWARDEN_REDIS_PASSWORD_FILE` supplies the password of a Redis URL that has none, so the
 * secret can stay out of the environment and the command line (which other users can read in
 * /proc). A password written in the URL wins. The user name, if any, comes from the URL.
 */
export function withPasswordFile(url: string, env: NodeJS.ProcessEnv = process.env): string {
  const file = env.FILEWARDEN_REDIS_PASSWORD_FILE;
  if (!file) return url;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new StackError('FW_STACK_REDIS_AUTH', 'the Redis URL is not a valid URL, so FILEWARDEN_REDIS_PASSWORD_FILE cannot be applied to it', {
      hint: 'use the form redis://user@host:port (or rediss:// for TLS)',
    });
  }
  if (u.password) return url;
  return withRedisCredentials(url, undefined, readSecretFile(file, 'FILEWARDEN_REDIS_PASSWORD_FILE'));
}

/**
 * `FILEWARDEN_REDIS_URL` and `FILEWARDEN_ELASTICSEARCH_URL` override the embedded stack; otherwise
 * the URLs recorded by `filewarden stack up` in the state directory are used (the Redis one with
 * its credentials).
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
    redisUrl: withPasswordFile(redis, env),
    elasticsearchUrl: es,
    redisSource: env.FILEWARDEN_REDIS_URL ? 'env' : 'stack',
    elasticsearchSource: env.FILEWARDEN_ELASTICSEARCH_URL ? 'env' : 'stack',
  };
}

/** One service's URL: the explicit value, then the environment, then the embedded stack. */
export function resolveEndpoint(stateDir: string, service: 'redis' | 'elasticsearch', explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (explicit) return service === 'redis' ? withPasswordFile(explicit, env) : explicit;
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
  return service === 'redis' ? withPasswordFile(url, env) : url;
}
