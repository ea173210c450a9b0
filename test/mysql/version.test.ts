import { describe, expect, it } from 'vitest';
import { checkServerVersion, parseServerVersion } from '../../src/mysql/version.js';

describe('checkServerVersion', () => {
  it('accepts MariaDB 10.11 as Debian ships it, and MySQL 8.0.36', () => {
    expect(checkServerVersion('10.11.19-MariaDB-0+deb12u1')).toMatchObject({ flavor: 'mariadb', major: 10, minor: 11, patch: 19 });
    expect(checkServerVersion('8.0.36')).toMatchObject({ flavor: 'mysql', major: 8, minor: 0, patch: 36 });
    expect(checkServerVersion('10.6.0-MariaDB')).toMatchObject({ flavor: 'mariadb', minor: 6 });
    expect(checkServerVersion('8.0.1')).toMatchObject({ flavor: 'mysql', patch: 1 });
    expect(checkServerVersion('9.1.0')).toMatchObject({ flavor: 'mysql', major: 9 });
    expect(checkServerVersion('11.4.2-MariaDB')).toMatchObject({ flavor: 'mariadb', major: 11 });
  });

  it('refuses MariaDB 10.5, naming the version and what is needed', () => {
    expect(() => checkServerVersion('10.5.22-MariaDB')).toThrow(
      /the server runs MariaDB 10\.5\.22 \('10\.5\.22-MariaDB'\); herald needs MySQL 8\.0\.1 or MariaDB 10\.6\.0 or later \(for FOR UPDATE SKIP LOCKED/,
    );
  });

  it('refuses MySQL 5.7 and 8.0.0', () => {
    expect(() => checkServerVersion('5.7.44')).toThrow(/the server runs MySQL 5\.7\.44 .*herald needs MySQL 8\.0\.1/);
    expect(() => checkServerVersion('8.0.0-dmr')).toThrow(/MySQL 8\.0\.0/);
  });

  it('reads the old MariaDB handshake prefix and refuses text that is not a version', () => {
    expect(parseServerVersion('5.5.5-10.6.12-MariaDB')).toMatchObject({ flavor: 'mariadb', major: 10, minor: 6, patch: 12 });
    expect(() => checkServerVersion('5.5.5-10.4.1-MariaDB')).toThrow(/MariaDB 10\.4\.1/);
    expect(() => checkServerVersion('banana')).toThrow(/cannot read the server version 'banana'/);
  });
});
