import type { ColumnType, Field } from './columns.js';

const SCALARS: Record<string, ColumnType['kind']> = {
  VARCHAR: 'varchar',
  UUID: 'uuid',
  'TIMESTAMP WITH TIME ZONE': 'timestamptz',
  DATE: 'date',
  TIME: 'time',
  BIGINT: 'bigint',
  DOUBLE: 'double',
  BOOLEAN: 'boolean',
  JSON: 'json',
};

/** A column type in DuckDB's spelling (struct field names quoted: `order` is a keyword). */
export function duckDbType(t: ColumnType): string {
  switch (t.kind) {
    case 'decimal':
      return `DECIMAL(${t.precision},${t.scale})`;
    case 'struct':
      return `STRUCT(${t.fields.map((f) => `"${f.name}" ${duckDbType(f.type)}`).join(', ')})`;
    case 'list':
      return `${duckDbType(t.item)}[]`;
    default:
      return Object.keys(SCALARS).find((k) => SCALARS[k] === t.kind)!;
  }
}

/**
 * Parses a type as `duckdb_columns()` spells it back into a {@link ColumnType}, so that a table
 * made by an earlier version can be compared with what the contracts want now. Returns
 * undefined for a type Herald never creates (a column someone added by hand).
 */
export function parseDuckDbType(text: string): ColumnType | undefined {
  const parser = { text, at: 0 };
  const t = parseType(parser);
  return t && parser.at === text.length ? t : undefined;
}

interface Cursor {
  readonly text: string;
  at: number;
}

function parseType(c: Cursor): ColumnType | undefined {
  let t: ColumnType | undefined;
  const rest = c.text.slice(c.at);
  const decimal = /^DECIMAL\((\d+),(\d+)\)/.exec(rest);
  if (decimal) {
    c.at += decimal[0].length;
    t = { kind: 'decimal', precision: Number(decimal[1]), scale: Number(decimal[2]) };
  } else if (rest.startsWith('STRUCT(')) {
    c.at += 'STRUCT('.length;
    const fields: Field[] = [];
    for (;;) {
      const name = /^("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_]*) /.exec(c.text.slice(c.at));
      if (!name) return undefined;
      c.at += name[0].length;
      const type = parseType(c);
      if (!type) return undefined;
      fields.push({ name: name[1]!.replace(/^"|"$/g, '').replace(/""/g, '"'), property: undefined, type });
      if (c.text.startsWith(', ', c.at)) c.at += 2;
      else if (c.text[c.at] === ')') {
        c.at += 1;
        break;
      } else return undefined;
    }
    t = { kind: 'struct', fields };
  } else {
    // Longest scalar name first, so that TIME does not match the start of another name.
    const scalar = Object.keys(SCALARS)
      .sort((a, b) => b.length - a.length)
      .find((k) => rest.startsWith(k));
    if (!scalar) return undefined;
    c.at += scalar.length;
    t = { kind: SCALARS[scalar]! } as ColumnType;
  }
  while (c.text.startsWith('[]', c.at)) {
    c.at += 2;
    t = { kind: 'list', item: t };
  }
  return t;
}
