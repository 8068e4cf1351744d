// The unix receiver: payload bytes of stream unix-domain sockets (both ends), with the socket's
// path, in the same record format as the tcp receiver, so the http processor handles them.
import type { ComponentFactory, CreateContext, ReceiverComponent, Stats } from '../../core/component';
import { UserError } from '../../core/component';
import type { CaptureChunk, ChunkConsumer } from '../../core/types';
import { parseSection, type SectionSpec } from '../../config/schema';
import { startFirstAvailable } from '../backends';
import type { ProbeSession } from '../probe-session';
import { missingBpfPrivileges } from '../privileges';
import { syscallsBackend } from '../syscalls-backend';
import { kernelLayerBackend, type KernelLayerObject } from '../kernel-backends';
import { MAX_MESSAGE_BYTES_LIMIT } from '../capture-limits';
import { pidFilter } from '../pid-filter';
import { PathFilter } from './path-filter';

export interface UnixReceiverConfig {
  include: string[];
  exclude: string[];
  pids: number[];
  max_message_bytes: number;
  ring_buffer_bytes: number;
  flush_interval: number;
  backend: 'auto' | 'fentry' | 'kprobe' | 'syscalls';
}

export const unixReceiverSpec: SectionSpec = {
  include: {
    type: 'list',
    of: { type: 'string' },
    default: [],
    doc: 'only sockets whose path matches one of these globs (abstract names as @name; ** crosses /)',
  },
  exclude: { type: 'list', of: { type: 'string' }, default: [], doc: 'never sockets whose path matches one of these globs' },
  pids: { type: 'list', of: { type: 'int', min: 1 }, default: [], doc: 'capture only these processes (tgid)' },
  max_message_bytes: {
    type: 'bytes',
    default: 1 << 20,
    min: 1,
    max: MAX_MESSAGE_BYTES_LIMIT,
    doc: 'bytes captured per syscall; the rest is counted and marked as cut',
  },
  ring_buffer_bytes: { type: 'bytes', default: 16 << 20, min: 1 << 20, max: 1 << 30, doc: 'kernel ring buffer size (rounded up to a power of two)' },
  flush_interval: { type: 'duration', default: 50, min: 1, doc: 'longest time captured bytes wait in a partly filled batch' },
  backend: { type: 'string', default: 'auto', enum: ['auto', 'fentry', 'kprobe', 'syscalls'], doc: 'force a kernel backend instead of the first that loads' },
};

function parseUnixReceiverConfig(raw: unknown, path: string): UnixReceiverConfig {
  const cfg = parseSection<UnixReceiverConfig>(raw, path, unixReceiverSpec);
  cfg.ring_buffer_bytes = 2 ** Math.ceil(Math.log2(cfg.ring_buffer_bytes));
  return cfg;
}

/** bpf/unix_kernel.bpf.c; a connection ends at unix_release. */
const UNIX_LAYER: KernelLayerObject = { object: 'unix_kernel', functions: ['unix_stream_sendmsg', 'unix_stream_recvmsg', 'unix_release'] };

/** Bounds the per-connection verdict table (entries leave on close). */
const MAX_VERDICTS = 65536;

class UnixReceiver implements ReceiverComponent {
  private session?: ProbeSession;
  private stopped?: Promise<void>;
  private readonly filter: PathFilter;
  private readonly verdicts = new Map<string, boolean>();
  private filteredConnections = 0;
  private filteredChunks = 0;

  constructor(
    private readonly cfg: UnixReceiverConfig,
    private readonly ctx: CreateContext,
    private readonly consumer: ChunkConsumer,
  ) {
    this.filter = new PathFilter(cfg.include, cfg.exclude);
  }

  async start(): Promise<void> {
    const missing = missingBpfPrivileges();
    if (missing) throw new UserError(`${this.ctx.id}: ${missing}`);
    const pids = pidFilter(this.cfg.pids);
    const downstream: ChunkConsumer = this.filter.active ? { consumeChunks: (c) => this.filtered(c) } : this.consumer;
    const common = {
      receiverName: this.ctx.id,
      settings: this.cfg,
      rodata: pids.rodata,
      mapEntries: pids.mapEntries,
      consumer: downstream,
      logger: this.ctx.logger,
    };
    // Preference order, as for the tcp receiver: the socket layer sees io_uring too.
    const candidates = [
      kernelLayerBackend('fentry', UNIX_LAYER, common),
      kernelLayerBackend('kprobe', UNIX_LAYER, common),
      syscallsBackend({ ...common, object: 'unix_syscalls', enterOnly: ['close'] }),
    ];
    const { running } = await startFirstAvailable(this.ctx.id, candidates, this.cfg.backend, this.ctx.logger);
    this.session = running;
  }

  /** Applies include/exclude on the socket path; excluded connections are muted in the kernel. */
  private filtered(chunks: CaptureChunk[]): void {
    const kept: CaptureChunk[] = [];
    for (const c of chunks) {
      if (c.kind === 'process') {
        kept.push(c); // describes a process, not the connection's traffic
        continue;
      }
      const id = c.conn.connId;
      let pass = this.verdicts.get(id);
      if (pass === undefined) {
        pass = this.filter.allows(c.conn.path ?? '');
        if (this.verdicts.size >= MAX_VERDICTS) this.verdicts.delete(this.verdicts.keys().next().value!);
        this.verdicts.set(id, pass);
        if (!pass) {
          this.filteredConnections++;
          this.session?.mute(id);
        }
      }
      if (c.kind === 'close') this.verdicts.delete(id);
      if (pass) kept.push(c);
      else this.filteredChunks++;
    }
    if (kept.length) this.consumer.consumeChunks(kept);
  }

  shutdown(): Promise<void> {
    this.stopped ??= this.session ? this.session.close() : Promise.resolve();
    return this.stopped;
  }

  stats(): Stats {
    if (!this.session) return {};
    return { ...this.session.stats(), 'connections.filtered': this.filteredConnections, 'chunks.filtered': this.filteredChunks };
  }
}

export const unixReceiverFactory: ComponentFactory<UnixReceiverConfig, ReceiverComponent, ChunkConsumer> & { spec: SectionSpec } = {
  type: 'unix',
  kind: 'receiver',
  description: 'payload bytes of stream unix-domain sockets (both ends) with their paths, from eBPF probes',
  spec: unixReceiverSpec,
  parseConfig: parseUnixReceiverConfig,
  create: (cfg, ctx, next) => new UnixReceiver(cfg, ctx, next),
};
