import { describe, expect, it } from 'vitest';
import { ErrorCodes, isHeraldError } from '../../src/errors.js';
import { sqliteLocation, SQLITE_BUSY_TIMEOUT_MS } from '../../src/sqlite/connect.js';
import { checkSqliteVersion } from '../../src/sqlite/version.js';
import { storeKindOf } from '../../src/store/store-url.js';

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a throw');
}

describe('sqlite: URLs', () => {
  it('takes relative, absolute and triple-slash paths, resolved to absolute files', () => {
    expect(sqliteLocation('sqlite:/var/lib/app/app.db')).toEqual({ file: '/var/lib/app/app.db', busyTimeoutMs: SQLITE_BUSY_TIMEOUT_MS });
    expect(sqliteLocation('sqlite:///var/lib/app/app.db').file).toBe('/var/lib/app/app.db');
    expect(sqliteLocation('sqlite:./herald.db').file).toBe(`${process.cwd()}/herald.db`);
    expect(sqliteLocation('sqlite:my%20file.db').file).toBe(`${process.cwd()}/my file.db`);
    expect(storeKindOf('sqlite:./herald.db')).toBe('sqlite');
  });

  it('reads ?busy_timeout= and refuses one that is not a number of milliseconds', () => {
    expect(sqliteLocation('sqlite:/x.db?busy_timeout=12000').busyTimeoutMs).toBe(12000);
    const err = thrown(() => sqliteLocation('sqlite:/x.db?busy_timeout=soon'));
    expect(isHeraldError(err, ErrorCodes.CONFIG_INVALID)).toBe(true);
    expect(err.message).toContain('busy_timeout=soon');
    expect(thrown(() => sqliteLocation('sqlite:%zz')).message).toBe(
      "option 'database' is not a URL like sqlite:./herald.db (got 'sqlite:%zz')",
    );
  });

  it('refuses :memory: and an empty path, saying why a relay could never see it', () => {
    for (const url of ['sqlite::memory:', 'sqlite:']) {
      const err = thrown(() => sqliteLocation(url));
      expect(isHeraldError(err, ErrorCodes.CONFIG_INVALID)).toBe(true);
      expect(err.message).toContain("option 'database'");
      expect(err.message).toContain('a relay in another process could never read its outbox');
    }
  });
});

describe('sqlite: library version', () => {
  it('accepts 3.35.0 and later', () => {
    for (const v of ['3.35.0', '3.45.1', '3.51.2', '4.0.0']) expect(() => checkSqliteVersion(v)).not.toThrow();
  });

  it('refuses an older library, naming its version and what herald needs', () => {
    const err = thrown(() => checkSqliteVersion('3.31.1'));
    expect(isHeraldError(err, ErrorCodes.CONFIG_INVALID)).toBe(true);
    expect(err.message).toBe(
      'the sqlite library is version 3.31.1; herald needs SQLite 3.35.0 or later (for RETURNING and STORED generated columns); better-sqlite3 12 bundles one',
    );
    expect(thrown(() => checkSqliteVersion('garbage')).message).toContain("cannot read the sqlite version 'garbage'");
  });
});
