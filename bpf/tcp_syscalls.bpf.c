// SPDX-License-Identifier: GPL-2.0
/* tcp receiver, syscall-tracepoint backend: the payload of TCP sockets (IPv4 and IPv6) passing
 * through read/write-style syscalls (bpf/include/syscall_capture.h), plus the TCP
 * tracepoints for each connection's role (from the handshake) and its end (tcp_state.h). */
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
#include "syscall_capture.h"
#include "tcp_state.h"
#include "tcp_hooks.h"
#include "tls_capture.h"

char LICENSE[] SEC("license") = "GPL";

/* The TCP sockets (IPv4 and IPv6). */
static __always_inline struct sock *capture_sock_of_fd(int fd)
{
	struct socket *so = socket_of_fd(fd);
	if (!so)
		return 0;
	struct sock *sk = BPF_CORE_READ(so, sk);
	if (!sk)
		return 0;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return 0;
	if (BPF_CORE_READ(sk, sk_type) != SOCK_STREAM_ || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	return sk;
}

/* A TCP connection ends with its socket's destruction (tcp_state.h), not with a call. */
static __always_inline void capture_call_done(struct sock *sk)
{
}

/* ---- TCP socket life: role from the handshake, end at destruction (tcp_state.h) ---- */

SEC("tracepoint/sock/inet_sock_set_state")
int on_inet_sock_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	return tcp_state_change(ctx, BACKEND_SYSCALLS);
}

SEC("tracepoint/tcp/tcp_destroy_sock")
int on_tcp_destroy_sock(struct trace_event_raw_tcp_event_sk *ctx)
{
	return tcp_destroyed(ctx, BACKEND_SYSCALLS);
}

CAPTURE_SYSCALL_HOOKS()
