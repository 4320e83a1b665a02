import { unauthenticated, unavailable, type MeziteError } from '@mezite/identity';
import type { MeziteCallOptions } from '@mezite/platform';
import type { tokenv1 } from '@mezite/proto';
import { Metadata, type Client } from 'nice-grpc';
import { refusalOf } from '../domain/refusal';
import { GrpcApiTokenClient } from './api-token-client';

const TOKEN = '0b1e6b0e-8a1f-4c55-9d43-3d1a8f3e2b11';
const TENANT = '5f0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b';

const UNIMPLEMENTED = Object.assign(new Error('unimplemented'), { cause: { code: 12 } });

/**
 * A client whose verification fails with `err` as token-service sends it: over
 * VerifyApiTokens (the reason in the result's fields), or — `single`, a token-service
 * without VerifyApiTokens — over VerifyApiToken (the reason in trailers).
 */
function clientFailing(err: MeziteError, trailers: Record<string, string>, single = false) {
  const c = {
    verifyApiTokens: async (req: { plaintexts: string[] }) => {
      if (single) throw UNIMPLEMENTED;
      const code = (err as MeziteError).grpcStatus;
      const v = { token: undefined, code, message: err.message, refusal: trailers['x-mezite-refusal'] ?? '', refusedTokenId: trailers['x-mezite-refused-token'] ?? '', refusedTenantId: trailers['x-mezite-refused-tenant'] ?? '' };
      return { results: req.plaintexts.map(() => v) };
    },
    verifyApiToken: async (_req: unknown, options: MeziteCallOptions & { onTrailer?: (t: Metadata) => void }) => {
      options.onTrailer?.(Metadata(Object.entries(trailers)));
      throw err;
    },
  };
  return new GrpcApiTokenClient(c as unknown as Client<typeof tokenv1.ApiTokenServiceDefinition, MeziteCallOptions>);
}

async function refusal(client: GrpcApiTokenClient) {
  const err = await client.verify('psk_live_whatever').then(
    () => new Error('expected a refusal'),
    (e: unknown) => e,
  );
  const r = refusalOf(err);
  return { answer: `${(err as { code?: string }).code}: ${(err as Error).message}`, reason: r?.reason, subject: r?.subject };
}

describe.each([
  ['VerifyApiTokens (fields of the result)', false],
  ['VerifyApiToken (trailers)', true],
])('GrpcApiTokenClient.verify over %s: token-service\'s refusal reason', (_how, single) => {
  test('is attached to the unchanged error, with the token and its tenant when token-service found it', async () => {
    expect(await refusal(clientFailing(unauthenticated('invalid api token'), { 'x-mezite-refusal': 'expired', 'x-mezite-refused-token': TOKEN, 'x-mezite-refused-tenant': TENANT }, single))).toEqual({
      answer: 'Unauthenticated: invalid api token',
      reason: 'expired',
      subject: { tenantId: TENANT, target: `token:${TOKEN}` },
    });
    expect(await refusal(clientFailing(unauthenticated('invalid api token'), { 'x-mezite-refusal': 'unknown' }, single))).toEqual({ answer: 'Unauthenticated: invalid api token', reason: 'unknown', subject: {} });
  });

  test('is ignored when it is not a reason (or the ids are not ids), and on errors that are not refusals', async () => {
    expect(await refusal(clientFailing(unauthenticated('invalid api token'), { 'x-mezite-refusal': 'Robert"); DROP TABLE' }, single))).toEqual({ answer: 'Unauthenticated: invalid api token', reason: undefined, subject: undefined });
    expect(await refusal(clientFailing(unauthenticated('invalid api token'), { 'x-mezite-refusal': 'revoked', 'x-mezite-refused-token': 'not-an-id', 'x-mezite-refused-tenant': TENANT }, single))).toMatchObject({ reason: 'revoked', subject: {} });
    expect(await refusal(clientFailing(unavailable('token-service is unavailable'), { 'x-mezite-refusal': 'expired' }, single))).toEqual({ answer: 'Unavailable: token-service is unavailable', reason: undefined, subject: undefined });
    expect(await refusal(clientFailing(unauthenticated('invalid api token'), {}, single))).toEqual({ answer: 'Unauthenticated: invalid api token', reason: undefined, subject: undefined });
  });
});
