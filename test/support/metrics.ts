import { spawn } from 'node:child_process';

/** Ports for the metrics servers tests start. */
export { freePort } from './tcp-forward.js';

/** The value of one series in a Prometheus text exposition, or undefined. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

/** GET a URL: its status and body, or status 0 when nothing answers. */
export async function get(url: string): Promise<{ status: number; text: string }> {
  try {
    const res = await fetch(url);
    return { status: res.status, text: await res.text() };
  } catch {
    return { status: 0, text: '' };
  }
}

/** promtool's complaints about an exposition ('' when none). */
export function promtool(text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', (err) => reject(new Error(`promtool not found (scripts/services.sh installs Debian's prometheus): ${err.message}`)));
    child.on('close', (code) => resolve(code === 0 ? '' : out || `promtool exited ${code}`));
    child.stdin.end(text);
  });
}

/** The `herald_` lines of an exposition, for assertion messages. */
export function heraldLines(text: string): string {
  return text
    .split('\n')
    .filter((l) => l.startsWith('herald_'))
    .join('\n');
}
