// HTML to PDF (and to a PNG screenshot) with Debian's headless Chromium: the HTML is self-contained,
// so Chromium runs with the network off.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export class ChromiumError extends Error {
  override readonly name = 'ChromiumError';
}

const CANDIDATES = ['chromium', 'chromium-browser', 'google-chrome'];

/** The Chromium binary: $FILEWARDEN_CHROMIUM, else the first candidate on PATH. */
export function findChromium(): string {
  const env = process.env.FILEWARDEN_CHROMIUM;
  if (env) return env;
  for (const dir of (process.env.PATH ?? '').split(':')) for (const c of CANDIDATES) if (fs.existsSync(path.join(dir, c))) return path.join(dir, c);
  throw new ChromiumError('a PDF needs headless Chromium: apt-get install chromium (or set FILEWARDEN_CHROMIUM)');
}

function chromium(args: string[]): Promise<void> {
  const bin = findChromium();
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-chromium-'));
  const all = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--disable-extensions', '--proxy-server=direct://', '--proxy-bypass-list=*', `--user-data-dir=${profile}`, ...args];
  return new Promise<void>((resolve, reject) => {
    execFile(bin, all, { timeout: 120_000 }, (err, _out, stderr) => {
      fs.rmSync(profile, { recursive: true, force: true });
      if (err) reject(new ChromiumError(`${bin} failed: ${err.message}\n${stderr.split('\n').slice(-5).join('\n')}`));
      else resolve();
    });
  });
}

/** Writes the HTML to a temporary file and prints it to `out` as PDF (A4, no header or footer). */
export async function htmlToPdf(html: string, out: string): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-report-'));
  try {
    const page = path.join(dir, 'report.html');
    fs.writeFileSync(page, html);
    await chromium(['--no-pdf-header-footer', `--print-to-pdf=${path.resolve(out)}`, `file://${page}`]);
    if (!fs.existsSync(out) || fs.statSync(out).size === 0) throw new ChromiumError(`Chromium wrote no PDF to ${out}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A PNG screenshot of an HTML file, `width` x `height` CSS pixels. */
export async function screenshot(htmlFile: string, out: string, width = 1024, height = 1400): Promise<void> {
  await chromium([`--window-size=${width},${height}`, '--hide-scrollbars', `--screenshot=${path.resolve(out)}`, `file://${path.resolve(htmlFile)}`]);
  if (!fs.existsSync(out)) throw new ChromiumError(`Chromium wrote no screenshot to ${out}`);
}
