import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { KAFKA, PG_URL, readTopic } from '../support/services.js';

const run = promisify(execFile);

describe('the README quick start', () => {
  it('runs as written and the event it prints reaches Kafka', async () => {
    const { stdout } = await run('node', ['--import', 'tsx', 'examples/quickstart.ts'], {
      env: { ...process.env, HERALD_DATABASE_URL: PG_URL, HERALD_KAFKA: `kafka://${KAFKA}` },
    });
    const id = /delivered (\S+) to orders\.order-placed\.v1/.exec(stdout)?.[1];
    expect(id).toBeDefined();
    const messages = await readTopic('orders.order-placed.v1');
    expect(messages.filter((m) => m.headers.ce_id === id)).toHaveLength(1);
  });
});
