import { describe, expect, it } from 'vitest';
import { parseKafkaBrokers } from '../../src/brokers/kafka/publisher.js';

describe('parseKafkaBrokers', () => {
  it('reads kafka://h1:p1,h2:p2 and a list of host:port', () => {
    expect(parseKafkaBrokers('kafka://127.0.0.1:9092,localhost:9093/')).toEqual(['127.0.0.1:9092', 'localhost:9093']);
    expect(parseKafkaBrokers(['[::1]:9092'])).toEqual(['[::1]:9092']);
  });

  it('refuses user:password@ without ever showing the password', () => {
    let message = '';
    try {
      parseKafkaBrokers('kafka://u:s3cret@127.0.0.1:9');
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain("kafka address '***@127.0.0.1:9' must be host:port");
    expect(message).toContain('credentials in a kafka:// URL are not supported');
    expect(message).not.toContain('s3cret');
  });
});
