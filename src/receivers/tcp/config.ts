// tcp receiver configuration. Filters are enforced in the kernel: kinds combine with AND,
// entries of one kind with OR; no filter set means all TCP traffic. The collector's own
// process is always excluded.
import { ConfigError } from '../../core/component';
import { ConfigErrorList, eachChecked, join, parseSection, type SectionSpec } from '../../config/schema';
import { parseCidr, parseTarget } from '../../shared/addresses';
import { tlsSpec, type TlsConfig } from '../tls/config';
import { MAX_MESSAGE_BYTES_LIMIT } from '../capture-limits';

export const TCP_BACKENDS = ['auto', 'fentry', 'kprobe', 'syscalls'] as const;

export interface TcpReceiverConfig {
  ports: number[];
  addresses: string[];
  targets: string[];
  pids: number[];
  max_message_bytes: number;
  ring_buffer_bytes: number;
  flush_interval: number;
  backend: (typeof TCP_BACKENDS)[number];
  tls: TlsConfig;
}

export const tcpReceiverSpec: SectionSpec = {
  ports: { type: 'list', of: { type: 'int', min: 1, max: 65535 }, default: [], doc: 'capture only connections with one of these local or remote ports' },
  addresses: {
    type: 'list',
    of: { type: 'string' },
    default: [],
    doc: 'capture only connections with an endpoint in these IPs / CIDRs (e.g. 10.0.0.0/8, ::1)',
  },
  targets: {
    type: 'list',
    of: { type: 'string' },
    default: [],
    doc: 'capture only connections with an endpoint equal to one of these IP:port pairs (e.g. 127.0.0.1:8080, [::1]:443)',
  },
  pids: { type: 'list', of: { type: 'int', min: 1 }, default: [], doc: 'capture only these processes (tgid)' },
  max_message_bytes: {
    type: 'bytes',
    default: 1 << 20,
    min: 1,
    max: MAX_MESSAGE_BYTES_LIMIT,
    doc: 'bytes captured per syscall; the rest is counted and marked as cut',
  },
  // 64 MiB: at a fixed 20k nginx requests/s (both ends seen) with the collector sharing a CPU, a
  // 16 MiB ring lost 1-13% of records to the collector's pauses, 64 MiB at most 1% per round
  // (BENCHMARKS.md, findings 3 and 4). The ring is mapped twice (for records that wrap), so it counts
  // twice in RSS although it is one allocation of kernel memory; lower it where memory matters more.
  ring_buffer_bytes: {
    type: 'bytes',
    default: 64 << 20,
    min: 1 << 20,
    max: 1 << 30,
    doc: 'kernel ring buffer size (rounded up to a power of two): peak bytes/s × longest consumer pause; counts twice in RSS',
  },
  flush_interval: { type: 'duration', default: 50, min: 1, doc: 'longest time captured bytes wait in a partly filled batch' },
  backend: { type: 'string', default: 'auto', enum: TCP_BACKENDS, doc: 'force a kernel backend instead of the first that loads' },
  tls: { type: 'object', fields: tlsSpec, doc: 'TLS plaintext of the connections, from uprobes on the TLS libraries' },
};

export function parseTcpReceiverConfig(raw: unknown, path: string): TcpReceiverConfig {
  const cfg = parseSection<TcpReceiverConfig>(raw, path, tcpReceiverSpec);
  const errors = new ConfigErrorList();
  errors.check(() =>
    eachChecked(cfg.addresses, (a, i) => {
      if (!parseCidr(a)) throw new ConfigError(join(join(path, 'addresses'), i), `not an IP address or CIDR: ${JSON.stringify(a)}`);
    }),
  );
  errors.check(() =>
    eachChecked(cfg.targets, (t, i) => {
      if (!parseTarget(t)) throw new ConfigError(join(join(path, 'targets'), i), `expected IP:port (IPv6 as [addr]:port), got ${JSON.stringify(t)}`);
    }),
  );
  errors.throwIfAny();
  cfg.ring_buffer_bytes = 2 ** Math.ceil(Math.log2(cfg.ring_buffer_bytes));
  return cfg;
}
