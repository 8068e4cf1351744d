// SPDX-License-Identifier: GPL-2.0
/* One trivial program per hook type, for `tcpsniff-collector doctor`: each is loaded and
 * attached on its own, so the report says exactly which kinds of hooks this host allows. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} doctor_ring SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getpid")
int hook_tracepoint(void *ctx)
{
	return 0;
}

SEC("raw_tracepoint/sys_enter")
int hook_raw_tracepoint(void *ctx)
{
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(hook_tp_btf)
{
	return 0;
}

SEC("kprobe/tcp_sendmsg")
int hook_kprobe(void *ctx)
{
	return 0;
}

SEC("fentry/tcp_sendmsg")
int BPF_PROG(hook_fentry)
{
	return 0;
}

SEC("uprobe")
int hook_uprobe(void *ctx)
{
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int hook_ringbuf(void *ctx)
{
	__u64 v = 0;
	bpf_ringbuf_output(&doctor_ring, &v, sizeof(v), BPF_RB_NO_WAKEUP);
	return 0;
}
