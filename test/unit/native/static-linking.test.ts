// The addon carries libbpf, libelf and zlib inside it: a host needs none of them installed.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import t from 'tap';
import { packageRoot } from '../../../stack/src/package-root';

const addon = path.join(packageRoot(), 'native', 'build', 'Release', 'filewarden_native.node');

t.test('the addon needs no libbpf, libelf or libz shared library at run time', async (t) => {
  const deps = execFileSync('ldd', [addon], { encoding: 'utf8' });
  t.match(deps, /libc\.so/, 'ldd lists the addon\'s real dependencies');
  for (const lib of ['libbpf', 'libelf', 'libz']) t.notMatch(deps, new RegExp(`${lib}\\.so`), `${lib} is linked statically`);
});

t.test('the static libraries\' symbols stay private to the addon', async (t) => {
  const exported = execFileSync('nm', ['-D', '--defined-only', addon], { encoding: 'utf8' });
  t.match(exported, /napi_register_module_v1/, 'the module entry point is exported');
  for (const sym of ['bpf_object__open', 'elf_begin', 'inflate']) {
    t.notMatch(exported, new RegExp(`\\b${sym}\\b`), `${sym} is not exported (no clash with another copy in the process)`);
  }
});
