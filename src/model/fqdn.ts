// Model: host names as outbound access rules hold them. Ingest canonicalizes logged destinations
// with it; recommend compares rule elements with it.

const HOST_LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;

/**
 * Canonical FQDN for an outbound rule: lower case, no scheme, path, port or trailing dot.
 * @returns '' when what is left is not a host name
 */
export function canonicalFqdn(raw: string): string {
  let s = raw.trim().toLowerCase();
  s = s.replace(/^[a-z][a-z0-9+.-]*:\/\//, '');
  s = s.replace(/[/?#].*$/, '');
  s = s.replace(/:\d{1,5}$/, '');
  s = s.replace(/\.+$/, '');
  if (s.length === 0 || s.length > 253) return '';
  const labels = s.split('.');
  if (labels.length < 2) return '';
  return labels.every((l) => HOST_LABEL.test(l)) ? s : '';
}
