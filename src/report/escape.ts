// Report stage (after recommend): the two ways log-derived text enters the HTML report, made safe.
// Everything in a log (profile, resource id, operation, FQDN) is attacker-influenced: it is escaped
// for HTML text and attributes, and JSON for scripts is escaped so it cannot close its <script>.

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML element content and for quoted attribute values (SVG too). */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/**
 * JSON for a `<script type="application/json">` block: `<`, `>`, `&`, U+2028 and U+2029 become
 * \u escapes, so no value can end the block (`</script>`), open a comment (`<!--`) or break a
 * JavaScript parser; JSON.parse reads the escapes back to the same characters.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}
