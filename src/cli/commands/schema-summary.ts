import type { SchemaState } from '../../db/migrations';

/** One line on where a database's schema stands against what this program expects. */
export function schemaSummary(state: SchemaState): string {
  const total = state.expected.length;
  const latest = state.expected[total - 1] ?? 'none';
  let text = `${state.applied} of ${total} migrations applied (this cartd expects all, up to ${latest})`;
  if (state.empty && state.applied === 0) text = `no cartd tables: 0 of ${total} migrations applied (this cartd expects all, up to ${latest})`;
  if (state.unknown > 0) text += `, plus ${state.unknown} this cartd does not know (written by a newer cartd)`;
  return text;
}
