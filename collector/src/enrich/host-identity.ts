// Who this host is and which boot this is: the identity every event carries (host.*, boot id).
import fs from 'node:fs';
import os from 'node:os';

export interface HostIdentity {
  /** host.name: the kernel's node name. */
  name: string;
  /** host.id: /etc/machine-id (systemd's stable host id), or undefined when the host has none. */
  id: string | undefined;
  /** A random UUID the kernel makes at each boot; sequence numbers restart with it. */
  bootId: string;
}

export class HostIdentityError extends Error {
  override readonly name = 'HostIdentityError';
}

function firstLine(file: string): string | undefined {
  try {
    const v = fs.readFileSync(file, 'utf8').trim();
    return v.length > 0 ? v : undefined;
  } catch {
    return undefined;
  }
}

export function hostIdentity(procRoot = '/proc', etc = '/etc'): HostIdentity {
  const bootId = firstLine(`${procRoot}/sys/kernel/random/boot_id`);
  // Without a boot id, sequence numbers and event ids could repeat across boots: refuse to run.
  if (!bootId || !/^[0-9a-f-]{36}$/.test(bootId)) throw new HostIdentityError(`cannot read the kernel boot id from ${procRoot}/sys/kernel/random/boot_id`);
  const id = firstLine(`${etc}/machine-id`) ?? firstLine('/var/lib/dbus/machine-id');
  return { name: os.hostname(), id, bootId };
}
