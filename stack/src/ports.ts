// Loopback port selection: the stack prefers its default ports and moves to the next free one
// when something else holds them, unless the user asked for a specific port.
import net from 'node:net';
import { StackError } from './errors';

export const LOOPBACK = '127.0.0.1';

/** True when a TCP listener can bind `port` on loopback right now. */
export function isPortFree(port: number, host = LOOPBACK): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

export interface PortChoice {
  port: number;
  /** Set when the preferred port was taken and another was chosen. */
  movedFrom?: number;
}

/**
 * Picks a port for a service. An explicit port must be free (the user asked for it); a default
 * port moves up to `span` ports higher, skipping `avoid` (ports already picked in this run).
 */
export async function choosePort(
  service: string,
  preferred: number,
  opts: { explicit: boolean; avoid?: number[]; span?: number },
): Promise<PortChoice> {
  const avoid = new Set(opts.avoid ?? []);
  if (!avoid.has(preferred) && (await isPortFree(preferred))) return { port: preferred };
  if (opts.explicit) {
    throw new StackError('FW_STACK_PORT_TAKEN', `${service}: port ${preferred} on ${LOOPBACK} is taken`, {
      hint: `free the port (see: ss -ltnp 'sport = :${preferred}') or choose another port option`,
    });
  }
  const span = opts.span ?? 100;
  for (let p = preferred + 1; p <= preferred + span && p < 65536; p++) {
    if (!avoid.has(p) && (await isPortFree(p))) return { port: p, movedFrom: preferred };
  }
  throw new StackError('FW_STACK_PORT_TAKEN', `${service}: ports ${preferred}-${preferred + span} on ${LOOPBACK} are all taken`, {
    hint: 'pass a free port explicitly',
  });
}
