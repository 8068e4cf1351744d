// What this process may do with BPF, read from /proc/self/status, so a missing privilege gets
// a message that names it instead of a bare EPERM.
import * as fs from 'node:fs';

const CAP_SYS_PTRACE = 19;
const CAP_SYS_ADMIN = 21;
const CAP_PERFMON = 38;
const CAP_BPF = 39;

export function effectiveCapabilities(): bigint {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return m ? BigInt('0x' + m[1]) : 0n;
  } catch {
    return 0n;
  }
}

const has = (caps: bigint, bit: number) => (caps & (1n << BigInt(bit))) !== 0n;

/** Whether this process may look into any other process's /proc/PID/root, exe and maps (the
 * kernel's ptrace read check; without it only same-uid processes with no capability ours lack). */
export const mayInspectProcesses = (caps = effectiveCapabilities()) => has(caps, CAP_SYS_PTRACE);

/** null when loading tracing BPF programs should be allowed, else what is missing. */
export function missingBpfPrivileges(caps = effectiveCapabilities()): string | null {
  if (has(caps, CAP_SYS_ADMIN)) return null;
  const missing = [];
  if (!has(caps, CAP_BPF)) missing.push('CAP_BPF');
  if (!has(caps, CAP_PERFMON)) missing.push('CAP_PERFMON');
  if (missing.length === 0) return null;
  return `loading eBPF programs needs ${missing.join(' and ')} (or CAP_SYS_ADMIN); ` + `run as root (e.g. with sudo) or grant CAP_BPF and CAP_PERFMON`;
}
