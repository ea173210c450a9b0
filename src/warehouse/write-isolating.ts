import { ErrorCodes, isHeraldError, type HeraldError } from '../errors.js';
import type { DeadLetter, LoadBatch, LoadRow } from './rows.js';
import { addCount, type WarehouseSink, type WriteResult } from './sink.js';
import { metaColumns, type TablePlan } from './table-plan.js';

/**
 * Writes a batch; when the warehouse refuses a value of it (`EVENT_INVALID`: a value the column
 * cannot take), writes the rows one per transaction instead and turns the refused ones into dead
 * letters, so one bad value never blocks the rest. Slow, but only for the batch at fault. Other
 * errors propagate; retrying the call is safe, as rows already written are skipped by event id.
 */
export async function writeIsolating(sink: WarehouseSink, load: LoadBatch): Promise<WriteResult> {
  try {
    return await sink.write(load);
  } catch (err) {
    if (!isHeraldError(err, ErrorCodes.EVENT_INVALID)) throw err;
  }
  const total = { inserted: 0, duplicates: 0, deadLettered: 0 };
  const inserted: Record<string, number> = {};
  const duplicates: Record<string, number> = {};
  const refused: DeadLetter[] = [...load.deadLetters];
  for (const [plan, rows] of load.rows) {
    for (const row of rows) {
      try {
        const r = await sink.write({ rows: new Map([[plan, [row]]]), deadLetters: [] });
        total.inserted += r.inserted;
        total.duplicates += r.duplicates;
        addCount(inserted, plan.table, r.inserted);
        addCount(duplicates, plan.table, r.duplicates);
      } catch (err) {
        if (!isHeraldError(err, ErrorCodes.EVENT_INVALID)) throw err;
        refused.push(refusedRow(plan, row, err));
      }
    }
  }
  const dead = await sink.write({ rows: new Map(), deadLetters: refused });
  const tables = Object.fromEntries(Object.keys(inserted).map((t) => [t, { inserted: inserted[t]!, duplicates: duplicates[t] ?? 0 }]));
  return {
    ...total,
    deadLettered: dead.deadLettered,
    tables,
    ...(dead.deadLetteredByTopic === undefined ? {} : { deadLetteredByTopic: dead.deadLetteredByTopic }),
  };
}

/**
 * A row the warehouse refused, as a dead letter. Its data is kept as the row's column values
 * (personal values already protected), so nothing is lost.
 */
function refusedRow(plan: TablePlan, row: LoadRow, err: HeraldError): DeadLetter {
  const meta = (name: (typeof metaColumns)[number]): string | null => row.values[metaColumns.indexOf(name)] ?? null;
  const data = Object.fromEntries(plan.columns.map((c, i) => [c.name, row.values[metaColumns.length + i]]));
  return {
    id: row.eventId,
    topic: meta('_topic') ?? '',
    position: meta('_position') ?? '',
    eventType: meta('_event_type'),
    dataschema: null,
    reason: `table '${plan.table}' refused the row: ${err.message}`,
    data: JSON.stringify(data),
  };
}
