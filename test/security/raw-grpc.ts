import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';

/** How a call on the public port ended: the value's bytes, or the status the server sent. */
export interface RawReply {
  /** gRPC status code (0 when the call succeeded). */
  code: number;
  /** The status message (empty on success). */
  details: string;
  /** The response message, when the call succeeded. */
  value?: Buffer;
  /** `x-request-id` from the response headers: the id the audit log records. */
  requestId?: string;
}

/** A ts-proto message type: enough to encode requests and decode answers. */
export interface MessageType<T> {
  encode(m: T): { finish(): Uint8Array };
  decode(b: Uint8Array): T;
  fromPartial(o: object): T;
}

/** Status codes by name, for readable assertions. */
export const Code = status;

/**
 * A gRPC client of the auth-server's public port that sends whatever bytes it is given:
 * grpc-js's generic `makeUnaryRequest` with identity serializers, so a test controls the
 * protobuf payload exactly (random, truncated, oversized) while the HTTP/2 and TLS
 * layers stay standard. It trusts the stack's CA and dials 127.0.0.1 with the name the
 * certificate carries.
 */
export class RawGrpc {
  private readonly client: Client;

  constructor(address: string, caPem: Buffer | string) {
    this.client = new Client(address, credentials.createSsl(Buffer.from(caPem)), {
      'grpc.ssl_target_name_override': 'localhost',
      // No client-side limit: the server's limit is what is under test.
      'grpc.max_send_message_length': -1,
      'grpc.max_receive_message_length': -1,
    });
  }

  /** The client for a TestStack's data dir (its internal CA signs the public port's certificate). */
  static forStack(dataDir: string, authPort: number): RawGrpc {
    return new RawGrpc(`127.0.0.1:${authPort}`, readFileSync(join(dataDir, 'pki', 'ca.crt')));
  }

  /** Sends `bytes` as the request message of `path`; never rejects. */
  call(path: string, bytes: Buffer, opts: { authorization?: string; deadlineMs?: number } = {}): Promise<RawReply> {
    const md = new Metadata();
    if (opts.authorization !== undefined) md.set('authorization', opts.authorization);
    return new Promise((resolve) => {
      let requestId: string | undefined;
      const call = this.client.makeUnaryRequest(
        path,
        (b: Buffer) => b,
        (b: Buffer) => b,
        bytes,
        md,
        { deadline: Date.now() + (opts.deadlineMs ?? 15_000) },
        (err: ServiceError | null, value?: Buffer) => {
          const id = requestId ?? (err?.metadata?.get('x-request-id')[0] as string | undefined);
          if (err) resolve({ code: err.code, details: err.details, ...(id ? { requestId: id } : {}) });
          else resolve({ code: 0, details: '', ...(value ? { value } : {}), ...(id ? { requestId: id } : {}) });
        },
      );
      call.on('metadata', (m: Metadata) => {
        const v = m.get('x-request-id')[0];
        if (typeof v === 'string') requestId = v;
      });
    });
  }

  /** A well-formed call: `req` encoded with its ts-proto type; the answer decoded with `res` on success. */
  async unary<Req, Res>(path: string, reqType: MessageType<Req>, req: object, resType: MessageType<Res>, opts: { authorization?: string } = {}): Promise<RawReply & { message?: Res }> {
    const r = await this.call(path, Buffer.from(reqType.encode(reqType.fromPartial(req)).finish()), opts);
    return r.code === 0 && r.value ? { ...r, message: resType.decode(r.value) } : r;
  }

  close(): void {
    this.client.close();
  }
}
