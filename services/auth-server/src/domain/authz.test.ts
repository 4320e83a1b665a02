import type { AuthMethod, Principal } from '@mezite/identity';
import { requireInteractiveAdmin } from './authz';

const principal = (authMethod: AuthMethod, roles: string[]): Principal => ({ kind: authMethod === 'bot-certificate' ? 'service' : 'user', id: '00000000-0000-4000-8000-000000000001', tenantId: '00000000-0000-4000-8000-000000000002', name: 'x', authMethod, roles });

describe('requireInteractiveAdmin: who may get a credential that mints API tokens', () => {
  test.each([
    ['an admin session', 'interactive-session', ['admin'], 'ok'],
    ['the bootstrap admin', 'bootstrap-admin', ['admin'], 'ok'],
    ['a session without the admin role', 'interactive-session', [], /admin role is required/],
    // Even with the admin role (API tokens carry none today): the credential decides first.
    ['an API token, even one carrying the admin role', 'api-token', ['admin'], /^a caller authenticated via an API token may not rotate client secrets; sign in interactively$/],
    ['an API token without roles', 'api-token', [], /via an API token/],
    ['a bot certificate with the admin role', 'bot-certificate', ['admin'], /via a bot certificate/],
  ] as const)('%s', (_what, method, roles, expected) => {
    const call = () => requireInteractiveAdmin(principal(method, [...roles]), 'rotate client secrets');
    if (expected === 'ok') expect(call().authMethod).toBe(method);
    else expect(call).toThrow(expect.objectContaining({ code: 'PermissionDenied', message: expect.stringMatching(expected) }));
  });

  test('no principal is Unauthenticated', () => {
    expect(() => requireInteractiveAdmin(undefined, 'x')).toThrow(expect.objectContaining({ code: 'Unauthenticated' }));
  });
});
