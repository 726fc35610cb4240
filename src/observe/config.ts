import { z } from '../config-kit.js'

/**
 * The `metrics` and `log` keys: how a fleet watches the box (Prometheus on the admin side) and
 * what its log lines look like.
 */

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '[::]', '*'])

/** The `metrics` key: GET /metrics (Prometheus text format) and GET /readyz. */
export const metricsConfig = z
  .object({
    /** Serve /metrics and /readyz on the admin side; false: neither is served. */
    enabled: z.boolean().default(true),
    /**
     * Bearer token the scraper must send (`Authorization: Bearer …`, at least 16 characters);
     * null: none, the listener's address is the only fence. Never logged.
     */
    token: z.string().min(16).max(256).nullable().default(null),
    /**
     * A listener of its own on the management LAN, e.g. `{ "host": "10.20.0.2", "port": 9464 }`;
     * null (default): the console listener serves them (`listen.admin`). A wildcard address is
     * refused: it would include the guest network.
     */
    listen: z
      .object({
        host: z
          .string()
          .min(1)
          .refine(
            (h) => !WILDCARD_HOSTS.has(h.trim()),
            'must be an address of the management LAN or loopback, not a wildcard (it would include the guest network)',
          ),
        /** TCP port; 0 lets the system pick one (tests: the log line names it). */
        port: z.number().int().min(0).max(65535).default(9464),
      })
      .strict()
      .nullable()
      .default(null),
  })
  .strict()
  .prefault({})

/** The `log` key: the service's log lines on standard error (journald keeps them). */
export const logConfig = z
  .object({
    /**
     * `text`: one line of plain text per event (default); `json`: one JSON object per line
     * (`time`, `level`, `event`, `branch` and the event's fields).
     */
    format: z.enum(['text', 'json']).default('text'),
  })
  .strict()
  .prefault({})

export type MetricsConfig = z.infer<typeof metricsConfig>
export type LogConfig = z.infer<typeof logConfig>
