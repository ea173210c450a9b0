import { HeraldError, ErrorCodes } from '../errors.js';
import type { Contract, OdcsProperty } from './contract.js';

/** An Avro schema as JSON (a record, a primitive name, a union, a logical type, …). */
export type AvroSchema = string | readonly AvroSchema[] | { readonly [key: string]: unknown };

const AVRO_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const DECIMAL = /^\s*(?:decimal|numeric)\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)\s*$/i;

/**
 * The Avro schema (a record) of a contract version's `data`, for tools that speak Avro (a lake,
 * Kafka Connect converters). Properties keep their names; a property that is not required
 * becomes `["null", T]` with `default: null`. Types: strings (`uuid` logical type for the uuid
 * format), `timestamp` → `long`/`timestamp-micros`, `date` → `int`/`date`, `time` →
 * `long`/`time-micros`, `integer` → `long`, `number` → `double` or `bytes`/`decimal` when
 * `physicalType` is `DECIMAL(p,s)`, objects → nested records, arrays → arrays; an object or array
 * without a declared shape is its JSON text (`string`). Enums stay strings, as in the warehouse:
 * adding an allowed value is a compatible contract change and must not break readers.
 * A property name Avro cannot carry is a `CONTRACT_INVALID` error naming it.
 */
export function avroSchema(contract: Contract): AvroSchema {
  const namespace = contract.id
    .split('.')
    .map((part) => part.replace(/[^A-Za-z0-9_]/g, '_').replace(/^(\d)/, '_$1'))
    .join('.');
  return {
    type: 'record',
    name: avroName(contract.name, contract, 'name'),
    namespace,
    doc: contract.description ?? `The data of contract ${contract.id} version ${contract.version}.`,
    fields: fieldsOf(contract, contract.properties, contract.name),
  };
}

function fieldsOf(contract: Contract, properties: readonly OdcsProperty[], path: string): Record<string, unknown>[] {
  return properties.map((p) => {
    const where = `${path}.${p.name}`;
    const type = typeOf(contract, p, where);
    return {
      name: avroName(p.name, contract, where),
      ...(p.description === undefined ? {} : { doc: p.description }),
      ...(p.required === true ? { type } : { type: ['null', type], default: null }),
    };
  });
}

function typeOf(contract: Contract, p: Omit<OdcsProperty, 'name'>, where: string): AvroSchema {
  switch (p.logicalType ?? 'string') {
    case 'string':
      return p.logicalTypeOptions?.format === 'uuid' ? { type: 'string', logicalType: 'uuid' } : 'string';
    case 'timestamp':
      return { type: 'long', logicalType: 'timestamp-micros' };
    case 'date':
      return { type: 'int', logicalType: 'date' };
    case 'time':
      return { type: 'long', logicalType: 'time-micros' };
    case 'integer':
      return 'long';
    case 'number': {
      const m = DECIMAL.exec(p.physicalType ?? '');
      return m ? { type: 'bytes', logicalType: 'decimal', precision: Number(m[1]), scale: Number(m[2]) } : 'double';
    }
    case 'boolean':
      return 'boolean';
    case 'object':
      if (!p.properties?.length) return 'string';
      // Record names must be unique in a schema: the path makes them so.
      return {
        type: 'record',
        name: avroName(where.split('.').slice(1).map(pascal).join('_'), contract, where),
        fields: fieldsOf(contract, p.properties, where),
      };
    case 'array':
      return p.items === undefined ? 'string' : { type: 'array', items: typeOf(contract, p.items, `${where}.items`) };
  }
}

function pascal(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function avroName(name: string, contract: Contract, where: string): string {
  if (!AVRO_NAME.test(name)) {
    throw new HeraldError(
      ErrorCodes.CONTRACT_INVALID,
      `contract '${contract.id}' version ${contract.version}: '${where}' is not a valid Avro name ([A-Za-z_][A-Za-z0-9_]*); rename the property to export Avro`,
      { details: { file: contract.file, property: where } },
    );
  }
  return name;
}
