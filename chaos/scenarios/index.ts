// Every row of the chaos matrix, in table order. Adding a row: write chaos/scenarios/<name>.ts
// exporting one Scenario, and list it here.
import type { Scenario } from '../scenario.js';
import { relayKilledAfterAck } from './relay-killed-after-ack.js';

/** The matrix, in the order the table shows it. */
export const scenarios: readonly Scenario[] = [relayKilledAfterAck];
