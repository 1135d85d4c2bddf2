// How `collect` and `index` write their log: plain lines (the default, for a terminal, journald
// and `up`), or one JSON object per line through pino for a log shipper (--log-format json). The
// services keep calling log("component: text"); only the sink changes.
import os from 'node:os';
import type { Logger } from 'pino';

export type LogFormat = 'text' | 'json';
export const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];

/** The leading "component: " of a service's line (queue, spool, chain, enforce, index, ...). */
const COMPONENT = /^([a-z][a-z-]{0,31}): /;

/**
 * A log sink for a long-running service. JSON lines carry level, time (ISO), pid, hostname, the
 * service, the component and the message; they are written synchronously to stderr (no worker
 * thread), so a line is out before the process exits.
 */
export function serviceLog(format: LogFormat, service: 'collect' | 'index'): (line: string) => void {
  if (format === 'text') return (line) => console.error(line);
  const logger = jsonLogger(service);
  const children = new Map<string, Logger>();
  return (line) => {
    const m = COMPONENT.exec(line);
    if (!m) return logger.info(line);
    let child = children.get(m[1]!);
    if (!child) children.set(m[1]!, (child = logger.child({ component: m[1] })));
    child.info(line.slice(m[0].length));
  };
}

/** The same logger's fatal line, for the error that stops a service. */
export function fatalLog(service: 'collect' | 'index'): (line: string) => void {
  const logger = jsonLogger(service);
  return (line) => logger.fatal(line);
}

let root: Logger | undefined;

function jsonLogger(service: string): Logger {
  // Loaded only when asked for: the text format needs none of it.
  const pino = require('pino') as typeof import('pino');
  root ??= pino.pino({ base: { pid: process.pid, hostname: os.hostname() }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: 2, sync: true }));
  return root.child({ service });
}
