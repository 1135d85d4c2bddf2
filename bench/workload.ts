// Shared by the benchmarks: the C open loop (built here with gcc) and the result table.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../stack/src/package-root';
import { ownStateDir } from '../stack/src/paths';

export const outDir = path.join(packageRoot(), 'build', 'bench');
const openloop = path.join(outDir, 'openloop');

/** Installs the Debian packages a benchmark needs (gcc at least) and builds the open loop. */
export function ensureTools(packages: string[]): void {
  const need = ['gcc', ...packages].filter((p) => spawnSync('dpkg-query', ['-W', '-f=${Status}', p], { encoding: 'utf8' }).stdout.indexOf('install ok installed') < 0);
  if (need.length) {
    console.error(`bench: installing ${need.join(' ')}`);
    spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...need], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  }
  fs.mkdirSync(outDir, { recursive: true });
  execFileSync('gcc', ['-O2', '-o', openloop, path.join(packageRoot(), 'bench', 'openloop.c')]);
}

/** Opens and closes `file` `count` times; resolves with ns per pair. Asynchronous so capture keeps draining. */
export function runOpenloop(file: string, count: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const p = spawn(openloop, [file, String(count)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('close', (code) => (code === 0 ? resolve(Number(out.trim())) : reject(new Error(`openloop exited ${code}`))));
  });
}

export interface Row {
  name: string;
  value: string;
  ratio?: number;
  target?: string;
  met?: boolean;
  note?: string;
}

export function printTable(rows: Row[]): void {
  const w = [44, 22, 8, 24, 6];
  const line = (c: string[]): string => c.map((x, i) => x.padEnd(w[i] ?? 0)).join(' ');
  console.log(line(['measurement', 'value', 'ratio', 'target', 'met']) + ' note');
  for (const r of rows) {
    console.log(line([r.name, r.value, r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}x`, r.target ?? '', r.met === undefined ? '' : r.met ? 'yes' : 'NO']) + ' ' + (r.note ?? ''));
  }
}

/** The benchmarks' own stack (scripts/bench.sh sets it), never the user's. */
export const benchStateDir = (): string => ownStateDir('benchmarks', 'run them with npm run bench:<name>');
