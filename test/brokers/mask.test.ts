import { describe, expect, it } from 'vitest';
import { maskCredentials } from '../../src/brokers/mask.js';

describe('maskCredentials', () => {
  it('hides passwords that contain /, @ or :, also in URLs too malformed to parse', () => {
    for (const url of [
      'nats://relay:Zx9/kQ+w3=@127.0.0.1:4222',
      'amqp://relay:p@ssw0rd@host:99999',
      'pubsub://svc:s3cret@my-project',
      'redis://:a:b/c@127.0.0.1:6379/0',
    ]) {
      const shown = maskCredentials(url);
      for (const secret of ['Zx9/kQ+w3=', 'p@ssw0rd', 'ssw0rd', 's3cret', 'a:b/c']) expect(shown).not.toContain(secret);
      expect(shown).toMatch(/^[a-z]+:\/\/\*\*\*@/);
    }
  });

  it('leaves a URL without credentials as it is', () => {
    expect(maskCredentials('kafka://127.0.0.1:9092')).toBe('kafka://127.0.0.1:9092');
  });
});
