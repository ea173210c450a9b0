// Every row of the chaos matrix, in table order. Adding a row: write chaos/scenarios/<name>.ts
// exporting one Scenario, and list it here (see chaos/README.md).
import type { Scenario } from '../scenario.js';
import { brokerKilled } from './broker-killed.js';
import { brokerLinkBlackhole } from './broker-link-blackhole.js';
import { brokerLinkReset } from './broker-link-reset.js';
import { pgImmediateRestart } from './pg-immediate-restart.js';
import { pgLinkLatencyLoss } from './pg-link-latency-loss.js';
import { relayKilledAfterAck } from './relay-killed-after-ack.js';
import { relayKilledBeforeAck } from './relay-killed-before-ack.js';
import { relayStalledPastLease } from './relay-stalled-past-lease.js';
import { rolledBackTransactions } from './rolled-back-transactions.js';
import { writersOutOfIdOrder } from './writers-out-of-id-order.js';

/** The matrix, in the order the table shows it. */
export const scenarios: readonly Scenario[] = [
  relayKilledBeforeAck,
  relayKilledAfterAck,
  relayStalledPastLease,
  brokerLinkReset,
  brokerLinkBlackhole,
  pgLinkLatencyLoss,
  pgImmediateRestart,
  brokerKilled,
  writersOutOfIdOrder,
  rolledBackTransactions,
];
