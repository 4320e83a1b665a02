import { permissionDenied, unavailable } from '@mezite/identity';
import type { tokenv1 } from '@mezite/proto';
import type { Client } from 'nice-grpc';
import type { MeziteCallOptions } from '@mezite/platform';
import { GrpcJoinTokenMinter } from './token-service-client';

type JoinTokenClient = Client<typeof tokenv1.JoinTokenServiceDefinition, MeziteCallOptions>;

/** A client whose ReleaseJoinToken fails with `errors`, one per call, then succeeds. */
function flakyClient(errors: Error[]) {
  const calls: string[] = [];
  const client = {
    releaseJoinToken: async (req: { claimId: string }) => {
      calls.push(req.claimId);
      const err = errors.shift();
      if (err) throw err;
      return { released: true };
    },
  } as unknown as JoinTokenClient;
  return { client, calls };
}

const until = async (cond: () => boolean) => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
};

test('a release that cannot reach token-service fails, and is retried in the background until it gets through', async () => {
  const { client, calls } = flakyClient([unavailable('token-service is unavailable'), unavailable('database unavailable'), unavailable('database unavailable')]);
  const minter = new GrpcJoinTokenMinter(client, [1, 1, 1, 1]);
  await expect(minter.release('claim-1')).rejects.toMatchObject({ code: 'Unavailable' });
  await until(() => calls.length === 4);
  expect(calls).toEqual(['claim-1', 'claim-1', 'claim-1', 'claim-1']);
  await new Promise((r) => setTimeout(r, 20));
  expect(calls).toHaveLength(4); // it got through: no more retries
});

test('retries stop after the last delay (the claim expires by itself) and never follow a refusal', async () => {
  const down = flakyClient(Array.from({ length: 10 }, () => unavailable('down')));
  await expect(new GrpcJoinTokenMinter(down.client, [1, 1]).release('c')).rejects.toMatchObject({ code: 'Unavailable' });
  await until(() => down.calls.length === 3);
  await new Promise((r) => setTimeout(r, 20));
  expect(down.calls).toHaveLength(3);

  const refused = flakyClient([permissionDenied('no')]);
  await expect(new GrpcJoinTokenMinter(refused.client, [1, 1]).release('c')).rejects.toMatchObject({ code: 'PermissionDenied' });
  await new Promise((r) => setTimeout(r, 20));
  expect(refused.calls).toHaveLength(1);
});
