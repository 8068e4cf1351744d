// SPDX-License-Identifier: GPL-2.0
/* tcp receiver, TCP-layer backends: fentry/fexit (preferred) or kprobe/kretprobe on
 * tcp_sendmsg and tcp_recvmsg. They see TCP where the kernel handles it, not where a program
 * makes a syscall, so traffic that never passes through read/write-style syscalls (io_uring,
 * kernel-side sends) is captured too. The loader picks one family of programs (fentry_* /
 * fexit_* or kprobe_* / kretprobe_*); the records are the same as the syscall backend's.
 *
 * Kernel differences, each handled in one place:
 *   - tcp_recvmsg lost its `nonblock` argument in 5.18 (recv_flags, fexit_tcp_recvmsg);
 *   - iov_iter layouts (kernel_capture.h);
 *   - up to 6.4 sendfile/splice reach TCP through tcp_sendpage, not tcp_sendmsg (counted as
 *     uncaptured bytes, so the stream offsets stay right);
 *   - splice(2) out of a socket goes through tcp_splice_read on every kernel (an exact gap). */
#define CAPTURE_TLS /* tls_capture.h */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "record.h"
#include "counters.h"
#include "conn.h"
#include "filters.h"
#include "capture.h"
#include "kernel_capture.h"
#include "tcp_state.h"
#include "tcp_hooks.h"
#include "tls_capture.h"

char LICENSE[] SEC("license") = "GPL";

extern int LINUX_KERNEL_VERSION __kconfig;

/* Only TCP over IPv4 and IPv6. */
static __always_inline int tcp_enter(struct sock *sk, struct msghdr *msg, __u8 dir)
{
	__u16 family = sk ? BPF_CORE_READ(sk, __sk_common.skc_family) : 0;
	if (family != AF_INET && family != AF_INET6)
		return 0;
	return k_enter(sk, msg, dir);
}

/* Bytes sent from pages (tcp_sendpage, kernels up to 6.4: sendfile, splice): an exact gap. */
static __always_inline int sendpage_exit(struct sock *sk, long ret, __u8 backend)
{
	if (ret <= 0 || !pid_allowed(bpf_get_current_pid_tgid() >> 32))
		return 0;
	return capture_transfer(sk, DIR_EGRESS, BUF_NONE, 0, 0, 0, ret, backend);
}

/* Bytes a receiver moved out of the socket into a pipe (splice(2), tcp_splice_read): they never
 * pass through tcp_recvmsg, so without this the ingress stream would shift silently. They are
 * reported as an exact gap (counted as uncaptured), like every other kernel-side transfer. */
static __always_inline int splice_read_exit(struct socket *sock, long ret, __u8 backend)
{
	struct sock *sk = sock ? BPF_CORE_READ(sock, sk) : 0;
	__u16 family = sk ? BPF_CORE_READ(sk, __sk_common.skc_family) : 0;
	if (ret <= 0 || (family != AF_INET && family != AF_INET6) || !pid_allowed(bpf_get_current_pid_tgid() >> 32))
		return 0;
	return capture_transfer(sk, DIR_INGRESS, BUF_NONE, 0, 0, 0, ret, backend);
}

/* tcp_recvmsg(sk, msg, len, [nonblock before 5.18,] flags, addr_len) */
static __always_inline int new_recvmsg_signature(void)
{
	return LINUX_KERNEL_VERSION >= KERNEL_VERSION(5, 18, 0);
}

/* Keeps a value in a register: stops clang from turning "read A or B" into one load from a
 * computed context offset, which the verifier refuses ("modified ctx ptr"). */
#define IN_REG(x) asm volatile("" : "+r"(x))

/* Both candidate argument slots exist on every kernel: read both, then choose. */
static __always_inline int recv_flags(__u64 at_new, __u64 at_old)
{
	IN_REG(at_new);
	IN_REG(at_old);
	return new_recvmsg_signature() ? (int)at_new : (int)at_old;
}

/* ---- fentry / fexit ---- */

SEC("fentry/tcp_sendmsg")
int BPF_PROG(fentry_tcp_sendmsg, struct sock *sk, struct msghdr *msg)
{
	return tcp_enter(sk, msg, DIR_EGRESS);
}

SEC("fexit/tcp_sendmsg")
int BPF_PROG(fexit_tcp_sendmsg, struct sock *sk, struct msghdr *msg, size_t size, int ret)
{
	return k_exit(ret, BACKEND_FENTRY);
}

SEC("fentry/tcp_recvmsg")
int fentry_tcp_recvmsg(unsigned long long *ctx)
{
	if (recv_flags(ctx[3], ctx[4]) & MSG_PEEK_)
		return 0;
	return tcp_enter((struct sock *)ctx[0], (struct msghdr *)ctx[1], DIR_INGRESS);
}

SEC("fexit/tcp_recvmsg")
int fexit_tcp_recvmsg(unsigned long long *ctx)
{
	/* The return value follows the arguments: slot 5 from 5.18, slot 6 before. Slot 6 does not
	 * exist from 5.18, so each branch loads with a fixed offset, and the verifier prunes the
	 * branch not taken (LINUX_KERNEL_VERSION is a known constant to it). */
	__u64 ret;
	if (new_recvmsg_signature())
		asm volatile("%[r] = *(u64 *)(%[c] + 40)" : [r] "=r"(ret) : [c] "r"(ctx));
	else
		asm volatile("%[r] = *(u64 *)(%[c] + 48)" : [r] "=r"(ret) : [c] "r"(ctx));
	return k_exit((int)ret, BACKEND_FENTRY);
}

SEC("fexit/tcp_sendpage")
int BPF_PROG(fexit_tcp_sendpage, struct sock *sk, struct page *page, int offset, size_t size, int flags, int ret)
{
	return sendpage_exit(sk, ret, BACKEND_FENTRY);
}

SEC("fexit/tcp_splice_read")
int BPF_PROG(fexit_tcp_splice_read, struct socket *sock, loff_t *ppos, struct pipe_inode_info *pipe, size_t len,
             unsigned int flags, long ret)
{
	return splice_read_exit(sock, ret, BACKEND_FENTRY);
}

/* ---- kprobe / kretprobe ---- */

SEC("kprobe/tcp_sendmsg")
int BPF_KPROBE(kprobe_tcp_sendmsg, struct sock *sk, struct msghdr *msg)
{
	return tcp_enter(sk, msg, DIR_EGRESS);
}

SEC("kretprobe/tcp_sendmsg")
int BPF_KRETPROBE(kretprobe_tcp_sendmsg, int ret)
{
	return k_exit(ret, BACKEND_KPROBE);
}

SEC("kprobe/tcp_recvmsg")
int BPF_KPROBE(kprobe_tcp_recvmsg, struct sock *sk, struct msghdr *msg)
{
	if (recv_flags(PT_REGS_PARM4(ctx), PT_REGS_PARM5(ctx)) & MSG_PEEK_)
		return 0;
	return tcp_enter(sk, msg, DIR_INGRESS);
}

SEC("kretprobe/tcp_recvmsg")
int BPF_KRETPROBE(kretprobe_tcp_recvmsg, int ret)
{
	return k_exit(ret, BACKEND_KPROBE);
}

/* The socket argument of a kprobe'd function is needed at its return (kretprobes see only the
 * return value): stashed per thread at entry. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
} entry_socks SEC(".maps");

static __always_inline void remember_entry_sock(void *sock)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 v = (__u64)sock;
	bpf_map_update_elem(&entry_socks, &tid, &v, BPF_ANY);
}

/* The socket remembered at entry (0 when none), forgotten. */
static __always_inline __u64 take_entry_sock(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 *p = bpf_map_lookup_elem(&entry_socks, &tid);
	if (!p)
		return 0;
	__u64 v = *p;
	bpf_map_delete_elem(&entry_socks, &tid);
	return v;
}

/* kprobe + kretprobe on fn(sock, ...) returning ret_type: the socket is remembered at entry and
 * handed with the return value to exit_fn. */
#define KPROBE_WITH_SOCK_AT_RETURN(fn, sock_type, ret_type, exit_fn)               \
	SEC("kprobe/" #fn)                                                         \
	int BPF_KPROBE(kprobe_##fn, sock_type *sock)                               \
	{                                                                          \
		remember_entry_sock(sock);                                         \
		return 0;                                                          \
	}                                                                          \
	SEC("kretprobe/" #fn)                                                      \
	int BPF_KRETPROBE(kretprobe_##fn, ret_type ret)                            \
	{                                                                          \
		__u64 sock = take_entry_sock();                                    \
		return sock ? exit_fn((sock_type *)sock, ret, BACKEND_KPROBE) : 0; \
	}

KPROBE_WITH_SOCK_AT_RETURN(tcp_sendpage, struct sock, int, sendpage_exit)
KPROBE_WITH_SOCK_AT_RETURN(tcp_splice_read, struct socket, long, splice_read_exit)

/* ---- TCP socket life: role from the handshake, end at destruction (as in the syscall backend) ---- */

SEC("tracepoint/sock/inet_sock_set_state")
int on_inet_sock_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	return tcp_state_change(ctx, BACKEND_FENTRY);
}

SEC("tracepoint/tcp/tcp_destroy_sock")
int on_tcp_destroy_sock(struct trace_event_raw_tcp_event_sk *ctx)
{
	return tcp_destroyed(ctx, BACKEND_FENTRY);
}
