// SPDX-License-Identifier: GPL-2.0
/* unix receiver, socket-layer backends: fentry/fexit (preferred) or kprobe/kretprobe on
 * unix_stream_sendmsg and unix_stream_recvmsg, so io_uring and other paths that bypass the
 * read/write syscalls are seen too. The loader picks one family of programs; a connection ends at
 * its socket's release (unix_release). Records are the same as the syscall backend's. */
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
#include "unix_conn.h"

char LICENSE[] SEC("license") = "GPL";

/* unix_stream_sendmsg(struct socket *, struct msghdr *, size_t)
 * unix_stream_recvmsg(struct socket *, struct msghdr *, size_t, int flags) — stable since 4.x */
static __always_inline int unix_enter(struct socket *sock, struct msghdr *msg, __u8 dir)
{
	struct sock *sk = sock ? BPF_CORE_READ(sock, sk) : 0;
	return is_unix_stream(sk) ? k_enter(sk, msg, dir) : 0;
}

SEC("fentry/unix_stream_sendmsg")
int BPF_PROG(fentry_unix_stream_sendmsg, struct socket *sock, struct msghdr *msg)
{
	return unix_enter(sock, msg, DIR_EGRESS);
}

SEC("fexit/unix_stream_sendmsg")
int BPF_PROG(fexit_unix_stream_sendmsg, struct socket *sock, struct msghdr *msg, size_t len, int ret)
{
	return k_exit(ret, BACKEND_FENTRY);
}

SEC("fentry/unix_stream_recvmsg")
int BPF_PROG(fentry_unix_stream_recvmsg, struct socket *sock, struct msghdr *msg, size_t size, int flags)
{
	return flags & MSG_PEEK_ ? 0 : unix_enter(sock, msg, DIR_INGRESS);
}

SEC("fexit/unix_stream_recvmsg")
int BPF_PROG(fexit_unix_stream_recvmsg, struct socket *sock, struct msghdr *msg, size_t size, int flags, int ret)
{
	return k_exit(ret, BACKEND_FENTRY);
}

SEC("kprobe/unix_stream_sendmsg")
int BPF_KPROBE(kprobe_unix_stream_sendmsg, struct socket *sock, struct msghdr *msg)
{
	return unix_enter(sock, msg, DIR_EGRESS);
}

SEC("kretprobe/unix_stream_sendmsg")
int BPF_KRETPROBE(kretprobe_unix_stream_sendmsg, int ret)
{
	return k_exit(ret, BACKEND_KPROBE);
}

SEC("kprobe/unix_stream_recvmsg")
int BPF_KPROBE(kprobe_unix_stream_recvmsg, struct socket *sock, struct msghdr *msg, size_t size, int flags)
{
	return flags & MSG_PEEK_ ? 0 : unix_enter(sock, msg, DIR_INGRESS);
}

SEC("kretprobe/unix_stream_recvmsg")
int BPF_KRETPROBE(kretprobe_unix_stream_recvmsg, int ret)
{
	return k_exit(ret, BACKEND_KPROBE);
}

/* unix_release(struct socket *): the socket's release, at the last reference to its file, after
 * every call on it returned: its connection ends. */
static __always_inline int unix_released(struct socket *sock, __u8 backend)
{
	struct sock *sk = sock ? BPF_CORE_READ(sock, sk) : 0;
	if (is_unix_stream(sk))
		unix_conn_end(sk, backend);
	return 0;
}

SEC("fentry/unix_release")
int BPF_PROG(fentry_unix_release, struct socket *sock)
{
	return unix_released(sock, BACKEND_FENTRY);
}

SEC("kprobe/unix_release")
int BPF_KPROBE(kprobe_unix_release, struct socket *sock)
{
	return unix_released(sock, BACKEND_KPROBE);
}
