// The capabilities the collector needs (as uid 0): proven by test/integration/least-privilege.test.ts,
// granted by every deploy file (checked by test/unit/deploy.test.ts).
export const MINIMAL_CAPS = ['bpf', 'perfmon'] as const;
