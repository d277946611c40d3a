// The `ledger` and `metrics` sections: how usage is recorded and exposed.
import * as z from 'zod';
import { secretSchema } from './secret-schema.js';

/** `ledger`: how rows reach the usage ledger (`storage.ledger` says where it is). */
export const ledgerSchema = z.strictObject({
  enabled: z.boolean().default(true),
  durability: z.enum(['batched', 'strict']).default('batched'),
  flush_interval_ms: z.number().int().min(10).max(60_000).default(200),
  batch_size: z.number().int().positive().max(10_000).default(1000),
  max_buffered_rows: z.number().int().positive().default(100_000),
  // How long the flush at shutdown retries a database that does not answer; part of the shutdown's time
  // budget (a pod's terminationGracePeriodSeconds), with the drain.
  shutdown_flush_ms: z.number().int().min(100).max(600_000).default(15_000),
  // Where rows the ledger cannot take are kept until they can be written; `false` turns it off (rows are
  // lost then, as before). Unset: beside the SQLite file, or `./data` beside the config for PostgreSQL.
  spill_dir: z.union([z.string().trim().min(1), z.literal(false)]).optional(),
  // The most a process's spill file takes of rows overflowing the buffer during an outage (MiB), so a
  // long one cannot fill the disk; past it they are dropped and counted.
  spill_max_mb: z.number().int().positive().max(1_048_576).default(1024),
});

/** `metrics`: the Prometheus endpoint. */
export const metricsSchema = z.strictObject({
  enabled: z.boolean().default(true),
  user_labels: z.boolean().default(false),
  bearer_token: secretSchema.optional(),
});
