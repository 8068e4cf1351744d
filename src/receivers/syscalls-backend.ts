// The syscall-tracepoint backend shared by the receivers (bpf/include/syscall_capture.h): works
// on every kernel with syscall tracepoints, including hosts where kprobes and fentry do not load.
import type { ChunkConsumer } from '../core/types';
import type { Logger } from '../core/logger';
import { bpfObjectPath, type ProbeOpenOptions } from './native';
import { ProbeSession } from './probe-session';
import { ensureTracefs, tracepointExists } from './tracefs';
import type { BackendCandidate } from './backends';

/** Syscalls hooked at enter and exit. Program names are enter_<name> / exit_<name>. */
export const HOOKED_SYSCALLS = [
  'write',
  'sendto',
  'writev',
  'sendmsg',
  'sendmmsg',
  'sendfile64',
  'splice',
  'read',
  'readv',
  'recvfrom',
  'recvmsg',
  'recvmmsg',
] as const;

export interface SyscallCaptureSettings {
  max_message_bytes: number;
  ring_buffer_bytes: number;
  flush_interval: number;
}

export interface SyscallsBackendOptions {
  receiverName: string;
  /** BPF object under dist/bpf, without .bpf.o. */
  object: string;
  settings: SyscallCaptureSettings;
  /** Filters and other settings of the object (rodata values and map entries). */
  rodata: Record<string, number>;
  mapEntries?: ProbeOpenOptions['mapEntries'];
  /** Syscalls hooked at entry only (e.g. close for the unix receiver). */
  enterOnly?: string[];
  /**
   * Programs the object can do without (the tcp receiver's TLS uprobes): when the object does not
   * load, it is loaded again without them, and the session says why in `withoutOptional`.
   */
  optionalPrograms?: string[];
  consumer: ChunkConsumer;
  logger: Logger;
}

export function syscallsBackend(o: SyscallsBackendOptions): BackendCandidate<ProbeSession> {
  return {
    name: 'syscalls',
    describe: 'syscall tracepoints on read/write/send/recv families',
    async start() {
      const tracefs = ensureTracefs();
      if (tracefs.note) o.logger.info(tracefs.note);
      if (!tracefs.root) throw new Error(tracefs.note ?? 'tracefs not found');
      const exists = (s: string) => tracepointExists(tracefs.root!, 'syscalls', `sys_enter_${s}`);
      // A syscall this kernel or architecture lacks is skipped, not fatal.
      const missing = HOOKED_SYSCALLS.filter((s) => !exists(s));
      if (missing.length === HOOKED_SYSCALLS.length) throw new Error('no syscall tracepoints (CONFIG_FTRACE_SYSCALLS off?)');
      if (missing.length) o.logger.warn(`no tracepoints for ${missing.join(', ')} on this kernel: those syscalls are not captured`);
      const missingEnter = (o.enterOnly ?? []).filter((s) => !exists(s));
      return openCaptureSession(o, o.object, [...missing.flatMap((s) => [`enter_${s}`, `exit_${s}`]), ...missingEnter.map((s) => `enter_${s}`)]);
    },
  };
}

/**
 * The addon's batches between its drain thread and JS (reused last in first out, so only as many
 * as were ever in flight at once become resident): 32 × 1 MiB. They
 * hold what the thread drained while JS was busy (JIT warm-up, GC, a burst): unlike the kernel
 * ring (mapped twice) each byte counts once in RSS, so most of the buffering is here. 1 MiB is
 * still hundreds of exchanges per call into JS.
 */
const BATCH_BYTES = 1 << 20;
const BATCH_COUNT = 32;

/** Loads a capture object (bpf/include/capture.h) with the receiver's settings and filters. */
export function openCaptureSession(o: Omit<SyscallsBackendOptions, 'object' | 'enterOnly'>, object: string, skipPrograms: string[]): ProbeSession {
  const optional = o.optionalPrograms ?? [];
  try {
    return loadCaptureSession(o, object, skipPrograms);
  } catch (e) {
    // Only when one of them is what failed to load (libbpf's log names the program).
    const msg = (e as Error).message;
    if (!optional.some((p) => msg.includes(`prog '${p}'`))) throw e;
    const session = loadCaptureSession(o, object, [...skipPrograms, ...optional]);
    session.withoutOptional = (e as Error).message.split('\n')[0] ?? '';
    return session;
  }
}

function loadCaptureSession(o: Omit<SyscallsBackendOptions, 'object' | 'enterOnly'>, object: string, skipPrograms: string[]): ProbeSession {
  return new ProbeSession(
    o.receiverName,
    bpfObjectPath(object),
    {
      rodata: { ...o.rodata, self_tgid: process.pid, max_message_bytes: o.settings.max_message_bytes },
      mapSizes: { events: o.settings.ring_buffer_bytes },
      mapEntries: o.mapEntries,
      skipPrograms,
      flushMs: Math.max(1, Math.round(o.settings.flush_interval)),
      batchBytes: BATCH_BYTES,
      batchCount: BATCH_COUNT,
    },
    o.consumer,
    o.logger,
  );
}
