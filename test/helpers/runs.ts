// Test helper: property-test run counts, scaled up by NSPA_FUZZ_SCALE for `npm run fuzz`.

export function runs(base: number): number {
  return Math.round(base * Number(process.env.NSPA_FUZZ_SCALE ?? 1));
}
