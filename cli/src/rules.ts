// `filewarden rules lint|test` and `filewarden keys generate`: check rule files, try them on events,
// and make the key pair that signs enforcement commands.
import fs from 'node:fs';
import readline from 'node:readline';
import { generateKeys } from '../../stack/src/command-keys';
import { AlertEngine } from '../../indexer/src/alerts/alert-engine';
import { MemoryThresholdStore } from '../../indexer/src/alerts/threshold-store';
import type { EventDocument } from '../../contract/src/event-document';
import { kernelPolicy } from '../../indexer/src/rules/kernel-policy';
import { loadRules, RuleFileError } from '../../indexer/src/rules/rule-loader';
import { operationOf } from '../../indexer/src/rules/rule-matcher';

type Log = (line: string) => void;

/** Exit 0 with a summary per file, or 1 with every problem as file:line: reason. */
export function rulesLint(files: string[], log: Log, err: Log): number {
  try {
    const rules = loadRules(files);
    const k = kernelPolicy(rules);
    const by = (a: string): number => rules.filter((r) => r.action === a).length;
    log(`rules: ${rules.length} rules OK (${by('alert')} alert, ${by('kill')} kill, ${by('deny')} deny; ${k.entries.length} kernel policy entries)`);
    return 0;
  } catch (e) {
    if (!(e instanceof RuleFileError)) throw e;
    for (const p of e.problems) err(`${p.file}:${p.line}: ${p.message}`);
    err(`rules: ${e.problems.length} problem${e.problems.length === 1 ? '' : 's'}`);
    return 1;
  }
}

export interface RulesTestOptions {
  events: string;
  json?: boolean;
}

/**
 * Runs the rules over NDJSON event documents (`collect --stdout` output or `_source` of indexed
 * events) in file order, thresholds counted in memory. Prints each alert; exit 0.
 */
export async function rulesTest(files: string[], o: RulesTestOptions, log: Log, err: Log): Promise<number> {
  let engine: AlertEngine;
  try {
    engine = new AlertEngine(loadRules(files), new MemoryThresholdStore());
  } catch (e) {
    if (!(e instanceof RuleFileError)) throw e;
    for (const p of e.problems) err(`${p.file}:${p.line}: ${p.message}`);
    return 1;
  }
  const input = o.events === '-' ? process.stdin : fs.createReadStream(o.events);
  const lines = readline.createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  let alerts = 0;
  const perRule = new Map<string, number>();
  for await (const line of lines) {
    n++;
    if (!line.trim()) continue;
    let doc: EventDocument;
    try {
      doc = JSON.parse(line) as EventDocument;
    } catch (e) {
      err(`${o.events}:${n}: not JSON: ${(e as Error).message}`);
      return 1;
    }
    if (typeof doc?.file?.path !== 'string' || typeof doc?.process?.name !== 'string') {
      err(`${o.events}:${n}: not an event document (file.path and process.name are required)`);
      return 1;
    }
    doc.host ??= { name: 'local', boot: { id: 'local' } };
    const id = doc.event?.id ?? `line-${n}`;
    for (const a of await engine.evaluate([{ id, doc, tsMs: Date.parse(doc['@timestamp']) || n }])) {
      alerts++;
      perRule.set(a.rule.id, (perRule.get(a.rule.id) ?? 0) + 1);
      // The operation and its other name, so a rename onto a path reads differently from an open of it.
      const operation = operationOf(doc);
      const other = doc.filewarden?.original_path ?? doc.file.target_path;
      if (o.json) log(JSON.stringify({ rule: a.rule.id, severity: a.rule.severity, action: a.rule.action, line: n, event: id, operation, path: doc.file.path, ...(other !== undefined ? { other_path: other } : {}), process: doc.process.name, count: a.count }));
      else log(`line ${n}: ${a.rule.id} (${a.rule.severity}, ${a.rule.action}): ${doc.process.name} ${operation} ${doc.file.path}${other !== undefined ? ` (${operation === 'rename' ? 'from' : 'to'} ${other})` : ''}${a.rule.threshold ? ` (${a.count} in window)` : ''}`);
    }
  }
  err(`rules test: ${n} events, ${alerts} alerts${[...perRule].map(([r, c]) => `; ${r}: ${c}`).join('')}`);
  return 0;
}

export function keysGenerate(o: { out: string; force?: boolean }, log: Log): number {
  const k = generateKeys(o.out, o.force);
  log(`keys: private key ${k.privateFile} (0600: for the indexer, --command-key)`);
  log(`keys: public key ${k.publicFile} (for every collector, --command-pubkey)`);
  return 0;
}
