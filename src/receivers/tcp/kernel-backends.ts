// The tcp receiver's TCP-layer backends (bpf/tcp_kernel.bpf.c): fentry/fexit, then
// kprobe/kretprobe, on tcp_sendmsg and tcp_recvmsg. Preferred over syscall tracepoints because
// they also see io_uring and other traffic that never passes through read/write syscalls.
import type { BackendCandidate } from '../backends';
import { kernelHasFunction } from '../kallsyms';
import type { ProbeSession } from '../probe-session';
import { openCaptureSession, type SyscallsBackendOptions } from '../syscalls-backend';

const FENTRY_PROGRAMS = ['fentry_tcp_sendmsg', 'fexit_tcp_sendmsg', 'fentry_tcp_recvmsg', 'fexit_tcp_recvmsg', 'fexit_tcp_sendpage'];
const KPROBE_PROGRAMS = [
  'kprobe_tcp_sendmsg', 'kretprobe_tcp_sendmsg', 'kprobe_tcp_recvmsg', 'kretprobe_tcp_recvmsg',
  'kprobe_tcp_sendpage', 'kretprobe_tcp_sendpage',
];

export type TcpLayerKind = 'fentry' | 'kprobe';

export function tcpLayerBackend(kind: TcpLayerKind, o: Omit<SyscallsBackendOptions, 'object' | 'enterOnly'>): BackendCandidate<ProbeSession> {
  return {
    name: kind,
    describe: kind === 'fentry' ? 'fentry/fexit on tcp_sendmsg and tcp_recvmsg' : 'kprobes on tcp_sendmsg and tcp_recvmsg',
    async start() {
      const skip = kind === 'fentry' ? [...KPROBE_PROGRAMS] : [...FENTRY_PROGRAMS];
      // sendfile/splice reach TCP through tcp_sendpage only up to 6.4.
      if (!kernelHasFunction('tcp_sendpage')) skip.push(...(kind === 'fentry' ? ['fexit_tcp_sendpage'] : ['kprobe_tcp_sendpage', 'kretprobe_tcp_sendpage']));
      return openCaptureSession(o, 'tcp_kernel', skip);
    },
  };
}
