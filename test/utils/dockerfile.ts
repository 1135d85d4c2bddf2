// What docker/Dockerfile puts in an image, read statically (there is no Docker engine here): the build
// outputs each target copies from the build stage, through the stages it derives from.
import fs from 'node:fs';
import path from 'node:path';
import { type Copy, DockerfileParser, type From } from 'dockerfile-ast';
import { repoRoot } from './stack';

export const dockerfilePath = path.join(repoRoot, 'docker', 'Dockerfile');

/** One `COPY --from=build`: a path in the build stage (relative to its WORKDIR, /src) and where it lands in the image. */
export interface BuildCopy {
  /** Relative to the repository root, e.g. "dist/cli". */
  from: string;
  /** Relative to the image's WORKDIR, e.g. "dist/cli", or "" for the WORKDIR itself. */
  to: string;
  /** The destination ends with "/": a file goes into it under its own name (a directory's contents always do). */
  intoDir: boolean;
  /** The stage whose instruction it is. */
  stage: string;
}

interface Stage {
  name: string;
  base: string;
  workdir: string;
  copies: { src: string; dest: string; intoDir: boolean; fromStage: string | undefined }[];
}

function stages(text: string): Stage[] {
  const out: Stage[] = [];
  for (const i of DockerfileParser.parse(text).getInstructions()) {
    const kw = i.getKeyword();
    if (kw === 'FROM') {
      const f = i as From;
      const base = f.getImage() ?? '';
      out.push({ name: f.getBuildStage() ?? `#${out.length}`, base, workdir: out.find((s) => s.name === base)?.workdir ?? '/', copies: [] });
      continue;
    }
    const stage = out[out.length - 1];
    if (!stage) continue;
    const args = i.getArguments().map((a) => a.getValue());
    if (kw === 'WORKDIR') stage.workdir = path.posix.resolve(stage.workdir, args[0]!);
    if (kw === 'COPY') {
      const from = (i as Copy).getFromFlag()?.getValue() ?? undefined;
      const dest = args[args.length - 1]!;
      for (const src of args.slice(0, -1)) stage.copies.push({ src, dest: path.posix.resolve(stage.workdir, dest), intoDir: dest.endsWith('/'), fromStage: from });
    }
  }
  return out;
}

/**
 * The `COPY --from=build` instructions that make `target`, its base stages' first. Each source is a path of the
 * build stage (WORKDIR /src, which holds the repository after the build); each destination is relative to the
 * target's WORKDIR. A copy from anywhere else, or to a place outside the WORKDIR, is an error: the images are
 * laid out under one directory.
 */
export function buildCopies(target: string, text = fs.readFileSync(dockerfilePath, 'utf8')): BuildCopy[] {
  const all = stages(text);
  const chain: Stage[] = [];
  for (let s = all.find((x) => x.name === target); s; s = all.find((x) => x.name === s!.base)) chain.unshift(s);
  if (chain.length === 0) throw new Error(`docker/Dockerfile has no stage ${target}`);
  const build = all.find((s) => s.name === 'build');
  const workdir = chain[chain.length - 1]!.workdir;
  return chain.flatMap((s) =>
    s.copies.map((c) => {
      if (c.fromStage !== 'build' || !build) throw new Error(`${s.name}: COPY ${c.src} does not come from the build stage`);
      const from = path.posix.relative(build.workdir, c.src);
      const to = path.posix.relative(workdir, c.dest);
      if (from.startsWith('..') || to.startsWith('..')) throw new Error(`${s.name}: COPY ${c.src} ${c.dest} leaves ${build.workdir} or ${workdir}`);
      return { from, to, intoDir: c.intoDir, stage: s.name };
    }),
  );
}
