// The capabilities the collector needs (as uid 0), proven by test/integration/least-privilege.test.ts:
// MINIMAL_CAPS to run and capture TCP; TLS_CAPS besides for the tcp receiver's TLS capture (on by
// default): CAP_SYS_ADMIN to create uprobes (Linux 6.16 and the stable releases given commit
// ba677dbe "perf: Revert to requiring CAP_SYS_ADMIN for uprobes"; CAP_PERFMON was enough from 5.8
// until then), CAP_SYS_PTRACE to look into other processes' /proc/PID/maps, exe and root (how
// Node.js and Go executables and containers' own libraries are found). Every deploy file grants
// DEPLOY_CAPS (checked by test/unit/deploy.test.ts).
export const MINIMAL_CAPS = ['bpf', 'perfmon'] as const;
export const TLS_CAPS = ['sys_admin', 'sys_ptrace'] as const;
export const DEPLOY_CAPS = [...MINIMAL_CAPS, ...TLS_CAPS] as const;
