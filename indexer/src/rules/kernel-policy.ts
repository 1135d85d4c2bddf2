// Compiles the kernel-scope rules into the policy entries pushed to every host: each path prefix,
// for any process or per named comm or executable, plus allow entries for the path exceptions.
import crypto from 'node:crypto';
import type { WirePolicyEntry } from '../../../contract/src/command';
import { pathPrefixes } from './rule-loader';
import type { Rule } from './rule-types';

export interface KernelPolicy {
  /** A digest of the entries: a host that has this version already keeps it. */
  version: string;
  entries: WirePolicyEntry[];
}

export function kernelPolicy(rules: Rule[]): KernelPolicy {
  const entries: WirePolicyEntry[] = [];
  for (const r of rules) {
    if (r.scope !== 'kernel' || r.action === 'alert') continue;
    const scopes: Pick<WirePolicyEntry, 'comm' | 'executable'>[] = r.match.process
      ? r.match.process.map((comm) => ({ comm }))
      : r.match.executable
        ? r.match.executable.map((executable) => ({ executable }))
        : [{}];
    // A rule's on: travels with its entries (and its exceptions'): the kernel keeps an action per
    // operation (bpf/policy.bpf.h). Without on:, an entry acts on every operation.
    const ops = r.match.on ? { ops: [...r.match.on] } : {};
    for (const s of scopes) {
      for (const path of pathPrefixes(r.match)) entries.push({ path, action: r.action, ...s, ...ops });
      for (const e of r.except) for (const path of pathPrefixes(e)) entries.push({ path, action: 'allow', ...s, ...ops });
    }
  }
  const version = crypto.createHash('sha256').update(JSON.stringify(entries)).digest('hex').slice(0, 16);
  return { version, entries };
}
