import { describe, expect, it } from 'vitest';
import { classify as classifyPubSub } from '../../src/brokers/pubsub/publisher.js';
import { classify as classifySns } from '../../src/brokers/sns/publisher.js';

// The relay dead-letters events on a non-retryable error. A credentials problem is configuration,
// not the events' fault, so every broker reports it as BROKER_UNAVAILABLE: the relay pauses.
describe('credential failures pause the relay instead of dead-lettering', () => {
  it('sns: missing credentials and refused ones are BROKER_UNAVAILABLE, retryable', () => {
    const missing = Object.assign(new Error('Could not load credentials'), { name: 'CredentialsProviderError' });
    expect(classifySns(missing, 'cannot publish')).toMatchObject({ code: 'BROKER_UNAVAILABLE', retryable: true });
    const refused = Object.assign(new Error('The security token included in the request is invalid'), {
      name: 'InvalidClientTokenId',
      $fault: 'client',
      $metadata: { httpStatusCode: 403 },
    });
    expect(classifySns(refused, 'cannot publish')).toMatchObject({ code: 'BROKER_UNAVAILABLE', retryable: true });
    const invalid = Object.assign(new Error('Invalid parameter: Message too long'), {
      name: 'InvalidParameterException',
      $fault: 'client',
      $metadata: { httpStatusCode: 400 },
    });
    expect(classifySns(invalid, 'cannot publish')).toMatchObject({ code: 'PUBLISH_REJECTED', retryable: false });
  });

  it('pubsub: PERMISSION_DENIED and UNAUTHENTICATED are BROKER_UNAVAILABLE, INVALID_ARGUMENT is PUBLISH_REJECTED', () => {
    for (const code of [7, 16]) {
      const err = Object.assign(new Error('denied'), { code });
      expect(classifyPubSub(err, 'cannot publish')).toMatchObject({ code: 'BROKER_UNAVAILABLE', retryable: true });
    }
    expect(classifyPubSub(Object.assign(new Error('bad'), { code: 3 }), 'cannot publish')).toMatchObject({
      code: 'PUBLISH_REJECTED',
      retryable: false,
    });
  });
});
