// Every row of the chaos matrix, in table order. Adding a row: write chaos/scenarios/<name>.ts
// exporting one Scenario (or a function making a parameterised family of rows), and list it here
// (see chaos/README.md).
import type { Scenario } from '../scenario.js';
import { brokerKilled } from './broker-killed.js';
import { brokerLinkFault } from './broker-link-fault.js';
import { clockJumped } from './clock-jumped.js';
import { credentialsRotated } from './credentials-rotated.js';
import { loaderDiskFull } from './loader-disk-full.js';
import { loaderKilledMidBatch } from './loader-killed.js';
import { piiCanaries } from './pii-canaries.js';
import { pgImmediateRestart } from './pg-immediate-restart.js';
import { pgLinkLatencyLoss } from './pg-link-latency-loss.js';
import { poisonEvent } from './poison-event.js';
import { relayKilled } from './relay-killed.js';
import { relayStalledPastLease } from './relay-stalled-past-lease.js';
import { rolledBackTransactions } from './rolled-back-transactions.js';
import { slotInvalidated } from './slot-invalidated.js';
import { writersOutOfIdOrder } from './writers-out-of-id-order.js';

/** The matrix, in the order the table shows it. */
export const scenarios: readonly Scenario[] = [
  relayKilled('before-ack'),
  relayKilled('after-ack'),
  relayStalledPastLease,
  brokerLinkFault('reset'),
  brokerLinkFault('blackhole'),
  pgLinkLatencyLoss,
  pgImmediateRestart,
  brokerKilled,
  writersOutOfIdOrder,
  rolledBackTransactions,
  slotInvalidated,
  clockJumped('+10m'),
  clockJumped('-10m'),
  credentialsRotated,
  poisonEvent,
  loaderKilledMidBatch,
  loaderDiskFull,
  piiCanaries,
];
