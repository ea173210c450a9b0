import { describe, expect, it } from 'vitest';
import { transactionRetryDelayMs } from '../../src/brokers/kafka/publisher.js';

// The shape @platformatic/kafka hands its retryDelay: a MultipleErrors/ResponseError whose
// nested errors carry the protocol error's apiId (seen on AddPartitionsToTxn right after a commit).
const concurrent = {
  message: 'Received response with error while executing API AddPartitionsToTxn(v5)',
  errors: [{ apiId: 'CONCURRENT_TRANSACTIONS', message: 'x' }],
};
const unreachable = { message: 'Connection closed', code: 'PLT_KFK_NETWORK' };

describe('transactionRetryDelayMs', () => {
  it('retries CONCURRENT_TRANSACTIONS after tens of ms, doubling, instead of the client default second', () => {
    expect([1, 2, 3].map((attempt) => transactionRetryDelayMs(undefined, 'addPartitionsToTransaction', attempt, 3, concurrent))).toEqual([
      20, 40, 80,
    ]);
    expect(transactionRetryDelayMs(undefined, 'addPartitionsToTransaction', 20, 30, concurrent)).toBe(1000);
  });

  it('keeps the client default for every other error, so an unreachable broker is not hammered', () => {
    expect(transactionRetryDelayMs(undefined, 'produce', 1, 3, unreachable)).toBe(1000);
    expect(transactionRetryDelayMs(undefined, 'produce', 1, 3, undefined)).toBe(1000);
  });
});
