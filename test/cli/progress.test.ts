import { describe, expect, it } from 'vitest';
import { progressLine } from '../../src/cli/progress.js';

function stream(isTTY: boolean): NodeJS.WriteStream & { written: string } {
  const s = { isTTY, written: '', write: (chunk: string) => ((s.written += chunk), true) };
  return s as unknown as NodeJS.WriteStream & { written: string };
}

describe('progressLine', () => {
  it('redraws one line in place on a terminal and ends it with a newline', () => {
    const tty = stream(true);
    const p = progressLine('requeued', { json: false, stream: tty });
    p.update(1000, 2500);
    p.update(2500, 2500);
    p.end();
    p.end();
    expect(tty.written).toBe('\r\x1b[2Krequeued: 1000/2500 (40%)\r\x1b[2Krequeued: 2500/2500 (100%)\n');
  });

  it('writes nothing when the stream is not a terminal, or in --json mode', () => {
    for (const [s, json] of [
      [stream(false), false],
      [stream(true), true],
    ] as const) {
      const p = progressLine('requeued', { json, stream: s });
      p.update(1, 2);
      p.end();
      expect(s.written).toBe('');
    }
  });

  it('draws at most ten times a second, but always the last step', () => {
    const tty = stream(true);
    const p = progressLine('reading', { json: false, stream: tty });
    for (let i = 1; i <= 100; i++) p.update(i, 100);
    expect(tty.written.split('\r').filter(Boolean)).toEqual(['\x1b[2Kreading: 1/100 (1%)', '\x1b[2Kreading: 100/100 (100%)']);
  });
});
