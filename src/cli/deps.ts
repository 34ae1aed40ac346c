// CLI: services a command may use besides IO, injected so tests can point the real Azure SDK
// clients at local servers. Production leaves every field unset and the defaults apply.

import type { TokenCredential } from '@azure/core-auth';

/**
 * Overrides for the Azure clients (see src/cli/remote-options.ts). Tests set these to talk to a
 * local HTTPS fake; nothing here is read from the environment, so no secret can come in this way.
 */
export interface AzureDeps {
  /** Used instead of the credential --auth would build. */
  credential?: TokenCredential;
  /** Log Analytics query API base URL, `/v1` included (default: the --cloud's). */
  logAnalyticsEndpoint?: string;
  /** Azure Resource Manager base URL (default: the --cloud's). */
  armEndpoint?: string;
  /** Extra CA certificate(s), PEM, trusted for every Azure client (a test server's self-signed cert). */
  ca?: string;
  /** Retries of 429/5xx answers, and the base delay between them (the SDK's exponential backoff). */
  maxRetries?: number;
  retryDelayMs?: number;
  /** Rows at which a result counts as truncated (the service's cap is 500,000). */
  rowCap?: number;
  /** Smallest window a failing chunk is split down to before the run fails. */
  minChunkMs?: number;
  /** Client-side timeout of one query (default: server timeout + 30 s). */
  queryTimeoutMs?: number;
  /** Clock for --since (epoch ms). */
  now?: () => number;
}

export interface CliDeps {
  /** Overrides for Azure clients (credential, endpoints, TLS trust); see remote-options.ts. */
  azure?: AzureDeps;
}
