// Finds a JDK for Elasticsearch (8.x: Java 17+, 9.x: Java 21+), with javac to build the REST module.
import fs from 'node:fs';
import path from 'node:path';
import { StackError } from './errors';
import { run } from './processes';

export interface JavaHome {
  home: string;
  major: number;
}

const INSTALL_HINT = 'install a JDK with: apt-get install openjdk-17-jdk-headless (or set ES_JAVA_HOME to a JDK 17+)';

export function parseJavaMajor(versionOutput: string): number | undefined {
  const m = /version "(\d+)(?:\.(\d+))?/.exec(versionOutput);
  if (!m) return undefined;
  const first = Number(m[1]);
  return first === 1 && m[2] ? Number(m[2]) : first;
}

/** An explicit FILEWARDEN_JAVA_HOME or ES_JAVA_HOME is the only candidate: never silently another. */
function candidates(env: NodeJS.ProcessEnv): string[] {
  const explicit = env.FILEWARDEN_JAVA_HOME || env.ES_JAVA_HOME;
  if (explicit) return [explicit];
  const out: string[] = [];
  out.push('/usr/lib/jvm/java-17-openjdk-amd64', '/usr/lib/jvm/default-java');
  // Then every other JDK there (Temurin's, for 9.x), newest name last so the system one stays first.
  try {
    for (const d of fs.readdirSync('/usr/lib/jvm').sort()) out.push(path.join('/usr/lib/jvm', d));
  } catch {
    /* no /usr/lib/jvm */
  }
  try {
    const java = fs.realpathSync('/usr/bin/java');
    out.push(path.dirname(path.dirname(java)));
  } catch {
    /* no java on PATH */
  }
  return [...new Set(out)];
}

/** The first candidate JDK that has java and javac at major version `minMajor` or newer. */
export async function findJdk(env: NodeJS.ProcessEnv = process.env, minMajor = 17): Promise<JavaHome> {
  const tried: string[] = [];
  for (const home of candidates(env)) {
    const java = path.join(home, 'bin', 'java');
    if (!fs.existsSync(java)) {
      tried.push(`${home}: no bin/java`);
      continue;
    }
    if (!fs.existsSync(path.join(home, 'bin', 'javac'))) {
      tried.push(`${home}: a JRE without javac`);
      continue;
    }
    const res = await run(java, ['-version']);
    const major = parseJavaMajor(res.stderr + res.stdout);
    if (major === undefined || major < minMajor) {
      tried.push(`${home}: Java ${major ?? '?'} (need ${minMajor}+)`);
      continue;
    }
    return { home, major };
  }
  throw new StackError('FW_STACK_JAVA', `no usable JDK ${minMajor}+ for Elasticsearch (${tried.join('; ') || 'none found'})`, {
    hint: minMajor > 17 ? `Elasticsearch 9.x needs Java ${minMajor}+: install one under /usr/lib/jvm, or set ES_JAVA_HOME to it` : INSTALL_HINT,
  });
}
