/* The one record format every kernel program emits (version 2), and its one source: the addon
 * is compiled with it (native/record_format.h); the decoder's offsets in src/receivers/record.ts
 * are checked against the BTF of these structs by test/unit/record-layout.test.ts. Change the
 * decoder with it and bump REC_VERSION. All fields are host-endian; addresses are in network
 * order (IPv4 in the first 4 bytes). */
#ifndef TCPSNIFF_RECORD_H
#define TCPSNIFF_RECORD_H

#define REC_VERSION                                                                                            \
	4 /* 3: REC_FILE describes a sendfile at its start (REC_FILE_SENT: how much it sent); 4: TLS plaintext \
	     (REC_FLAG_TLS), REC_EXEC */
#define REC_CHUNK_BYTES 16384 /* payload bytes per record at most; bigger messages span records */

enum rec_kind {
	REC_DATA = 1,      /* payload bytes (len may be 0 when the record only reports lost bytes) */
	REC_CLOSE = 2,     /* the socket closed (TCP_CLOSE); no payload */
	REC_PROC = 3,      /* the process behind a new connection: struct proc_payload, offset = its start time */
	REC_CONN = 4,      /* more about a new connection: struct conn_payload (unix sockets: the path) */
	REC_FILE = 5,      /* a sendfile starts (sendfile receiver): struct file_payload; offset = stream
	                      offset of its first byte, lost_after = bytes it may send. Its bytes arrive as
	                      kernel-side gaps from offset on; user space re-reads them from the file */
	REC_FILE_SENT = 6, /* that sendfile sent fewer bytes than it may have: offset = the REC_FILE's,
	                      lost_after = bytes it sent; no payload */
	REC_EXEC = 7,      /* a process called exec (bpf/exec_watch.bpf.c); no payload */
};

enum rec_direction {
	DIR_EGRESS = 0,  /* sent by the process */
	DIR_INGRESS = 1, /* received by the process */
};

enum rec_role {
	ROLE_UNKNOWN = 0, /* the handshake happened before the collector attached */
	ROLE_CLIENT = 1,  /* active open (connect) */
	ROLE_SERVER = 2,  /* passive open (accept) */
};

enum rec_backend {
	BACKEND_SYSCALLS = 1, /* syscall tracepoints */
	BACKEND_FENTRY = 2,   /* fentry/fexit on tcp_sendmsg / tcp_recvmsg */
	BACKEND_KPROBE = 3,   /* kprobe/kretprobe on the same functions */
};

enum rec_flags {
	/* lost_after counts bytes moved kernel-side (splice, vmsplice/tee through a pipe): by design
	 * out of reach, not a capture failure. */
	REC_FLAG_KERNEL_SIDE = 1,
	/* TLS plaintext, from the TLS library (tls_capture.h): offset is in the plaintext stream. */
	REC_FLAG_TLS = 2,
};

struct rec_hdr {
	__u8 version;
	__u8 kind;      /* enum rec_kind */
	__u8 direction; /* enum rec_direction */
	__u8 role;      /* enum rec_role */
	__u8 family;    /* AF_INET / AF_INET6 */
	__u8 backend;   /* enum rec_backend */
	__u16 flags;    /* enum rec_flags */
	__u32 pid;      /* tgid */
	__u32 tid;
	__u64 conn_id;    /* stable identity of the socket for as long as it lives */
	__u64 ts_ns;      /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	__u64 offset;     /* byte offset of the payload in this direction's stream */
	__u32 len;        /* payload bytes following this header */
	__u32 lost_after; /* bytes of the same syscall after this payload that were not captured */
	__u16 lport;
	__u16 rport;
	__u32 reserved;
	__u8 laddr[16];
	__u8 raddr[16];
	char comm[16];
}; /* 104 bytes */

/* Payload of REC_PROC, read in the process's own syscall context, so short-lived clients (curl)
 * keep their command line even when they are gone before user space looks at /proc. */
#define PROC_EXE_BYTES 64
#define PROC_ARGS_BYTES 4096
struct proc_payload {
	char exe[PROC_EXE_BYTES];   /* basename of the executable, NUL-padded */
	char args[PROC_ARGS_BYTES]; /* argv, NUL-separated (only as many bytes as the header's len says) */
};

/* Payload of REC_CONN for unix sockets: the socket's path, from its own address when bound
 * (servers, and their accepted sockets) else from the peer's (clients). Abstract names start
 * with a NUL byte. laddr/raddr of unix records hold the inode numbers of the two ends. */
#define UNIX_PATH_BYTES 108
struct conn_payload {
	__u8 from_peer;             /* 1 when the path is the peer's address */
	char path[UNIX_PATH_BYTES]; /* only as many bytes as the header's len says (minus 1) */
};

/* Payload of REC_FILE: where the bytes came from. The path is given as its components from the
 * file up to the root of the mount namespace (component 0 is the file's name); a component
 * longer than FILE_COMPONENT_BYTES - 1 is cut, and user space then fails to open it (a gap).
 * Only the `components` slots set are sent: the header's len is 16 + components * 128. */
#define FILE_COMPONENTS 16
#define FILE_COMPONENT_BYTES 128
struct file_payload {
	__u64 file_offset;
	__u32 in_fd;
	__u32 components; /* how many of comp[] are set */
	char comp[FILE_COMPONENTS][FILE_COMPONENT_BYTES];
};

/* Kernel-side counters (per-CPU array "counters"), summed by the addon. */
enum counter_index {
	CNT_RINGBUF_FULL_RECORDS = 0, /* bpf_ringbuf_output failed: record lost */
	CNT_RINGBUF_FULL_BYTES,       /* payload bytes in those records */
	CNT_TRUNCATED_BYTES,          /* bytes beyond max_message_bytes or the per-syscall loop limit */
	CNT_COPY_FAILED,              /* bpf_probe_read_user failed */
	CNT_STASH_FULL,        /* per-thread syscall stash not stored (map full, no memory): syscall not captured */
	CNT_CONN_TABLE_FULL,   /* connection table full: syscall not captured */
	CNT_UNCAPTURED_BYTES,  /* bytes moved kernel-side and not captured (splice...): a gap */
	CNT_TLS_AMBIGUOUS,     /* a TLS call moved bytes on two sockets: its plaintext is dropped */
	CNT_TLS_UNBOUND,       /* TLS plaintext with no socket known for its session: dropped */
	CNT_TLS_UNBOUND_BYTES, /* the plaintext bytes of those two */
	CNT_TLS_CALLS_FULL,    /* per-thread TLS call table full: the call is not captured */
	CNT_TLS_UNVERIFIED,    /* memory-BIO TLS plaintext whose socket call did not pass the length rule: dropped */
	CNT__MAX,
};

#endif
