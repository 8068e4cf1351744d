// SPDX-License-Identifier: GPL-2.0
/* Watches exec for the tls capture (src/receivers/tls): a new program may map a TLS library
 * file no process had mapped before (a container with its own libssl, a new node binary), so
 * user space looks at its maps soon after. One REC_EXEC record per exec; execs are rare next to
 * socket calls, so each wakes the reader. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "record.h"
#include "counters.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 << 10);
} events SEC(".maps");

SEC("tracepoint/sched/sched_process_exec")
int on_exec(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct rec_hdr h = { .version = REC_VERSION, .kind = REC_EXEC, .pid = id >> 32, .tid = (__u32)id };
	h.ts_ns = bpf_ktime_get_ns();
	bpf_get_current_comm(h.comm, sizeof(h.comm));
	if (bpf_ringbuf_output(&events, &h, sizeof(h), BPF_RB_FORCE_WAKEUP))
		count(CNT_RINGBUF_FULL_RECORDS, 1);
	return 0;
}
