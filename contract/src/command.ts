// Enforcement commands from the indexer to a host: a JSON body signed with Ed25519. The indexer
// holds the private key, each host the public key. The signature covers the exact body bytes, so
// nothing is re-serialised before checking. Host id, nonce, issued-at and expiry make a command
// good for one host, once, for a short time (the replay guard remembers nonces until they expire).
import crypto, { type KeyObject } from 'node:crypto';

export const COMMAND_VERSION = 1;
/** Longest a command may live (exp - iat). */
export const MAX_LIFETIME_MS = 10 * 60_000;
/** How far ahead of this host's clock an issued-at may be. */
export const CLOCK_SKEW_MS = 30_000;

export type CommandType = 'kill' | 'deny' | 'policy';

/** One kernel policy entry as it travels: an executable by path, resolved to (dev, ino) on the host. */
export interface WirePolicyEntry {
  path: string;
  action: 'allow' | 'deny' | 'kill';
  comm?: string;
  executable?: string;
  /** The operations it acts on (a rule's `on:`); every one when absent. */
  ops?: string[];
}

export interface CommandBody {
  v: typeof COMMAND_VERSION;
  id: string;
  type: CommandType;
  /** The host id (host.id, /etc/machine-id) the command is for. */
  host: string;
  /** 16 random bytes, hex. */
  nonce: string;
  /** Issued at and expires at, ms since the epoch. */
  iat: number;
  exp: number;
  alert?: string;
  rule?: string;
  /** kill: the process by pid and start time (USER_HZ ticks), in this boot. */
  kill?: { pid: number; start: number; boot: string };
  /** deny: path prefixes refused from now on to one executable (or comm). */
  deny?: { paths: string[]; executable?: string; comm?: string };
  /** policy: the whole kernel-scope rule set, replacing the previous one. */
  policy?: { version: string; entries: WirePolicyEntry[] };
}

export interface SignedCommand {
  body: string;
  /** Ed25519 signature of `body` (UTF-8), base64. */
  sig: string;
}

export function signCommand(body: CommandBody, key: KeyObject): SignedCommand {
  const text = JSON.stringify(body);
  return { body: text, sig: crypto.sign(null, Buffer.from(text), key).toString('base64') };
}

export type Verdict =
  | { ok: true; body: CommandBody }
  | { ok: false; reason: 'malformed' | 'bad-signature' | 'wrong-host' | 'expired' | 'not-yet-valid' | 'lifetime'; detail: string; body?: Partial<CommandBody> };

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function shape(b: Record<string, unknown>): string | undefined {
  if (b.v !== COMMAND_VERSION) return `version ${String(b.v)}, want ${COMMAND_VERSION}`;
  for (const k of ['id', 'host', 'nonce', 'type'] as const) if (typeof b[k] !== 'string' || (b[k] as string).length === 0) return `${k} missing`;
  if (!/^[0-9a-f]{32}$/.test(b.nonce as string)) return 'nonce is not 16 bytes of hex';
  if (!Number.isSafeInteger(b.iat) || !Number.isSafeInteger(b.exp)) return 'iat/exp must be integers (ms)';
  if (b.type === 'kill') {
    const k = b.kill;
    if (!isObj(k) || !Number.isSafeInteger(k.pid) || (k.pid as number) <= 1 || !Number.isSafeInteger(k.start) || typeof k.boot !== 'string') return 'kill needs pid (> 1), start and boot';
  } else if (b.type === 'deny') {
    const d = b.deny;
    if (!isObj(d) || !Array.isArray(d.paths) || d.paths.length === 0 || !d.paths.every((p) => typeof p === 'string' && p.startsWith('/'))) return 'deny needs absolute paths';
    if ((d.executable === undefined) === (d.comm === undefined)) return 'deny needs an executable or a comm';
  } else if (b.type === 'policy') {
    const p = b.policy;
    if (!isObj(p) || typeof p.version !== 'string' || !Array.isArray(p.entries)) return 'policy needs version and entries';
  } else return `unknown type ${JSON.stringify(b.type)}`;
  return undefined;
}

/** Checks a command received from the queue: signature first, then shape, address and time. */
export function verifyCommand(c: unknown, key: KeyObject, hostId: string, now: number): Verdict {
  if (!isObj(c) || typeof c.body !== 'string' || typeof c.sig !== 'string') return { ok: false, reason: 'malformed', detail: 'not { body, sig }' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(c.body);
  } catch {
    parsed = undefined;
  }
  const partial = isObj(parsed) ? (parsed as Partial<CommandBody>) : undefined;
  const sig = Buffer.from(c.sig, 'base64');
  let good = false;
  try {
    good = sig.length === 64 && crypto.verify(null, Buffer.from(c.body), key, sig);
  } catch {
    good = false;
  }
  if (!good) return { ok: false, reason: 'bad-signature', detail: 'the Ed25519 signature does not verify with this host\'s public key', body: partial };
  if (!partial) return { ok: false, reason: 'malformed', detail: 'the body is not a JSON object' };
  const bad = shape(partial as Record<string, unknown>);
  if (bad) return { ok: false, reason: 'malformed', detail: bad, body: partial };
  const b = partial as CommandBody;
  if (b.host !== hostId) return { ok: false, reason: 'wrong-host', detail: `addressed to ${b.host}, this host is ${hostId}`, body: b };
  if (b.exp - b.iat > MAX_LIFETIME_MS || b.exp < b.iat) return { ok: false, reason: 'lifetime', detail: `lives ${b.exp - b.iat} ms, at most ${MAX_LIFETIME_MS}`, body: b };
  if (b.iat > now + CLOCK_SKEW_MS) return { ok: false, reason: 'not-yet-valid', detail: `issued ${b.iat - now} ms in the future`, body: b };
  if (b.exp <= now) return { ok: false, reason: 'expired', detail: `expired ${now - b.exp} ms ago`, body: b };
  return { ok: true, body: b };
}

