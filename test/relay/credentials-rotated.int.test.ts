// A relay's PostgreSQL login refused mid-run (the password rotated under it) must pause the relay
// with backoff, not end it: the session's reconnect then fails with a retryable error that names
// the server without the password. A wrong password at the first connection stays fatal.
// Runs against a private PostgreSQL cluster (chaos/services), never the shared one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrivatePostgres } from '../../chaos/services/postgres.js';
import { HeraldError } from '../../src/errors.js';
import { PgSession } from '../../src/postgres/session.js';

let pg: PrivatePostgres;
let url: string;
const ROLE = 'herald_rotated';

beforeAll(async () => {
  pg = await PrivatePostgres.start();
  url = await pg.createPasswordRole(ROLE, 'first-s3cret');
}, 90_000);

afterAll(async () => {
  await pg?.stop();
});

async function dropSessionsOf(role: string): Promise<void> {
  const c = await pg.client();
  try {
    await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [role]);
  } finally {
    await c.end();
  }
}

async function failureOf(p: Promise<unknown>): Promise<HeraldError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HeraldError);
  return err as HeraldError;
}

describe('PgSession when the password is rotated mid-run', () => {
  it('refuses a wrong password at the first connection (not retryable)', async () => {
    const session = new PgSession(url.replace('first-s3cret', 'wrong-s3cret'), 'herald-test');
    const err = await failureOf(session.query('SELECT 1', [], 'cannot read'));
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('check the user and password');
    expect(err.message).not.toContain('wrong-s3cret');
    await session.close();
  });

  it('pauses (retryable, masked) while the login is refused, and works again once it is restored', async () => {
    const session = new PgSession(url, 'herald-test');
    expect((await session.query('SELECT 1 AS one', [], 'cannot read')).rows[0]).toEqual({ one: 1 });

    await pg.setPassword(ROLE, 'rotated-s3cret');
    await dropSessionsOf(ROLE);
    // The dropped connection first: retryable, as before this change.
    const dropped = await failureOf(session.query('SELECT 1', [], 'cannot read'));
    expect(dropped.retryable).toBe(true);
    // Then the new login is refused: retryable too, with what to do and no password.
    const refused = await failureOf(session.query('SELECT 1', [], 'cannot read'));
    expect(refused.retryable).toBe(true);
    expect(refused.code).toBe('DATABASE_ERROR');
    expect(refused.message).toMatch(/credentials rotated/);
    expect(refused.message).toMatch(/restore the old password or restart the relay with the new one/);
    expect(refused.message).not.toContain('first-s3cret');
    expect(refused.message).not.toContain('rotated-s3cret');
    expect(refused.details.sqlstate).toBe('28P01');

    await pg.setPassword(ROLE, 'first-s3cret');
    expect((await session.query('SELECT 2 AS two', [], 'cannot read')).rows[0]).toEqual({ two: 2 });
    await session.close();
  });
});
