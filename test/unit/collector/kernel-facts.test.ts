// Doctor's parsers read the kernel's own formats exactly, including the awkward corners.
import t from 'tap';
import { CAP, hasCap, parseCapEff, parseKernelConfig, parseKernelRelease, parseLockdown, parseLsmList, parseMemlock, parseMounts } from '../../../collector/src/probe/kernel-facts';

t.test('lockdown mode is the bracketed word', async (t) => {
  t.equal(parseLockdown('none [integrity] confidentiality\n'), 'integrity');
  t.equal(parseLockdown('[none] integrity confidentiality\n'), 'none');
  t.equal(parseLockdown(''), undefined);
});

t.test('the LSM list keeps its order', async (t) => {
  t.same(parseLsmList('lockdown,capability,landlock,bpf\n'), ['lockdown', 'capability', 'landlock', 'bpf']);
  t.same(parseLsmList('\n'), []);
});

t.test('mount points with escaped spaces are decoded', async (t) => {
  const m = parseMounts('tracefs /sys/kernel/tracing tracefs rw 0 0\nnone /mnt/a\\040b tmpfs rw 0 0\n');
  t.same(m[0], { source: 'tracefs', target: '/sys/kernel/tracing', type: 'tracefs' });
  t.equal(m[1]?.target, '/mnt/a b');
});

t.test('capabilities come from the CapEff mask', async (t) => {
  // This host's root: every capability but CAP_SYS_RESOURCE (bit 24).
  const mask = parseCapEff('Name:\tx\nCapPrm:\t0\nCapEff:\t000001fffeffffff\n');
  t.ok(hasCap(mask, CAP.BPF));
  t.ok(hasCap(mask, CAP.PERFMON));
  t.ok(hasCap(mask, CAP.SYS_ADMIN));
  t.notOk(hasCap(mask, CAP.SYS_RESOURCE));
  t.equal(parseCapEff('no caps here'), 0n);
});

t.test('memlock is the soft limit in bytes, Infinity when unlimited', async (t) => {
  t.equal(parseMemlock('Max locked memory         8388608              8388608              bytes\n'), 8388608);
  t.equal(parseMemlock('Max locked memory         unlimited            unlimited            bytes\n'), Infinity);
  t.equal(parseMemlock(''), undefined);
});

t.test('kernel config: set, quoted and unset options', async (t) => {
  const c = parseKernelConfig('CONFIG_BPF_LSM=y\n# CONFIG_KPROBES is not set\nCONFIG_LSM="landlock,bpf"\n');
  t.equal(c.get('CONFIG_BPF_LSM'), 'y');
  t.equal(c.get('CONFIG_KPROBES'), 'n');
  t.equal(c.get('CONFIG_LSM'), 'landlock,bpf');
  t.equal(c.get('CONFIG_MISSING'), undefined);
});

t.test('kernel release major and minor', async (t) => {
  t.same(parseKernelRelease('6.18.44-fc-v657'), [6, 18]);
  t.same(parseKernelRelease('6.1.0-37-amd64'), [6, 1]);
  t.same(parseKernelRelease('weird'), [0, 0]);
});
