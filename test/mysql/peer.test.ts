import { describe, expect, it, vi } from 'vitest';

vi.mock('mysql2/promise', () => {
  throw new Error("Cannot find package 'mysql2'");
});

describe('the mysql2 peer dependency', () => {
  it('is loaded only when something connects, with a clear error when it is not installed', async () => {
    // Importing the store and building it must not need mysql2.
    const { mysqlStore } = await import('../../src/mysql/store.js');
    const store = mysqlStore('mysql://root@127.0.0.1:3306/app');
    expect(store.kind).toBe('mysql');
    await expect(store.migrate()).rejects.toThrow("herald needs the package 'mysql2' to talk to MySQL or MariaDB: npm install mysql2");
  });
});
