import { publisherConformance } from './conformance.js';
import { kafkaTarget } from './targets/kafka.js';

publisherConformance(kafkaTarget);
