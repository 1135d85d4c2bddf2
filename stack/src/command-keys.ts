// The command key pair's files: the indexer's private key (0600) and the public key every host
// holds, read and made here for the CLI, the indexer and the collector alike.
import crypto, { type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export class KeyFileError extends Error {
  override readonly name = 'KeyFileError';
}

function readKey(file: string, kind: 'private' | 'public'): KeyObject {
  let pem: string;
  try {
    pem = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new KeyFileError(`cannot read the ${kind} key ${file}: ${(e as Error).message}`);
  }
  try {
    const k = kind === 'private' ? crypto.createPrivateKey(pem) : crypto.createPublicKey(pem);
    if (k.asymmetricKeyType !== 'ed25519') throw new Error(`a ${k.asymmetricKeyType} key, not ed25519`);
    return k;
  } catch (e) {
    throw new KeyFileError(`${file} is not an Ed25519 ${kind} key in PEM: ${(e as Error).message} (make one with filewarden keys generate)`);
  }
}

export const loadPrivateKey = (file: string): KeyObject => readKey(file, 'private');
export const loadPublicKey = (file: string): KeyObject => readKey(file, 'public');

/** Writes command-signing.key (0600, for the indexer) and command-signing.pub (for every host). */
export function generateKeys(dir: string, force = false): { privateFile: string; publicFile: string } {
  const privateFile = path.join(dir, 'command-signing.key');
  const publicFile = path.join(dir, 'command-signing.pub');
  if (!force && (fs.existsSync(privateFile) || fs.existsSync(publicFile))) throw new KeyFileError(`${privateFile} or ${publicFile} exists; pass --force to replace them (hosts then need the new public key)`);
  fs.mkdirSync(dir, { recursive: true });
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ed25519');
  fs.writeFileSync(privateFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  fs.chmodSync(privateFile, 0o600);
  fs.writeFileSync(publicFile, publicKey.export({ type: 'spki', format: 'pem' }), { mode: 0o644 });
  return { privateFile, publicFile };
}
