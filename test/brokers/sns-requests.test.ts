import { describe, expect, it } from 'vitest';
import { batchRequests, parseSnsUrl } from '../../src/brokers/sns/publisher.js';

const entry = (id: string, group?: string) => ({ Id: id, Message: '{}', ...(group === undefined ? {} : { MessageGroupId: group }) });

describe('SNS PublishBatch requests', () => {
  it('hold at most 10 entries, in order', () => {
    const requests = batchRequests(Array.from({ length: 23 }, (_, i) => entry(`e${i}`)));
    expect(requests.map((r) => r.length)).toEqual([10, 10, 3]);
    expect(requests.flat().map((e) => e.Id)).toEqual(Array.from({ length: 23 }, (_, i) => `e${i}`));
  });

  it('hold at most one entry per FIFO message group, so a failed entry is never followed by its group', () => {
    const requests = batchRequests([entry('a1', 'a'), entry('b1', 'b'), entry('a2', 'a'), entry('c1', 'c'), entry('b2', 'b')]);
    expect(requests.map((r) => r.map((e) => e.Id))).toEqual([
      ['a1', 'b1'],
      ['a2', 'c1', 'b2'],
    ]);
  });

  it('refuse an endpoint with credentials in it, without printing them', () => {
    expect(() => parseSnsUrl('sns://eu-west-1?endpoint=http://AKIA:s3cret@127.0.0.1:4566')).toThrow(/without credentials/);
    try {
      parseSnsUrl('sns://eu-west-1?endpoint=http://AKIA:s3cret@127.0.0.1:4566');
    } catch (err) {
      expect((err as Error).message).not.toContain('s3cret');
    }
  });
});
