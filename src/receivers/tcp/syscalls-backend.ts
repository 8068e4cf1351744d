// The syscall-tracepoint backend of the tcp receiver (bpf/tcp_syscalls.bpf.c): works on every
// kernel with syscall tracepoints, including hosts where kprobes and fentry do not load.
import type { ChunkConsumer } from '../../core/types';
import type { Logger } from '../../core/logger';
import { bpfObjectPath } from '../native';
import { ProbeSession } from '../probe-session';
import { ensureTracefs, tracepointExists } from '../tracefs';
import type { BackendCandidate } from '../backends';
import type { TcpReceiverConfig } from './config';
import { filterMaps } from './filters';

/** Syscalls hooked at enter and exit. Program names are enter_<name> / exit_<name>. */
export const HOOKED_SYSCALLS = [
  'write', 'sendto', 'writev', 'sendmsg', 'sendmmsg', 'sendfile64',
  'read', 'readv', 'recvfrom', 'recvmsg', 'recvmmsg',
] as const;

export function syscallsBackend(
  receiverName: string,
  cfg: TcpReceiverConfig,
  consumer: () => ChunkConsumer | undefined,
  logger: Logger,
): BackendCandidate<ProbeSession> {
  return {
    name: 'syscalls',
    describe: 'syscall tracepoints on read/write/send/recv families',
    async start() {
      const tracefs = ensureTracefs();
      if (tracefs.note) logger.info(tracefs.note);
      if (!tracefs.root) throw new Error(tracefs.note ?? 'tracefs not found');
      // A syscall this kernel or architecture lacks is skipped, not fatal.
      const missing = HOOKED_SYSCALLS.filter((s) => !tracepointExists(tracefs.root!, 'syscalls', `sys_enter_${s}`));
      if (missing.length === HOOKED_SYSCALLS.length) throw new Error('no syscall tracepoints (CONFIG_FTRACE_SYSCALLS off?)');
      if (missing.length) logger.warn(`no tracepoints for ${missing.join(', ')} on this kernel: those syscalls are not captured`);
      const filters = filterMaps(cfg);
      return new ProbeSession(
        receiverName,
        bpfObjectPath('tcp_syscalls'),
        {
          rodata: { ...filters.rodata, max_message_bytes: cfg.max_message_bytes },
          mapSizes: { events: cfg.ring_buffer_bytes },
          mapEntries: filters.mapEntries,
          skipPrograms: missing.flatMap((s) => [`enter_${s}`, `exit_${s}`]),
          flushMs: Math.max(1, Math.round(cfg.flush_interval)),
        },
        consumer,
        logger,
      );
    },
  };
}
