import { type Clock, invalidArgument } from '@mezite/identity';
import { encodeKrl } from '@mezite/ssh';
import type { CertAuthority } from './cert-authority';
import type { IssuedCertificateStore } from './issued-certificate';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Most subjects and serials one KRL request may name (keeps the query and the answer bounded). */
export const MAX_KRL_ENTRIES = 100_000;

/** What a KRL revokes: every unexpired certificate of these subjects, and these serials. */
export interface KrlRequest {
  subjectIds: string[];
  serials: string[];
}

/** A rendered KRL. */
export interface BuiltKrl {
  krl: Buffer;
  revokedCertificates: number;
  generatedAt: Date;
}

/**
 * Renders OpenSSH KRLs (PROTOCOL.krl) from the issued-certificate log: the auth-server
 * says which subjects (locked or removed bots, removed nodes) and serials are revoked;
 * this finds their certificates that have not expired yet and lists them by serial
 * under the CA that signed them. Expired certificates are left out (sshd refuses them
 * anyway), so the KRL stays as small as the set of live revoked certificates.
 */
export class KrlBuilder {
  constructor(private readonly o: { issued: Pick<IssuedCertificateStore, 'listRevocable'>; cas: { listAll(): Promise<CertAuthority[]> }; clock: Clock }) {}

  async build(req: KrlRequest): Promise<BuiltKrl> {
    if (req.subjectIds.length + req.serials.length > MAX_KRL_ENTRIES) throw invalidArgument(`at most ${MAX_KRL_ENTRIES} subjects and serials per KRL`);
    for (const id of req.subjectIds) if (!UUID.test(id)) throw invalidArgument(`subject_ids: "${id.slice(0, 40)}" is not a UUID`);
    const serials = req.serials.map(parseSerial);
    const now = this.o.clock.now();
    const [certs, cas] = await Promise.all([this.o.issued.listRevocable({ subjectIds: req.subjectIds, serials, unexpiredAt: now }), this.o.cas.listAll()]);
    const byCa = new Map<string, bigint[]>();
    for (const c of certs) {
      const list = byCa.get(c.caId) ?? [];
      list.push(c.serial);
      byCa.set(c.caId, list);
    }
    const caBlob = new Map(cas.map((ca) => [ca.id, Buffer.from(ca.publicKey.split(' ')[1] ?? '', 'base64')]));
    const certificates = [...byCa.entries()].flatMap(([caId, list]) => {
      const blob = caBlob.get(caId);
      return blob ? [{ caPublicKeyBlob: blob, serials: list }] : [];
    });
    const generatedAt = new Date(Math.floor(now.getTime() / 1000) * 1000);
    const krl = encodeKrl({ version: BigInt(Math.floor(now.getTime() / 1000)), generatedAt, comment: 'mezite', certificates });
    return { krl, revokedCertificates: certs.length, generatedAt };
  }
}

/** A decimal certificate serial, 1 .. 2^64-1. */
export function parseSerial(s: string): bigint {
  if (!/^[0-9]{1,20}$/.test(s)) throw invalidArgument(`serial "${s.slice(0, 40)}" is not a decimal number`);
  const n = BigInt(s);
  if (n < 1n || n > 0xffff_ffff_ffff_ffffn) throw invalidArgument(`serial ${s} is out of range`);
  return n;
}
