// `tcpsniff-collector doctor`: what this host allows, and which backend each receiver would use.
// Loads and attaches one trivial program per hook type (bpf/doctor.bpf.c), each alone, so the
// answer is measured, not guessed from the kernel version. Takes well under a few seconds.
import * as fs from 'node:fs';
import * as os from 'node:os';
import { bpfObjectPath, loadAddon } from './receivers/native';
import { NO_KPROBES, kprobesMissing } from './receivers/kernel-backends';
import { effectiveCapabilities, mayInspectProcesses, missingBpfPrivileges } from './receivers/privileges';
import { tracefsRoot } from './receivers/tracefs';
import { fileIdentity, processCandidates, runningPids, systemCandidates, type TlsCandidate } from './receivers/tls/discovery';
import { TLS_RUNTIMES } from './receivers/tls/runtimes';

const HOOKS = [
  ['tracepoint', 'hook_tracepoint'],
  ['raw tracepoint', 'hook_raw_tracepoint'],
  ['tp_btf', 'hook_tp_btf'],
  ['kprobe', 'hook_kprobe'],
  ['fentry', 'hook_fentry'],
  ['uprobe', 'hook_uprobe'],
  ['ring buffer', 'hook_ringbuf'],
] as const;
type Hook = (typeof HOOKS)[number][0];

const CAPS: Array<[string, number]> = [
  ['CAP_SYS_ADMIN', 21],
  ['CAP_BPF', 39],
  ['CAP_PERFMON', 38],
  ['CAP_SYS_RESOURCE', 24],
  ['CAP_NET_ADMIN', 12],
  ['CAP_SYS_PTRACE', 19],
  ['CAP_DAC_READ_SEARCH', 2],
];

function readOr(file: string, fallback: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return fallback;
  }
}

/** The libc this process runs on: a stable uprobe target. */
function libcPath(): string {
  const m = /\s(\/\S*libc\.so\.6)$/m.exec(readOr('/proc/self/maps', ''));
  return m?.[1] ?? '/lib/x86_64-linux-gnu/libc.so.6';
}

export interface DoctorReport {
  lines: string[];
  /** The backend each receiver would use, or undefined when it cannot run. */
  backends: { tcp?: string; unix?: string; sendfile?: string };
  /** At least one receiver has a backend that works here. */
  runnable: boolean;
}

export function doctor(): DoctorReport {
  const lines: string[] = [];
  const row = (k: string, v: string) => lines.push(`${(k + ':').padEnd(24)} ${v}`);
  row('kernel', `${os.release()} (${os.arch()})`);
  row('BTF', fs.existsSync('/sys/kernel/btf/vmlinux') ? 'yes (/sys/kernel/btf/vmlinux)' : 'no: CO-RE programs cannot load');
  const lockdown = /\[(\w+)\]/.exec(readOr('/sys/kernel/security/lockdown', ''))?.[1];
  row('lockdown', lockdown ?? 'not reported');
  const caps = effectiveCapabilities();
  const held = CAPS.filter(([, bit]) => (caps & (1n << BigInt(bit))) !== 0n).map(([n]) => n);
  row('capabilities', held.length ? held.join(' ') : 'none of the relevant ones');
  const tracefs = tracefsRoot();
  row('tracefs', tracefs ?? 'not mounted (the collector mounts it at /sys/kernel/tracing when it can)');

  const missing = missingBpfPrivileges(caps);
  const works = new Map<Hook, boolean>();
  lines.push('hook types:');
  if (missing) {
    lines.push(`  (not tried: ${missing})`);
  } else {
    const addon = loadAddon();
    const object = bpfObjectPath('doctor');
    const libc = libcPath();
    for (const [hook, program] of HOOKS) {
      let why = addon.tryProgram(object, program, libc, 'getpid');
      if (why !== '' && hook === 'kprobe' && kprobesMissing()) why = NO_KPROBES;
      works.set(hook, why === '');
      lines.push(`  ${hook.padEnd(16)} ${why === '' ? 'loads and attaches' : `no (${why})`}`);
    }
  }
  const ok = (h: Hook) => works.get(h) === true;
  const ring = ok('ring buffer');
  // Both receivers prefer the socket layer (fentry, then kprobes), then syscall tracepoints.
  const tcp = !ring ? undefined : ok('fentry') ? 'fentry' : ok('kprobe') ? 'kprobe' : ok('tracepoint') ? 'syscalls' : undefined;
  const unix = tcp;
  // sendfile joins the tcp receiver's connections through syscall tracepoints, on any tcp backend.
  const sendfile = tcp && ok('tracepoint') ? 'syscalls' : undefined;
  lines.push('receivers:');
  lines.push(`  tcp                backend ${tcp ?? 'none: cannot run here'}`);
  lines.push(`  sendfile           backend ${sendfile ?? 'none: sendfile bodies stay exact gaps'}`);
  lines.push(`  unix               backend ${unix ?? 'none: cannot run here'}`);
  if (tcp === 'syscalls') lines.push('  note: no TCP-layer backend (fentry, kprobe) loads here, so io_uring traffic and kernel-side sends are not visible');
  if (!missing && !ring) lines.push('  note: BPF ring buffers (Linux 5.8+) are required');
  lines.push(...tlsReport(missing ? undefined : ok('uprobe')));
  return { lines, backends: { tcp, unix, sendfile }, runnable: tcp !== undefined || unix !== undefined };
}

/** The tcp receiver's TLS capture: whether uprobes attach, and the TLS runtimes found here. */
function tlsReport(uprobes: boolean | undefined): string[] {
  const lines = ['tls capture (tcp receiver):'];
  lines.push(
    `  uprobes            ${uprobes === undefined ? 'not tried' : uprobes ? 'attach: TLS plaintext is captured' : 'refused: TLS plaintext is not captured (uprobes need CAP_SYS_ADMIN)'}`,
  );
  let scanned = 0;
  let denied = 0;
  // One line per file (device+inode), with the processes mapping it now.
  const files = new Map<string, { label: string; file: string; pids: number }>();
  const notRuntime = new Set<string>();
  const note = (c: TlsCandidate, pid?: number) => {
    const key = fileIdentity(c.at);
    if (key === undefined || notRuntime.has(key)) return;
    // Found by executable, not by name (Go): only when it holds the runtime.
    if (!files.has(key) && c.runtime.executable && !c.runtime.hooks(c.at)) return void notRuntime.add(key);
    const f = files.get(key) ?? { label: c.runtime.label, file: c.file, pids: 0 };
    if (pid !== undefined) f.pids++;
    files.set(key, f);
  };
  for (const c of systemCandidates(TLS_RUNTIMES)) note(c);
  for (const pid of runningPids()) {
    if (pid === process.pid) continue;
    const candidates = processCandidates(pid, TLS_RUNTIMES);
    scanned++;
    if (candidates === 'denied') denied++;
    else for (const c of candidates) note(c, pid);
  }
  lines.push(
    `  process maps       ${
      denied === 0
        ? `readable (${scanned} processes): libraries are found in every process, containers included`
        : `${denied} of ${scanned} processes unreadable (${mayInspectProcesses() ? 'not dumpable, or a security module' : 'needs CAP_SYS_PTRACE'}): their Node.js, Go and container libraries are not found`
    }`,
  );
  if (files.size === 0)
    lines.push('  runtimes           none found (no OpenSSL library in the system directories or mapped by a process, no node or Go TLS program running)');
  for (const f of files.values()) lines.push(`  ${f.label.padEnd(18)} ${f.file} (mapped by ${f.pids} process${f.pids === 1 ? '' : 'es'} now)`);
  return lines;
}
