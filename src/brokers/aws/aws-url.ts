import { HeraldError, ErrorCodes } from '../../errors.js';
import { maskCredentials } from '../mask.js';

/** A parsed `sns://` or `sqs://` URL. */
export interface AwsUrl {
  readonly region: string;
  /** An SNS/SQS-compatible server instead of AWS, e.g. a stand-in in tests. */
  readonly endpoint: string | undefined;
  /** The account owning the topics or queues, when given. */
  readonly accountId: string | undefined;
}

/**
 * Parses `<scheme>://<region>[?endpoint=http://host:port][&accountId=123456789012]`. The endpoint
 * may not carry credentials (it is named in every error); they come from the SDK's chain. Every
 * mistake is a `CONFIG_INVALID` naming `broker` with the expected form.
 */
export function parseAwsUrl(url: string, scheme: 'sns' | 'sqs'): AwsUrl {
  const bad = (why: string): HeraldError =>
    new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      `option 'broker': ${why}; write it as ${scheme}://<region>[?endpoint=http://host:port][&accountId=123456789012], as in ${scheme}://eu-west-1`,
      { details: { option: 'broker' } },
    );
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw bad(`the ${scheme} URL cannot be parsed`);
  }
  if (parsed.protocol !== `${scheme}:`) throw bad(`the URL scheme must be ${scheme}, got '${parsed.protocol.replace(/:$/, '')}'`);
  const region = parsed.hostname.toLowerCase();
  if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region)) throw bad(`'${region}' is not an AWS region`);
  const endpoint = parsed.searchParams.get('endpoint') ?? undefined;
  if (endpoint !== undefined && !/^https?:\/\/[^/?#@]+\/?$/.test(endpoint)) {
    throw bad(`endpoint '${maskCredentials(endpoint)}' must be http(s)://host:port, without credentials`);
  }
  const accountId = parsed.searchParams.get('accountId') ?? undefined;
  if (accountId !== undefined && !/^\d{12}$/.test(accountId)) throw bad(`accountId '${accountId}' must be 12 digits`);
  const unknown = [...parsed.searchParams.keys()].find((k) => k !== 'endpoint' && k !== 'accountId');
  if (unknown !== undefined) throw bad(`unknown parameter '${unknown}'`);
  return { region, endpoint, accountId };
}

/** Where requests go, for messages: `region eu-west-1`, or the endpoint and its region. */
export function awsWhere(url: AwsUrl): string {
  return url.endpoint === undefined ? `region ${url.region}` : `${url.endpoint} (region ${url.region})`;
}

/** The ARN partition of a region. */
export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}
