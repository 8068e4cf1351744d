/* The ring buffer every kernel program writes its records into (record.h), and when a record
 * wakes the reader. An object that writes into another object's ring (the sendfile receiver's,
 * into the tcp receiver's) is loaded with this map reused from it. */
#ifndef TCPSNIFF_RING_H
#define TCPSNIFF_RING_H

const volatile __u32 wakeup_bytes = 256 << 10; /* wake the reader once this much is queued */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 << 20); /* resized by the loader from config */
} events SEC(".maps");

/* Wake the reader only when this record makes the queued bytes cross wakeup_bytes. Waking on
 * every record above the threshold (as when the reader lags) would cost each traced syscall a
 * wake-up; the reader also drains on a short timer, so nothing waits longer than that. */
static __always_inline __u64 wakeup_flags(__u64 size)
{
	__u64 queued = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	return queued < wakeup_bytes && queued + size >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

#endif
