// The embedded services' firewall: an nftables table whose output hook refuses connections to the
// stack's loopback ports from every local user but root and the user Elasticsearch runs as. The
// test node has no security module, so without it any local user could read or delete evidence.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { StackError } from './errors';
import { run, tail } from './processes';

/** What `stack up` installed, recorded in stack.json so `stack down` removes exactly that table. */
export interface FirewallState {
  /** The nftables table, in family `inet`. */
  table: string;
  /** Loopback TCP ports only `uids` may connect to. */
  ports: number[];
  uids: number[];
}

/** One table per state directory, so two stacks on one host never touch each other's rules. */
export function firewallTable(stateDir: string): string {
  return `filewarden_${crypto.createHash('sha256').update(path.resolve(stateDir)).digest('hex').slice(0, 12)}`;
}

/**
 * The whole table as one `nft -f` transaction: create-then-delete makes the replace atomic and
 * idempotent, so there is never a moment without the rules. The match is on the owner of the
 * sending socket (`meta skuid`), which a process cannot choose; packets without a socket (kernel
 * replies) are not matched. Every packet to the ports is refused, not only new connections, so a
 * connection opened before the table existed is cut too.
 */
export function firewallRuleset(f: FirewallState, stateDir: string): string {
  const ports = [...new Set(f.ports)].sort((a, b) => a - b).join(', ');
  const uids = [...new Set(f.uids)].sort((a, b) => a - b).join(', ');
  return [
    `table inet ${f.table} {}`,
    `delete table inet ${f.table}`,
    `table inet ${f.table} {`,
    `  comment "filewarden stack ${stateDir.replace(/[^\w./-]/g, '_')}: loopback ports of its Redis and Elasticsearch"`,
    `  set ports { typeof tcp dport; elements = { ${ports} } }`,
    `  set uids { typeof meta skuid; elements = { ${uids} } }`,
    '  chain output {',
    '    type filter hook output priority filter; policy accept;',
    '    ip daddr 127.0.0.0/8 tcp dport @ports meta skuid != @uids reject with tcp reset',
    '    ip6 daddr ::1 tcp dport @ports meta skuid != @uids reject with tcp reset',
    '  }',
    '}',
    '',
  ].join('\n');
}

const NFT_HINT =
  'the stack needs nftables: run `filewarden stack up` as root (CAP_NET_ADMIN) on a kernel with nf_tables ' +
  '(CONFIG_NF_TABLES, CONFIG_NFT_REJECT; check with: nft list ruleset); install nft with: apt-get install nftables';

/** Installs or replaces the table. Throws FW_STACK_FIREWALL: the stack never runs open by accident. */
export async function installFirewall(f: FirewallState, stateDir: string): Promise<void> {
  if (f.ports.length === 0) throw new Error('installFirewall: no ports');
  fs.mkdirSync(stateDir, { recursive: true });
  const file = path.join(stateDir, 'firewall.nft');
  fs.writeFileSync(file, firewallRuleset(f, stateDir), { mode: 0o600 });
  const res = await run('nft', ['-f', file]);
  if (res.spawnError) {
    throw new StackError('FW_STACK_FIREWALL', `cannot run nft to close ports ${f.ports.join(',')} to other local users: ${res.spawnError.message}`, {
      hint: NFT_HINT,
    });
  }
  if (res.code !== 0) {
    throw new StackError('FW_STACK_FIREWALL', `nft refused the firewall table inet ${f.table} (ports ${f.ports.join(',')}): ${firstLine(res.stderr)}`, {
      details: `${tail(res.stderr, 10)}\n(ruleset: ${file})`,
      hint: NFT_HINT,
    });
  }
}

/** Removes exactly this table; a table that is already gone is not an error. */
export async function removeFirewall(table: string): Promise<string> {
  const res = await run('nft', ['delete', 'table', 'inet', table]);
  if (res.code === 0) return `firewall: table inet ${table} removed`;
  if (/No such file or directory/.test(res.stderr)) return `firewall: table inet ${table} was already gone`;
  throw new StackError('FW_STACK_FIREWALL', `cannot remove the firewall table inet ${table}: ${firstLine(res.spawnError?.message ?? res.stderr)}`, {
    hint: `remove it yourself: nft delete table inet ${table}`,
  });
}

/** Whether the table is loaded now: true, false, or undefined when nft cannot tell (not root). */
export async function firewallLoaded(table: string): Promise<boolean | undefined> {
  const res = await run('nft', ['list', 'table', 'inet', table]);
  if (res.code === 0) return true;
  if (/No such file or directory/.test(res.stderr)) return false;
  return undefined;
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0] ?? '';
}
