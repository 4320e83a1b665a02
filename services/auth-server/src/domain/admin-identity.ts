/**
 * The admin identity file the auth-server writes (0600) on its own host, so that
 * `mezctl` there acts as the bootstrap admin with no further step — as `tctl` does
 * on a Teleport auth server. It holds a session secret: guard it like a key.
 */
export interface AdminIdentityFile {
  version: 1;
  /** gRPC address of the auth server (`localhost:3025`). */
  auth_server: string;
  /** HTTP address (`http://127.0.0.1:8080`). */
  http_url: string;
  /** PEM of the CA that signed the auth server's TLS certificate. */
  ca_cert: string;
  /** Bearer session secret of the bootstrap admin. */
  token: string;
  /** `user:<uuid>` of the bootstrap admin. */
  principal: string;
  /** Tenant domain. */
  tenant: string;
}
