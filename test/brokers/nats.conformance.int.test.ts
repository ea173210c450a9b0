import { publisherConformance } from './conformance.js';
import { natsTarget } from './targets/nats.js';

publisherConformance(natsTarget);
