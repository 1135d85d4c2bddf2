// The VM harness reads module dependencies from a module's own .modinfo, as modprobe would.
import t from 'tap';
import { moduleDepends } from '../../utils/vm';

t.test('depends= in .modinfo lists the modules to load first', async (t) => {
  const ko = Buffer.concat([Buffer.from('\x7fELF...'), Buffer.from('license=GPL\0depends=netfs,9pnet\0intree=Y\0')]);
  t.same(moduleDepends(ko), ['netfs', '9pnet']);
  t.same(moduleDepends(Buffer.from('license=GPL\0depends=\0')), [], 'an empty depends= means none');
  t.same(moduleDepends(Buffer.from('license=GPL\0')), [], 'no depends= at all means none');
});
