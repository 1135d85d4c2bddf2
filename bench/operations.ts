// `npm run bench:operations`: what recording file operations costs the processes that make them.
// Per operation (open, link+unlink, rename, chmod): the C loop's ns per operation untraced and
// traced, in the same run, and the ratio; then the write path: dd's CPU time for 1 GiB in 4 KiB writes with
// modification tracking on, against untraced (target 1.05x) and against opens traced only (the
// floor of any syscall tracepoint). The collector's CPU per event is
// printed for each traced run. Needs root.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Capture } from '../collector/src/capture/capture';
import { packageRoot } from '../stack/src/package-root';
import type { OperationName } from '../contract/src/event';
import { ensureTools, outDir, printTable, type Row } from './workload';

const COUNT = Number(process.env.FW_BENCH_OPS ?? 100_000);
const REPS = Number(process.env.FW_BENCH_REPS ?? 5);
const DD_BLOCKS = Number(process.env.FW_BENCH_DD_BLOCKS ?? 262_144); // 1 GiB of 4 KiB
const oploop = path.join(outDir, 'oploop');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('close', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`${cmd} exited ${code}`))));
  });
}

/** CPU ns (user + system) of dd writing `DD_BLOCKS` 4 KiB blocks to `file`: the BPF programs run in
 * dd's own syscalls, so its CPU time carries their cost, and not the wake-up latencies of an idle
 * virtual CPU that swing its wall time by tens of percent here. Read from the shell that waited for
 * it (/proc/self/stat cutime + cstime, in USER_HZ ticks of 10 ms: 1 % of a 1 s run). */
async function dd(file: string): Promise<number> {
  const stat = await run('sh', ['-c', `dd if=/dev/zero of=${file} bs=4096 count=${DD_BLOCKS} status=none && cat /proc/$$/stat`]);
  fs.rmSync(file, { force: true });
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) * 1e7;
}

async function traced<T>(ops: OperationName[], dir: string, body: () => Promise<T>): Promise<{ result: T; events: number; cpuUs: number }> {
  let events = 0;
  const capture = new Capture({ hooks: 'tracepoint', ops, filters: { includePaths: [`${dir}/`] } }, (b) => (events += b.length));
  const c0 = process.cpuUsage();
  const result = await body();
  await capture.close();
  const c = process.cpuUsage(c0);
  return { result, events, cpuUs: c.user + c.system };
}

async function main(): Promise<void> {
  ensureTools([]);
  execFileSync('gcc', ['-O2', '-o', oploop, path.join(packageRoot(), 'bench', 'oploop.c')]);
  const dir = fs.mkdtempSync('/tmp/fw-bench-ops-');
  const cleanup = [dir];
  const rows: Row[] = [];
  try {
    for (const op of ['open', 'unlink', 'rename', 'chmod'] as const) {
      const ops: OperationName[] = op === 'unlink' ? ['link', 'unlink'] : [op];
      const base: number[] = [];
      const on: number[] = [];
      let perEvent = 0;
      for (let i = 0; i < REPS; i++) {
        base.push(Number(await run(oploop, [dir, op, String(COUNT)])));
        const t = await traced(ops, dir, () => run(oploop, [dir, op, String(COUNT)]));
        on.push(Number(t.result));
        perEvent = t.cpuUs / Math.max(1, t.events);
      }
      const b = median(base);
      const x = median(on);
      rows.push({ name: `${op === 'unlink' ? 'link+unlink' : op}: ns per operation`, value: `${x.toFixed(0)} vs ${b.toFixed(0)} untraced`, ratio: x / b, note: `+${(x - b).toFixed(0)} ns; collector ${perEvent.toFixed(2)} µs CPU per event (capture thread and JS)` });
    }
    // On tmpfs where there is one: the write path's CPU, not the disk's writeback, is measured.
    const ddDir = fs.existsSync('/dev/shm') ? fs.mkdtempSync('/dev/shm/fw-bench-dd-') : dir;
    cleanup.push(ddDir);
    const file = path.join(ddDir, 'dd.out');
    const base: number[] = [];
    const opensOnly: number[] = [];
    const on: number[] = [];
    let events = 0;
    // The three in a rotating order, so writeback of one run's pages and the CPU's clock weigh on
    // each alike; a sync before each run starts it with no dirty pages.
    const variants = [
      async () => base.push(await dd(file)),
      async () => opensOnly.push((await traced(['open'], ddDir, () => dd(file))).result),
      async () => {
        const t = await traced(['open', 'modify'], ddDir, () => dd(file));
        on.push(t.result);
        events = t.events;
      },
    ];
    for (let i = 0; i < REPS; i++) {
      for (let k = 0; k < variants.length; k++) {
        execFileSync('sync');
        await variants[(i + k) % variants.length]!();
      }
    }
    const b = median(base);
    const o = median(opensOnly);
    const x = median(on);
    const gib = (DD_BLOCKS * 4096) / 2 ** 30;
    // Opens only: the syscall tracepoints are on (every syscall takes the traced path) but no write
    // program runs; what the write tracker itself adds is the difference to the next row.
    rows.push({ name: `dd ${gib} GiB in 4 KiB writes to ${ddDir === dir ? 'disk' : 'tmpfs'}, opens traced only`, value: `${(o / 1e6).toFixed(0)} vs ${(b / 1e6).toFixed(0)} ms CPU`, ratio: o / b, note: 'the floor any syscall tracepoint sets' });
    rows.push({ name: `dd ${gib} GiB: the write tracker alone (modify on vs opens only)`, value: `${(x / 1e6).toFixed(0)} vs ${(o / 1e6).toFixed(0)} ms CPU`, ratio: x / o, note: `+${((x - o) / DD_BLOCKS).toFixed(0)} ns per write: two programs per write syscall, the fd table walk and four hash lookups` });
    rows.push({ name: `dd ${gib} GiB in 4 KiB writes to ${ddDir === dir ? 'disk' : 'tmpfs'}, modify on`, value: `${(x / 1e6).toFixed(0)} vs ${(b / 1e6).toFixed(0)} ms CPU`, ratio: x / b, target: '<= 1.05x', met: x / b <= 1.05, note: `${events} events (the open and one modification); +${((x - b) / DD_BLOCKS).toFixed(0)} ns per write` });
  } finally {
    for (const d of cleanup) fs.rmSync(d, { recursive: true, force: true });
  }
  printTable(rows);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
