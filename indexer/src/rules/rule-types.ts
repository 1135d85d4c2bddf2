// The rule language's compiled form (docs/rules.md): what the loader produces and the matcher,
// the threshold store and the policy compiler consume.
import { OPERATIONS } from '../../../contract/src/event-document';
import type { OperationName } from '../../../contract/src/event';
import { modeSpecialBits } from '../../../contract/src/tables';

export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const ACCESSES = ['read', 'write', 'create', 'truncate'] as const;
export type Access = (typeof ACCESSES)[number];

/** The operations `on:` names: the contract's own table, so a new operation is a new name here too. */
export const OPERATION_NAMES = Object.keys(OPERATIONS) as OperationName[];
export type Operation = OperationName;

/** The special bits `special:` names: the contract's names for them, all set in 07777 plus o+w. */
export const SPECIAL_BITS = modeSpecialBits(0o7002);
export type SpecialBit = string;

export const OUTCOMES = ['success', 'failure', 'unknown'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export const ACTIONS = ['alert', 'kill', 'deny'] as const;
export type RuleAction = (typeof ACTIONS)[number];

export const SCOPES = ['on-alert', 'kernel'] as const;
export type RuleScope = (typeof SCOPES)[number];

export const GROUP_BY = ['host', 'process', 'user'] as const;
export type GroupBy = (typeof GROUP_BY)[number];

/** A uid range, both ends included. */
export interface UidRange {
  from: number;
  to: number;
}

/** One match block: every condition given must hold (AND); a list within a condition is any-of (OR). */
export interface Conditions {
  /** The operations (filewarden.operation; absent means open). Without it, every operation. */
  on?: Operation[];
  /**
   * Globs over the names the operation acts on: file.path, and a rename's old path
   * (filewarden.original_path) or a link's existing file (file.target_path). `*` within a segment,
   * `**` across segments, `?` one character. In a match block any name may match; in an exception
   * every name must.
   */
  path?: string[];
  /** Byte prefixes of those names, read the same way. */
  pathPrefix?: string[];
  /** Globs over file.target_path: a link's existing file, a symlink's target as stored (text). */
  target?: string[];
  /** Globs over process.name (the kernel's comm, at most 15 bytes). */
  process?: string[];
  /** Globs over process.executable. */
  executable?: string[];
  /** user.name or user.id values. */
  user?: string[];
  uid?: UidRange[];
  /** Any of these accesses (from the open flags): opens only. */
  access?: Access[];
  /** Any of these special bits in a chmod's new mode (filewarden.change.special). */
  special?: SpecialBit[];
  outcome?: Outcome[];
  /** true: only in a container; false: only outside; a list: container id globs. */
  container?: boolean | string[];
}

export interface Threshold {
  count: number;
  windowMs: number;
  by: GroupBy[];
}

export interface Rule {
  id: string;
  name: string;
  description?: string;
  severity: Severity;
  tags: string[];
  match: Conditions;
  except: Conditions[];
  threshold?: Threshold;
  action: RuleAction;
  /** For kill and deny: in the kernel before the syscall returns, or by a command after the alert. */
  scope: RuleScope;
  /** Where the rule came from, for messages: "file:line". */
  source: string;
}
