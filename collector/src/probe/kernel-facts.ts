// Reads the kernel facts that doctor reports and hook selection explains, from the same sources
// /proc, sysfs, tracefs, securityfs and the kernel config. Parsers are pure for unit tests.
import fs from 'node:fs';
import os from 'node:os';
import zlib from 'node:zlib';

/** "none [integrity] confidentiality" → "integrity". */
export function parseLockdown(text: string): string | undefined {
  return /\[(\w+)\]/.exec(text)?.[1];
}

/** "lockdown,capability,landlock,bpf\n" → ["lockdown", ...]. */
export function parseLsmList(text: string): string[] {
  return text.trim().split(',').map((s) => s.trim()).filter(Boolean);
}

export interface Mount {
  source: string;
  target: string;
  type: string;
}

/** /proc/mounts lines; octal escapes (\040 for a space) are decoded. */
export function parseMounts(text: string): Mount[] {
  const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' '))
    .map(([source = '', target = '', type = '']) => ({ source: unescape(source), target: unescape(target), type }));
}

/** Capability numbers from linux/capability.h that the BPF hooks need. */
export const CAP = { SYS_ADMIN: 21, SYS_RESOURCE: 24, PERFMON: 38, BPF: 39 } as const;

/** The CapEff hex mask from /proc/<pid>/status. */
export function parseCapEff(status: string): bigint {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  return m ? BigInt(`0x${m[1]}`) : 0n;
}

export const hasCap = (mask: bigint, cap: number): boolean => ((mask >> BigInt(cap)) & 1n) === 1n;

/** Soft "Max locked memory" from /proc/<pid>/limits, in bytes; `Infinity` for unlimited. */
export function parseMemlock(limits: string): number | undefined {
  const m = /^Max locked memory\s+(\S+)/m.exec(limits);
  if (!m || m[1] === undefined) return undefined;
  return m[1] === 'unlimited' ? Infinity : Number(m[1]);
}

/** `CONFIG_X=y` lines of a kernel config into a map; "is not set" lines map to "n". */
export function parseKernelConfig(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const set = /^(CONFIG_\w+)=(.*)$/.exec(line);
    if (set?.[1] && set[2] !== undefined) out.set(set[1], set[2].replace(/^"|"$/g, ''));
    const unset = /^# (CONFIG_\w+) is not set$/.exec(line);
    if (unset?.[1]) out.set(unset[1], 'n');
  }
  return out;
}

/** "6.18.44-fc-v657" → [6, 18]. */
export function parseKernelRelease(release: string): [number, number] {
  const m = /^(\d+)\.(\d+)/.exec(release);
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
}

export const readText = (file: string): string | undefined => {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
};

/** The running kernel's config from /proc/config.gz or /boot, or undefined when neither exists. */
export function readKernelConfig(): { source: string; config: Map<string, string> } | undefined {
  try {
    return { source: '/proc/config.gz', config: parseKernelConfig(zlib.gunzipSync(fs.readFileSync('/proc/config.gz')).toString('utf8')) };
  } catch {
    /* fall through */
  }
  const boot = `/boot/config-${os.release()}`;
  const text = readText(boot);
  return text === undefined ? undefined : { source: boot, config: parseKernelConfig(text) };
}

export function mountOf(type: string, mounts: Mount[]): Mount | undefined {
  return mounts.find((m) => m.type === type);
}
