// Root, real kernel: every hook family's programs are checked against this kernel. Those that the
// kernel refuses to load here (fexit and LSM under lockdown) say so loudly; the VM kernel matrix
// runs them for real. `auto` picks a hook that attaches and explains each one it skipped.
import fs from 'node:fs';
import t from 'tap';
import { AUTO_ORDER, selectHook } from '../../collector/src/probe/hook-select';
import { type Hook, isNativeError, native } from '../../collector/src/probe/native';

const lockdown = (() => {
  try {
    return fs.readFileSync('/sys/kernel/security/lockdown', 'utf8').match(/\[(\w+)\]/)?.[1] ?? 'none';
  } catch {
    return 'unknown';
  }
})();
const kprobes = fs.existsSync('/sys/kernel/tracing/kprobe_events') || fs.existsSync('/sys/bus/event_source/devices/kprobe');
const filters = { includePaths: ['/etc/'], excludePaths: ['/etc/skip/'], excludeComms: ['x'], includeUids: [0], excludeCgroups: [1] };

function loud(msg: string): void {
  console.error(`\n*** NOT RUN ON THIS KERNEL: ${msg}\n*** The VM kernel matrix (test/vm) runs it on Debian's kernels.\n`);
}

// Next to lsm, fexit and kprobe the syscall programs are loaded too, for failed opens
// (failures_only): on this host the kprobe check is where their verifier run is seen.
const syscalls = ['tp_exit_openat', 'tp_enter_openat'];
const expected: Record<Hook, string[]> = {
  tracepoint: syscalls,
  kprobe: ['krp_vfs_open', 'kp_vfs_open', ...syscalls],
  fexit: ['fx_vfs_open', ...syscalls],
  lsm: ['lsm_file_open', ...syscalls],
};

for (const hook of AUTO_ORDER) {
  for (const withFilters of [false, true]) {
    const label = `the ${hook} programs pass the verifier${withFilters ? ' with every filter kind set' : ''}`;
    const refusedHere = (hook === 'fexit' || hook === 'lsm') && lockdown !== 'none';
    t.test(label, async (t) => {
      try {
        const r = native().checkHook({ hook, attach: false, ...(withFilters ? { filters } : {}) });
        for (const p of expected[hook]) t.ok(r.loaded.includes(p), `${p} loaded`);
        t.same(r.attached, [], 'nothing attached in a load-only check');
      } catch (e) {
        if (refusedHere && isNativeError(e) && e.errno === 1) {
          loud(`${label}: kernel lockdown (${lockdown}) refuses ${hook} programs at load, before the verifier runs`);
          t.equal(e.code, 'FW_ERR_BPF_LOAD', 'refused with a coded load error');
          t.equal(e.hook, hook, 'the error names the hook');
          t.match(e.message, /lockdown/, 'and says why');
          return;
        }
        throw e;
      }
    });
  }
}

t.test('the kprobe hook attaches where kprobes exist, and says why not elsewhere', async (t) => {
  if (kprobes) {
    t.ok(native().checkHook({ hook: 'kprobe' }).attached.includes('kretprobe/vfs_open'));
    return;
  }
  loud('attaching kprobe/kretprobe on vfs_open: CONFIG_KPROBES is not set');
  t.throws(() => native().checkHook({ hook: 'kprobe' }), { code: 'FW_ERR_ATTACH', hook: 'kprobe', message: /kprobes/ });
});

t.test('auto picks the strongest hook that attaches and explains each one it skipped', async (t) => {
  const choice = selectHook('auto');
  t.match(choice.failedOpens, choice.hook === 'tracepoint' ? /tracepoint hook itself/ : /syscall exit tracepoints/, `says where failed opens come from: ${choice.failedOpens}`);
  const order = AUTO_ORDER.indexOf(choice.hook);
  t.same(choice.skipped.map((s) => s.hook), AUTO_ORDER.slice(0, order), 'every stronger hook is listed as skipped');
  for (const s of choice.skipped) t.ok(s.reason.length > 10, `${s.hook}: ${s.reason}`);
  if (lockdown !== 'none') {
    for (const h of ['lsm', 'fexit'] as const) t.match(choice.skipped.find((s) => s.hook === h)?.reason, /lockdown|LSM inactive/, `${h} skipped for lockdown`);
  }
  if (!kprobes) t.match(choice.skipped.find((s) => s.hook === 'kprobe')?.reason, /kprobes/, 'kprobe skipped: not compiled in');
});

t.test('bad options are refused before anything is loaded', async (t) => {
  const { checkHook } = native();
  t.throws(() => checkHook({ hook: 'nope' as Hook }), { code: 'FW_ERR_OPTIONS', message: /hook must be/ });
  t.throws(() => checkHook({ filters: { includePaths: ['x'.repeat(257)] } }), { code: 'FW_ERR_OPTIONS', message: /1 to 256 bytes/ });
  t.throws(() => checkHook({ filters: { includeComms: ['sixteen-chars-xx'] } }), { code: 'FW_ERR_OPTIONS', message: /comm/ });
  t.throws(() => checkHook({ filters: { includeUids: [-1] } }), { code: 'FW_ERR_OPTIONS' });
});
