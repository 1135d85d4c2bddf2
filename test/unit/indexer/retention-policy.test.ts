// The retention policy file: every problem reported at once with its place; the ILM export keeps
// the same days and says what ILM cannot do.
import t from 'tap';
import { ilmPolicies, parseRetentionPolicy } from '../../../indexer/src/retention/retention-policy';

t.test('a good policy is read with its holds', async (t) => {
  const p = parseRetentionPolicy('events: 400\nalerts: 400\naudit: 2555\nholds:\n  - host: web-1\n    reason: case 17\n  - index: filewarden-events-2026.01.02\n    reason: litigation\n', 'p.yaml');
  t.same(p.days, { events: 400, alerts: 400, audit: 2555 });
  t.same(p.holds, [{ host: 'web-1', reason: 'case 17' }, { index: 'filewarden-events-2026.01.02', reason: 'litigation' }]);
  t.same(parseRetentionPolicy('{"events": 1, "alerts": 2, "audit": 3}', 'p.json').holds, [], 'JSON works, holds are optional');
});

t.test('every problem of a bad policy is reported, with the file, in the order of the policy\'s keys', async (t) => {
  t.throws(() => parseRetentionPolicy('events: 1.5\nalerts: -1\nextra: 1\nholds:\n  - host: a\n    index: b\n  - reason: ""\n', 'bad.yaml'), {
    name: 'RetentionPolicyError',
    message: [
      'bad.yaml: unknown key "extra" (expected events, alerts, audit, holds)',
      'bad.yaml: events: expected whole days from 1 to 36500, got 1.5',
      'bad.yaml: alerts: expected whole days from 1 to 36500, got -1',
      'bad.yaml: audit: missing (days to keep audit)',
      'bad.yaml: holds[0]: give exactly one of host or index',
      'bad.yaml: holds[0].reason: a legal hold needs a reason (the evidence records it)',
      'bad.yaml: holds[1]: give exactly one of host or index',
      'bad.yaml: holds[1].reason: a legal hold needs a reason (the evidence records it)',
    ].join('\n'),
  });
  t.throws(() => parseRetentionPolicy('events: "30"\nalerts: 36501\naudit: 1\nholds:\n  - 5\n  - {host: "", reason: "  ", why: 1}\n  - {index: 3, reason: r}\n', 'h.yaml'), {
    name: 'RetentionPolicyError',
    message: [
      'h.yaml: events: expected whole days from 1 to 36500, got "30"',
      'h.yaml: alerts: expected whole days from 1 to 36500, got 36501',
      'h.yaml: holds[0]: expected a mapping with host or index, and reason',
      'h.yaml: holds[1]: unknown key "why"',
      'h.yaml: holds[1].host: expected a host name',
      'h.yaml: holds[1].reason: a legal hold needs a reason (the evidence records it)',
      'h.yaml: holds[2].index: expected an index name',
    ].join('\n'),
  }, 'a hold that is not a mapping has that one problem; a blank reason is no reason');
  t.throws(() => parseRetentionPolicy('events: 1\nalerts: 1\naudit: 1\nholds: {host: a}\n', 'l.yaml'), { message: 'l.yaml: holds: expected a list' });
  t.strictSame(parseRetentionPolicy('events: 1\nalerts: 1\naudit: 1\nholds:\n', 'e.yaml').holds, [], 'an empty holds key is no holds');
  t.throws(() => parseRetentionPolicy('- 1', 'list.yaml'), { message: /expected a mapping/ });
  t.throws(() => parseRetentionPolicy('a: [', 'broken.yaml'), { message: /broken.yaml: not YAML or JSON/ });
});

t.test('the ILM export deletes after the same days and states its limits', async (t) => {
  const p = parseRetentionPolicy('events: 400\nalerts: 90\naudit: 2555\nholds:\n  - host: h\n    reason: r\n', 'p.yaml');
  const ilm = ilmPolicies(p, { indexPrefix: 'fe', alertIndex: 'fa', auditIndex: 'fau' }) as Record<string, { applies_to: string; policy: { phases: { delete: { min_age: string } } } }> & { notes: string[] };
  t.equal(ilm.fe!.policy.phases.delete.min_age, '400d');
  t.equal(ilm.fe!.applies_to, 'fe-*');
  t.equal(ilm.fa!.policy.phases.delete.min_age, '90d');
  t.equal(ilm.fau!.policy.phases.delete.min_age, '2555d');
  t.match(ilm.notes.join('\n'), /Legal holds \(1 in this policy\) have no ILM equivalent/);
});
