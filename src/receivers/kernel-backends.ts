// Backends that hook a protocol's send and receive functions in the kernel (fentry/fexit, then
// kprobe/kretprobe): preferred over syscall tracepoints because they also see io_uring and
// other traffic that never passes through read/write-style syscalls. One BPF object holds both
// families of programs (bpf/tcp_kernel.bpf.c, bpf/unix_kernel.bpf.c); the loader keeps one.
import * as fs from 'node:fs';
import type { BackendCandidate } from './backends';
import { kernelFunctionsKnown, kernelHasFunction } from './kallsyms';
import type { ProbeSession } from './probe-session';
import { openCaptureSession, type SyscallsBackendOptions } from './syscalls-backend';

export type KernelLayerKind = 'fentry' | 'kprobe';

export interface KernelLayerObject {
  /** BPF object under dist/bpf. */
  object: string;
  /** The hooked functions, e.g. tcp_sendmsg (program names are <family>_<function>). */
  functions: string[];
  /** Hooked functions some kernels lack (e.g. tcp_sendpage, gone in 6.5): skipped when absent. */
  optionalFunctions?: string[];
}

const PROGRAMS: Record<KernelLayerKind, string[]> = { fentry: ['fentry', 'fexit'], kprobe: ['kprobe', 'kretprobe'] };

export const NO_KPROBES = 'kprobes are not available on this kernel (CONFIG_KPROBES)';

/**
 * A kernel built without CONFIG_KPROBES has no kprobe PMU and no register_kprobe; the attach
 * error it gives (ENOENT, on whichever program comes first) says neither.
 */
export function kprobesMissing(): boolean {
  return !fs.existsSync('/sys/bus/event_source/devices/kprobe') && kernelFunctionsKnown() && !kernelHasFunction('register_kprobe');
}

export function kernelLayerBackend(
  kind: KernelLayerKind,
  target: KernelLayerObject,
  o: Omit<SyscallsBackendOptions, 'object' | 'enterOnly'>,
): BackendCandidate<ProbeSession> {
  const names = target.functions.join(' and ');
  return {
    name: kind,
    describe: kind === 'fentry' ? `fentry/fexit on ${names}` : `kprobes on ${names}`,
    async start() {
      if (kind === 'kprobe' && kprobesMissing()) throw new Error(NO_KPROBES);
      const other: KernelLayerKind = kind === 'fentry' ? 'kprobe' : 'fentry';
      const all = [...target.functions, ...(target.optionalFunctions ?? [])];
      const skip = all.flatMap((f) => PROGRAMS[other].map((p) => `${p}_${f}`));
      for (const f of target.optionalFunctions ?? []) if (!kernelHasFunction(f)) skip.push(...PROGRAMS[kind].map((p) => `${p}_${f}`));
      return openCaptureSession(o, target.object, skip);
    },
  };
}
