/* Capturing socket payloads from syscall tracepoints, shared by the receivers' syscall
 * backends (tcp, unix). At sys_enter the buffer arguments are stashed per thread (only for
 * sockets the program captures, of allowed processes); at sys_exit the bytes actually
 * transferred (the return value) are captured (capture.h). Works on every kernel with syscall
 * tracepoints (no kprobes, no fentry).
 *
 * The including program defines, after including this file, the hooks of capture.h and:
 *   struct sock *capture_sock_of_fd(int fd)        the socket behind fd if captured, else 0
 *   void capture_call_done(struct sock *)          after each call stashed at its entry
 * and then expands CAPTURE_SYSCALL_HOOKS(). */
#ifndef TCPSNIFF_SYSCALL_CAPTURE_H
#define TCPSNIFF_SYSCALL_CAPTURE_H

#include "capture.h"


static __always_inline struct sock *capture_sock_of_fd(int fd);
static __always_inline void capture_call_done(struct sock *sk);

static __always_inline int on_enter(int fd, __u64 ptr, __u64 cnt, __u8 kind, __u8 dir)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (!pid_allowed(id >> 32))
		return 0;
	struct sock *sk = capture_sock_of_fd(fd);
	if (!sk)
		return 0;
	struct stash st = { .sk = (__u64)sk, .ptr = ptr, .cnt = cnt, .kind = kind, .dir = dir };
	stash_put(&st);
	return 0;
}
static __always_inline int on_exit(long ret)
{
	struct stash a;
	if (!stash_take(&a))
		return 0;
	if (ret > 0)
		capture_transfer((struct sock *)a.sk, a.dir, a.kind, a.ptr, a.cnt, 0, ret, BACKEND_SYSCALLS);
	capture_call_done((struct sock *)a.sk);
	return 0;
}

/* ---- syscall hooks ---- */

#define ENTER(name, kind, dir, ptr_arg, cnt_arg)                                                  \
	SEC("tracepoint/syscalls/sys_enter_" #name)                                               \
	int enter_##name(struct trace_event_raw_sys_enter *ctx)                                   \
	{                                                                                         \
		return on_enter(ctx->args[0], ctx->args[ptr_arg], ctx->args[cnt_arg], kind, dir); \
	}
/* recv-style calls with MSG_PEEK leave the data in the socket: it will be read again. */
#define ENTER_RECV(name, kind, ptr_arg, cnt_arg, flags_arg)                                               \
	SEC("tracepoint/syscalls/sys_enter_" #name)                                                       \
	int enter_##name(struct trace_event_raw_sys_enter *ctx)                                           \
	{                                                                                                 \
		if (ctx->args[flags_arg] & MSG_PEEK_)                                                     \
			return 0;                                                                         \
		return on_enter(ctx->args[0], ctx->args[ptr_arg], ctx->args[cnt_arg], kind, DIR_INGRESS); \
	}
/* sendfile(out_fd, in_fd, offset, count) moves bytes from a file kernel-side: an exact gap, so
 * the stream stays in step (the sendfile receiver says which file they came from). */
#define ENTER_SENDFILE()                                                   \
	SEC("tracepoint/syscalls/sys_enter_sendfile64")                    \
	int enter_sendfile64(struct trace_event_raw_sys_enter *ctx)        \
	{                                                                  \
		return on_enter(ctx->args[0], 0, 0, BUF_NONE, DIR_EGRESS); \
	}
/* splice(fd_in, off_in, fd_out, off_out, len, flags) moves bytes kernel-side, into a socket
 * (egress) or out of one (ingress): they cannot be copied here, but are reported as a gap of the
 * exact length so the stream stays in step. */
static __always_inline int on_enter_splice(int fd_in, int fd_out)
{
	if (capture_sock_of_fd(fd_out))
		return on_enter(fd_out, 0, 0, BUF_NONE, DIR_EGRESS);
	return on_enter(fd_in, 0, 0, BUF_NONE, DIR_INGRESS);
}
#define ENTER_SPLICE()                                              \
	SEC("tracepoint/syscalls/sys_enter_splice")                 \
	int enter_splice(struct trace_event_raw_sys_enter *ctx)     \
	{                                                           \
		return on_enter_splice(ctx->args[0], ctx->args[2]); \
	}
#define EXIT(name)                                            \
	SEC("tracepoint/syscalls/sys_exit_" #name)            \
	int exit_##name(struct trace_event_raw_sys_exit *ctx) \
	{                                                     \
		return on_exit(ctx->ret);                     \
	}

/* Every syscall the capture hooks, entry and exit: one classic tracepoint each.
 *
 * Kept over raw tracepoints, measured A/B on Linux 6.18 (2 shared vCPUs, 2026-12-04; issue 17 and
 * the commit that adds this comment): one tp_btf program each on sys_enter and sys_exit, switching
 * on the syscall number first, ran for every syscall on the host (22.5 runs per nginx request
 * instead of ~10) and cost more than it saved on the hooked calls:
 *   - traced server CPU per request (bench/run.ts --compare, 4 interleaved rounds, median of the
 *     per-round differences raw - tracepoints): nginx-1k +1.2 µs, nginx-1k-15k +2.2 µs, node-1k
 *     +0.3 µs (untraced: 17-18 µs, 15.5-23 µs for node);
 *   - BPF run time per nginx request (bench/bpf-cost.ts --compare, 4 ABBA rounds): 10.3 µs
 *     against 8.3 µs;
 *   - an unrelated process (fastest 20,000-call window): an unhooked getppid() +130-200 ns per
 *     call against +67 ns; a hooked write() to /dev/null (not a socket) +280-530 ns against
 *     +400-720 ns. */
#define CAPTURE_SYSCALL_HOOKS()                     \
	ENTER(write, BUF_PLAIN, DIR_EGRESS, 1, 2)   \
	ENTER(sendto, BUF_PLAIN, DIR_EGRESS, 1, 2)  \
	ENTER(writev, BUF_IOVEC, DIR_EGRESS, 1, 2)  \
	ENTER(sendmsg, BUF_MSG, DIR_EGRESS, 1, 2)   \
	ENTER(sendmmsg, BUF_MMSG, DIR_EGRESS, 1, 2) \
	ENTER_SENDFILE()                            \
	ENTER_SPLICE()                              \
	ENTER(read, BUF_PLAIN, DIR_INGRESS, 1, 2)   \
	ENTER(readv, BUF_IOVEC, DIR_INGRESS, 1, 2)  \
	ENTER_RECV(recvfrom, BUF_PLAIN, 1, 2, 3)    \
	ENTER_RECV(recvmsg, BUF_MSG, 1, 2, 2)       \
	ENTER_RECV(recvmmsg, BUF_MMSG, 1, 2, 3)     \
	EXIT(write)                                 \
	EXIT(sendto)                                \
	EXIT(writev)                                \
	EXIT(sendmsg)                               \
	EXIT(sendmmsg)                              \
	EXIT(sendfile64)                            \
	EXIT(splice)                                \
	EXIT(read)                                  \
	EXIT(readv)                                 \
	EXIT(recvfrom)                              \
	EXIT(recvmsg)                               \
	EXIT(recvmmsg)

#endif
