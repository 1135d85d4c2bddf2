// A capture that outlives its collector. Pinned in bpffs, its programs stay attached and record into
// its ring buffer while no collector runs (a crash, a restart); the next collector of the same state
// directory takes it over, reads what it holds and carries its counters on. Nothing the kernel saw
// while the collector was down is lost uncounted: it is in the ring buffer, or counted as dropped.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { CapturedEvent } from '../../../contract/src/event';
import { writeFileAtomic } from '../../../stack/src/atomic-write';
import { type Mount, parseMounts, readText } from '../probe/kernel-facts';
import { type Hook, isNativeError, nativeAddonPath } from '../probe/native';
import { Capture, type CaptureOptions, type CaptureStats } from './capture';

/** Where systemd (and `doctor --fix`) mounts the BPF filesystem. */
export const BPFFS = '/sys/fs/bpf';

/** True when a bpf filesystem is mounted at BPFFS. */
export function bpffsMounted(mounts: Mount[] = parseMounts(readText('/proc/self/mounts') ?? '')): boolean {
  return mounts.some((m) => m.type === 'bpf' && m.target === BPFFS);
}

/**
 * The pin directory of a collector state directory: one per state directory, so collectors with
 * their own state (tests, several on one host) never take over each other's capture. In the host's
 * bpffs and not under the state directory: a bpffs mounted there would live in the collector's mount
 * namespace (systemd gives the unit its own) and die with it, taking the capture along.
 */
export function pinDirOf(stateDir: string): string {
  const id = crypto.createHash('sha256').update(fs.realpathSync(stateDir)).digest('hex').slice(0, 16);
  return path.join(BPFFS, 'filewarden', id);
}

/** What the state directory keeps about its pinned capture (`capture.json`). */
interface PinRecord {
  v: 1;
  pinDir: string;
  bootId: string;
  /** The build that pinned it: only the same build can read its records and its .bss. */
  build: string;
  /** The options that decided the programs: a capture is taken over only with the same. */
  options: string;
  /** Names the capture's counters in heartbeats (`run`): they carry on across collectors. */
  captureId: string;
  hook: Hook;
  attached: string[];
  since: string;
  /** Events its collectors dropped from a full spool so far: heartbeats carry the total under `captureId`. */
  spoolDropped: number;
}

export interface OpenedCapture {
  capture: Capture;
  /** The heartbeat `run` of its counters. */
  captureId: string;
  /** Pinned: the state directory records it, and a clean stop forgets it. */
  pinned: boolean;
  /** Spool drops of the collectors before this one on the same capture. */
  spoolDroppedBefore: number;
  /** A pinned capture that could not be taken over was read to its end and ended: its id and last counters. */
  ended?: { captureId: string; stats: CaptureStats; spoolDropped: number };
}

export interface OpenCaptureOptions {
  stateDir: string;
  bootId: string;
  capture: CaptureOptions;
  /** @defaultValue true */
  pin?: boolean;
  /** The id of a new capture (the collector's run). */
  newId: string;
  onEvents: (events: CapturedEvent[], numbered: () => void) => void;
  log: (line: string) => void;
}

const recordFile = (stateDir: string): string => path.join(stateDir, 'capture.json');

function readRecord(file: string): PinRecord | undefined {
  try {
    const r = JSON.parse(fs.readFileSync(file, 'utf8')) as PinRecord;
    return r.v === 1 && typeof r.build === 'string' ? r : undefined;
  } catch {
    return undefined;
  }
}

function linkPins(dir: string): number {
  try {
    return fs.readdirSync(path.join(dir, 'links')).length;
  } catch {
    return 0;
  }
}

const sha256 = (data: string | Buffer): string => crypto.createHash('sha256').update(data).digest('hex');

/** The options that decide which programs run and what they keep. */
function optionsOf(o: CaptureOptions): string {
  const ops = o.ops ? [...o.ops].sort() : 'all';
  // Cgroup ids are bigints, which JSON does not take.
  return sha256(JSON.stringify({ hooks: o.hooks ?? 'auto', ops, filters: o.filters ?? {}, ringbufBytes: o.ringbufBytes ?? 0 }, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)));
}

const NOT_PINNED = 'events the kernel holds when the collector dies, and opens while it is down, are lost uncounted';

/**
 * Opens the collector's capture. A capture pinned for this state directory is taken over when the
 * build, the options and the pin directory are the same; else it is read to its end and ended (same
 * build), or removed (another build cannot read it). Then, unless pinning is off or impossible, a
 * new capture is started and pinned.
 */
export async function openCapture(o: OpenCaptureOptions): Promise<OpenedCapture> {
  const file = recordFile(o.stateDir);
  const rec = readRecord(file);
  const mounted = bpffsMounted();
  const want = o.pin !== false && mounted;
  const dir = want ? pinDirOf(o.stateDir) : undefined;
  const build = sha256(fs.readFileSync(nativeAddonPath()));
  const options = optionsOf(o.capture);
  let ended: OpenedCapture['ended'];
  // The pinned capture this state directory records, wherever it is (the state directory may be
  // reached by another path now); or pins in this directory's place that nothing records.
  const old = rec && rec.bootId === o.bootId && fs.existsSync(rec.pinDir) ? rec : undefined;
  if (old) {
    const adopt = { ...o.capture, pin: { dir: old.pinDir, adopt: { hook: old.hook, attached: old.attached } } };
    // All its links still pinned: a collector stopped half way through its close detached some.
    const whole = linkPins(old.pinDir) === old.attached.length;
    if (old.build !== build) {
      fs.rmSync(old.pinDir, { recursive: true, force: true });
      o.log(`collect: removed the capture pinned at ${old.pinDir} since ${old.since}: another build pinned it and this one cannot read its records; the events it held are lost (upgrade after a clean stop)`);
    } else if (want && old.pinDir === dir && old.options === options && whole) {
      const capture = new Capture(adopt, o.onEvents);
      o.log(`collect: took over the capture pinned at ${dir} since ${old.since} (hook ${old.hook}): it recorded while no collector ran; reading on where the last one stopped, its counters carry on`);
      return { capture, captureId: old.captureId, pinned: true, spoolDroppedBefore: old.spoolDropped };
    } else {
      try {
        const capture = new Capture(adopt, o.onEvents);
        await capture.close();
        const stats = capture.stats();
        ended = { captureId: old.captureId, stats, spoolDropped: old.spoolDropped };
        const why = !whole ? 'was half ended (a collector stopped during its close)' : old.options !== options ? 'ran with other options' : want ? 'is pinned elsewhere' : 'cannot be kept (not pinning now)';
        o.log(`collect: the capture pinned at ${old.pinDir} since ${old.since} ${why}: read to its end (${stats.delivered} events) and ended; ` +
            'a new one starts now, and opens between the two are not recorded');
      } catch (e) {
        // Its pins are missing or not what this build pins: they will never be readable. Anything
        // else (out of memory or descriptors) may pass: the start fails and the pins stay.
        const errno = (e as { errno?: number }).errno;
        if (!(isNativeError(e) && e.code === 'FW_ERR_PIN' && (errno === 2 || errno === 22))) throw e;
        fs.rmSync(old.pinDir, { recursive: true, force: true });
        o.log(`collect: cannot take over the capture pinned at ${old.pinDir} (${(e as Error).message}): removed it, and the events it held are lost`);
      }
    }
  }
  if (dir && fs.existsSync(dir) && (!old || old.pinDir !== dir)) {
    // A collector died between pinning and recording it: nothing says what the pins hold.
    fs.rmSync(dir, { recursive: true, force: true });
    o.log(`collect: removed the pins at ${dir}: no record of them in ${file} (a collector died while pinning its capture); what they held is lost`);
  }
  fs.rmSync(file, { force: true });
  const unpinned = (why: string): OpenedCapture => {
    o.log(`collect: capture not pinned: ${why}; ${NOT_PINNED}`);
    return { capture: new Capture(o.capture, o.onEvents), captureId: o.newId, pinned: false, spoolDroppedBefore: 0, ...(ended ? { ended } : {}) };
  };
  if (o.pin === false) return unpinned('--no-pin');
  if (!dir) return unpinned(`no bpffs at ${BPFFS} (mount -t bpf bpf ${BPFFS}, or filewarden doctor --fix)`);
  let capture: Capture;
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    capture = new Capture({ ...o.capture, pin: { dir } }, o.onEvents);
  } catch (e) {
    // Nothing is pinned when the capture fails (pinning is its last step, and undoes itself): the
    // directory made for it goes too, whatever the error.
    fs.rmSync(dir, { recursive: true, force: true });
    if (!(isNativeError(e) && e.code === 'FW_ERR_PIN') && (e as NodeJS.ErrnoException).syscall !== 'mkdir') throw e;
    return unpinned((e as Error).message);
  }
  const record: PinRecord = { v: 1, pinDir: dir, bootId: o.bootId, build, options, captureId: o.newId, hook: capture.choice.hook, attached: capture.attached(), since: new Date().toISOString(), spoolDropped: 0 };
  writeFileAtomic(file, JSON.stringify(record));
  o.log(`collect: capture pinned at ${dir}: it goes on while the collector is down, and the next start takes it over`);
  return { capture, captureId: o.newId, pinned: true, spoolDroppedBefore: 0, ...(ended ? { ended } : {}) };
}

/** The spool drops of all collectors on the pinned capture so far (kept for the next one's heartbeats). */
export function recordSpoolDropped(stateDir: string, total: number): void {
  const file = recordFile(stateDir);
  const rec = readRecord(file);
  if (rec && rec.spoolDropped !== total) writeFileAtomic(file, JSON.stringify({ ...rec, spoolDropped: total }));
}

/** After a clean close (the pins are gone): the state directory forgets the capture. */
export function forgetPinnedCapture(stateDir: string): void {
  fs.rmSync(recordFile(stateDir), { force: true });
}
