// Tamper evidence, the collector's half: the host's signing key and the chain state on disk. The
// collector hashes every event's document line exactly as it ships it, chains each stream's batches
// in sequence order and signs every head (contract/src/chain.ts); `filewarden verify` recomputes
// all of it from what the cluster holds.
import crypto, { type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../../../stack/src/atomic-write';
import { CHAIN_ALG, CHAIN_VERSION, type ChainLink, genesis, keyId, type LinkPosition, linkHead } from '../../../contract/src/chain';

export class HostKeyError extends Error {
  override readonly name = 'HostKeyError';
}

/** The host's chain-signing key: created on first start (0600) next to the sequence state. */
export function loadOrCreateHostKey(stateDir: string): { privateKey: KeyObject; publicKey: KeyObject; file: string; pubFile: string; created: boolean } {
  const file = path.join(stateDir, 'host-signing.key');
  const pubFile = path.join(stateDir, 'host-signing.pub');
  let pem: string | undefined;
  try {
    pem = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new HostKeyError(`cannot read the host signing key ${file}: ${(e as NodeJS.ErrnoException).code}`);
  }
  if (pem !== undefined) {
    try {
      const privateKey = crypto.createPrivateKey(pem);
      if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`a ${privateKey.asymmetricKeyType} key`);
      return { privateKey, publicKey: crypto.createPublicKey(privateKey), file, pubFile, created: false };
    } catch (e) {
      throw new HostKeyError(`the host signing key ${file} is not an Ed25519 private key (${(e as Error).message}); move it away to have a new one made`);
    }
  }
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ed25519');
  fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
  fs.writeFileSync(pubFile, publicKey.export({ type: 'spki', format: 'pem' }), { mode: 0o644 });
  return { privateKey, publicKey, file, pubFile, created: true };
}

interface ChainFile {
  boot: string;
  stream: string;
  last: number;
  head: string;
}

/**
 * Links a stream's batches. The last head is written to chain.json before its batch is handed on,
 * so a restart of the same stream continues the chain; if the file is lost the stream restarts from
 * genesis at a later number, which `verify` reports as a restart, not as tampering.
 */
export class HashChain {
  private readonly file: string;
  private state: ChainFile;
  readonly key: string;
  private readonly pubPem: string;

  constructor(
    stateDir: string,
    boot: string,
    stream: string,
    private readonly privateKey: KeyObject,
    publicKey: KeyObject,
  ) {
    this.file = path.join(stateDir, 'chain.json');
    this.key = keyId(publicKey);
    this.pubPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    let prev: ChainFile | undefined;
    try {
      prev = JSON.parse(fs.readFileSync(this.file, 'utf8')) as ChainFile;
    } catch {
      // missing or unreadable: a new chain
    }
    this.state = prev && prev.boot === boot && prev.stream === stream && typeof prev.head === 'string' ? prev : { boot, stream, last: 0, head: genesis(boot, stream) };
  }

  /** Whether this run continues a chain it found on disk. */
  get resumedAt(): number {
    return this.state.last;
  }

  /** The link for a batch: its events' digests (32 bytes each, in sequence order) and wall times (ms). */
  link(p: LinkPosition, digests: Buffer, times: number[]): ChainLink {
    if (p.boot !== this.state.boot || p.stream !== this.state.stream) throw new Error(`chain of ${this.state.boot}/${this.state.stream} asked to link a batch of ${p.boot}/${p.stream}`);
    const d64 = digests.toString('base64');
    const head = linkHead(p, this.state.head, d64, times);
    const link: ChainLink = { v: CHAIN_VERSION, alg: CHAIN_ALG, prev: this.state.head, head, digests: d64, times, key: this.key, pub: this.pubPem, sig: crypto.sign(null, Buffer.from(head, 'hex'), this.privateKey).toString('base64') };
    this.state = { ...this.state, last: p.last, head };
    // This boot's chain: a power loss starts a new boot and a new chain (atomic-write.ts).
    writeFileAtomic(this.file, JSON.stringify(this.state), { perBoot: true });
    return link;
  }
}
