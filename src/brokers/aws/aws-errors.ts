import { HeraldError, ErrorCodes, messageOf } from '../../errors.js';

interface SdkError {
  name?: string;
  Code?: string;
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number };
}

const throttling = new Set([
  'Throttled',
  'ThrottledException',
  'Throttling',
  'ThrottlingException',
  'KMSThrottling',
  'KMSThrottlingException',
  'RequestThrottled',
]);

/** Error names AWS uses for credentials that are missing, wrong, expired or not allowed. */
const authFailures = new Set([
  'AuthorizationError',
  'AuthorizationErrorException',
  'InvalidClientTokenId',
  'ExpiredToken',
  'ExpiredTokenException',
  'AccessDenied',
  'AccessDeniedException',
  'SignatureDoesNotMatch',
  'UnrecognizedClientException',
]);

/** What {@link classifyAwsError} needs to know of the service. */
export interface AwsService {
  readonly name: 'sns' | 'sqs';
  /** `topic` or `queue`, for messages. */
  readonly destination: string;
  /** Error names (or `Code`s) meaning the destination does not exist. */
  readonly notFound: ReadonlySet<string>;
}

/**
 * Turns an AWS SDK error into a HeraldError: no HTTP answer at all (refused, reset, timed out, DNS)
 * is `BROKER_UNAVAILABLE`; a missing destination is `TOPIC_NOT_FOUND`; throttling and server faults
 * are `PUBLISH_FAILED`; missing, wrong or unauthorised credentials are `BROKER_UNAVAILABLE`
 * (configuration: the relay pauses instead of dead-lettering every event); any other client
 * fault (invalid parameter, too large) is `PUBLISH_REJECTED`.
 */
export function classifyAwsError(cause: unknown, what: string, service: AwsService): HeraldError {
  const top = cause !== null && typeof cause === 'object' ? (cause as SdkError) : undefined;
  const reason = messageOf(cause);
  const status = top?.$metadata?.httpStatusCode;
  const name = top?.name ?? '';
  if (name === 'CredentialsProviderError') {
    return new HeraldError(
      ErrorCodes.BROKER_UNAVAILABLE,
      `${what}: no AWS credentials: ${reason}; configure the AWS SDK's default credential chain (environment, profile, role)`,
      { cause, retryable: true },
    );
  }
  if (status === 401 || status === 403 || authFailures.has(name)) {
    return new HeraldError(
      ErrorCodes.BROKER_UNAVAILABLE,
      `${what}: ${service.name} refused the credentials: ${reason}; check the IAM policy and keys`,
      {
        cause,
        retryable: true,
      },
    );
  }
  if (service.notFound.has(name) || (top?.Code !== undefined && service.notFound.has(top.Code))) {
    return new HeraldError(
      ErrorCodes.TOPIC_NOT_FOUND,
      `${what}: the ${service.destination} does not exist; create it or pass --create-topics`,
      {
        cause,
        retryable: true,
      },
    );
  }
  // Every answer from AWS carries an HTTP status; an error without one never got an answer.
  if (status === undefined && top?.$fault === undefined) {
    return new HeraldError(
      ErrorCodes.BROKER_UNAVAILABLE,
      `${what}: cannot reach ${service.name}: ${reason}; check the region or endpoint and the network`,
      {
        cause,
        retryable: true,
      },
    );
  }
  if (throttling.has(name) || top?.$fault === 'server' || (status !== undefined && status >= 500)) {
    return new HeraldError(ErrorCodes.PUBLISH_FAILED, `${what}: ${reason}`, { cause, retryable: true });
  }
  if (top?.$fault === 'client')
    return new HeraldError(ErrorCodes.PUBLISH_REJECTED, `${what}: rejected by ${service.name}: ${reason}`, { cause });
  return new HeraldError(ErrorCodes.PUBLISH_FAILED, `${what}: ${reason}`, { cause, retryable: true });
}
