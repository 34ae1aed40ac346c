// CLI: services a command may use besides IO, injected so tests can point the real Azure SDK
// clients at local servers. Production leaves every field unset and the defaults apply.

export interface CliDeps {
  /** Overrides for Azure clients (credential, endpoints, TLS trust); see remote-options.ts. */
  azure?: Record<string, unknown>;
}
