import { createServer, type Server } from 'node:http';

/** One span as an OTLP exporter sent it, flattened with its resource's service name. */
export interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  /** Empty for a root span. */
  parentSpanId: string;
  name: string;
  /** OTLP SpanKind: 1 internal, 2 server, 3 client. */
  kind: number;
  attributes: Record<string, string | number | boolean>;
  /** Start and end in nanoseconds since the epoch, to about 0.25 µs (a double); one host's clock in these tests. */
  startNs: number;
  endNs: number;
}

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
}
interface OtlpKeyValue {
  key: string;
  value: OtlpValue;
}
interface OtlpExport {
  resourceSpans?: Array<{
    resource?: { attributes?: OtlpKeyValue[] };
    scopeSpans?: Array<{ spans?: Array<{ traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number; startTimeUnixNano?: string | number; endTimeUnixNano?: string | number; attributes?: OtlpKeyValue[] }> }>;
  }>;
}

const valueOf = (v: OtlpValue): string | number | boolean => v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : (v.boolValue ?? v.doubleValue ?? ''));
const attrs = (kvs: OtlpKeyValue[] = []) => Object.fromEntries(kvs.map((kv) => [kv.key, valueOf(kv.value)]));

/**
 * A real OTLP/HTTP receiver on 127.0.0.1 for the JSON encoding
 * (`OTEL_EXPORTER_OTLP_PROTOCOL=http/json`): services export to it exactly as they
 * would to a collector, and tests read what arrived. Keeps the raw bodies too, so a
 * test can search everything exported for a secret.
 */
export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  readonly bodies: string[] = [];

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(): Promise<OtlpReceiver> {
    let receiver: OtlpReceiver | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.method !== 'POST' || req.url !== '/v1/traces') {
          res.writeHead(404).end();
          return;
        }
        const body = Buffer.concat(chunks).toString('utf8');
        receiver?.receive(body);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const a = server.address();
    receiver = new OtlpReceiver(server, typeof a === 'object' && a ? a.port : 0);
    return receiver;
  }

  /** The OTEL_* environment that points a process's exporter here, exporting every 100 ms. */
  get env(): NodeJS.ProcessEnv {
    return { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${this.port}`, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '100' };
  }

  /** Spans of one trace. */
  trace(traceId: string): ReceivedSpan[] {
    return this.spans.filter((s) => s.traceId === traceId);
  }

  /** Polls until `pick` returns something (spans arrive in batches), or fails after `timeoutMs`. */
  async waitFor<T>(pick: () => T | undefined | false, what: string, timeoutMs = 15_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = pick();
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; received ${this.spans.length} spans: ${[...new Set(this.spans.map((s) => `${s.service}:${s.name}`))].join(', ')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private receive(body: string): void {
    this.bodies.push(body);
    const doc = JSON.parse(body) as OtlpExport;
    for (const rs of doc.resourceSpans ?? []) {
      const service = String(attrs(rs.resource?.attributes)['service.name'] ?? '');
      for (const ss of rs.scopeSpans ?? []) {
        for (const s of ss.spans ?? []) {
          this.spans.push({ service, traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId ?? '', name: s.name, kind: s.kind, attributes: attrs(s.attributes), startNs: Number(s.startTimeUnixNano ?? 0), endNs: Number(s.endTimeUnixNano ?? 0) });
        }
      }
    }
  }
}
