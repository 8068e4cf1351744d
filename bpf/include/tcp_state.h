/* TCP state changes, shared by the tcp receiver's backends: the role of a connection from
 * its handshake (SYN_SENT: client, SYN_RECV: server) and its close. */
#ifndef TCPSNIFF_TCP_STATE_H
#define TCPSNIFF_TCP_STATE_H

static __always_inline int tcp_state_change(struct trace_event_raw_inet_sock_set_state *ctx, __u8 backend)
{
	if (ctx->protocol != IPPROTO_TCP)
		return 0;
	__u64 sk = (__u64)ctx->skaddr;
	int state = ctx->newstate;
	if (state == TCP_SYN_SENT || state == TCP_SYN_RECV) {
		struct conn_state fresh = { .role = state == TCP_SYN_SENT ? ROLE_CLIENT : ROLE_SERVER };
		bpf_map_update_elem(&conns, &sk, &fresh, BPF_ANY);
	} else if (state == TCP_CLOSE) {
		struct conn_state *cs = bpf_map_lookup_elem(&conns, &sk);
		if (!cs)
			return 0;
		emit_close(cs, backend);
		bpf_map_delete_elem(&conns, &sk);
	}
	return 0;
}

#endif
