// SPDX-License-Identifier: GPL-2.0
/* unix receiver, syscall-tracepoint backend: the payload of stream unix-domain sockets passing
 * through read/write-style syscalls (bpf/include/syscall_capture.h). At a connection's first
 * sight a REC_CONN record names its path; the socket's release ends it (unix_conn.h). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "record.h"
#include "counters.h"
#include "conn.h"
#include "filters.h"
#include "syscall_capture.h"
#include "unix_conn.h"

char LICENSE[] SEC("license") = "GPL";

/* Stream unix sockets. */
static __always_inline struct sock *capture_sock_of_fd(int fd)
{
	struct socket *so = socket_of_fd(fd);
	struct sock *sk = so ? BPF_CORE_READ(so, sk) : 0;
	return is_unix_stream(sk) ? sk : 0;
}

static __always_inline void capture_call_done(struct sock *sk)
{
	unix_call_done(sk);
}

/* ---- the end of a connection: its socket's release (unix_conn.h) ---- */

SEC("tracepoint/syscalls/sys_enter_close")
int enter_close(struct trace_event_raw_sys_enter *ctx)
{
	return unix_close_fd(ctx->args[0], BACKEND_SYSCALLS);
}

SEC("tracepoint/sched/sched_process_exit")
int on_process_exit(void *ctx)
{
	return unix_process_exit();
}

CAPTURE_SYSCALL_HOOKS()
