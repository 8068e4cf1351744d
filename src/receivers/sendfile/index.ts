// The sendfile receiver: bodies sent with sendfile(2) (nginx, Caddy, Python's socket.sendfile),
// joined to the tcp receiver's connections at their byte offsets as file ranges, so each HTTP
// stream stays one stream; a range is read again from its file only when a processor needs it.
//
// Its BPF object (bpf/sendfile.bpf.c) is loaded with the tcp receiver's connection table, ring
// buffer and pid filter (maps reused from that object): its records travel in the tcp receiver's
// ring, in order with the gaps they describe, and are decoded there (FileSends); its chunks go
// where the tcp receiver's go. It attaches and detaches on its own; where its hooks do not load
// it says so once and sendfile bodies stay what the tcp receiver alone makes of them: exact
// kernel-side gaps. splice(2) bodies stay such gaps in any case (a pipe cannot be read again).
import type { ComponentFactory, CreateContext, ReceiverComponent, Stats } from '../../core/component';
import { UserError } from '../../core/component';
import type { ChunkConsumer } from '../../core/types';
import { parseSection, type SectionSpec } from '../../config/schema';
import { bpfObjectPath, loadAddon, type NativeProbe } from '../native';
import { ensureTracefs, tracepointExists } from '../tracefs';
import { TcpReceiver, type TcpCapture } from '../tcp';
import { FileSendJoiner } from './file-sends';

export interface SendfileReceiverConfig {
  tcp_receiver: string;
  max_reread_bytes: number;
}

export const sendfileReceiverSpec: SectionSpec = {
  tcp_receiver: { type: 'string', default: 'tcp', doc: 'the tcp receiver (its ID) whose connections the bodies join; list both in the same pipelines' },
  max_reread_bytes: {
    type: 'bytes',
    default: 16 << 20,
    min: 0,
    max: 1 << 30,
    doc: 'bytes read again from the file per kernel-side send at most, when a processor needs them; the rest stays a gap with the file named (0: read nothing, only name the file)',
  },
};

/** The hooks, in bpf/sendfile.bpf.c. */
const TRACEPOINTS = ['sys_enter_sendfile64', 'sys_exit_sendfile64'];

/** The tcp receiver's maps the object shares: what it emits joins that object's connections. */
const SHARED_MAPS = ['conns', 'events', 'filter_pids'];

export class SendfileReceiver implements ReceiverComponent {
  private probe?: NativeProbe;
  private readonly joiner: FileSendJoiner;
  private stopped?: Promise<void>;
  private hooks = 'none';

  constructor(
    private readonly cfg: SendfileReceiverConfig,
    private readonly ctx: CreateContext,
  ) {
    this.joiner = new FileSendJoiner(cfg.max_reread_bytes);
  }

  async start(): Promise<void> {
    const tcp = this.ctx.joined;
    if (!(tcp instanceof TcpReceiver)) throw new UserError(`${this.ctx.id}: no tcp receiver ${JSON.stringify(this.cfg.tcp_receiver)} runs in this collector`);
    let capture: TcpCapture;
    try {
      capture = await tcp.running();
    } catch (e) {
      throw new UserError(`${this.ctx.id}: the tcp receiver ${this.cfg.tcp_receiver} did not start (${(e as Error).message.split('\n')[0]})`);
    }
    if (this.stopped) return;
    try {
      this.probe = this.attach(capture);
    } catch (e) {
      this.ctx.logger.warn(
        `${this.ctx.id}: its hooks did not load here (${(e as Error).message.split('\n')[0]}); sendfile bodies stay exact gaps (kernel_side)`,
      );
      return;
    }
    this.hooks = 'syscalls';
    capture.session.joinFileSends(this.joiner);
    this.ctx.logger.info(`${this.ctx.id}: using tracepoints on sendfile64; joining the connections of ${this.cfg.tcp_receiver} (backend ${capture.backend})`);
  }

  private attach(capture: TcpCapture): NativeProbe {
    const tracefs = ensureTracefs();
    if (!tracefs.root) throw new Error(tracefs.note ?? 'tracefs not found');
    const missing = TRACEPOINTS.filter((t) => !tracepointExists(tracefs.root!, 'syscalls', t));
    if (missing.length) throw new Error(`no tracepoint ${missing.join(', ')} on this kernel`);
    const { Probe } = loadAddon();
    const probe = new Probe();
    probe.open(bpfObjectPath('sendfile'), {
      rodata: { self_tgid: process.pid, filter_pids_on: capture.pidFilterOn },
      reuseMaps: Object.fromEntries(SHARED_MAPS.map((m) => [m, capture.session.mapFd(m)])),
    });
    return probe;
  }

  /** Detaches its hooks. What is already in the ring is still joined as the tcp receiver drains it. */
  shutdown(): Promise<void> {
    this.stopped ??= this.probe ? this.probe.close() : Promise.resolve();
    return this.stopped;
  }

  stats(): Stats {
    const f = this.joiner.stats;
    const s: Stats = {
      'sendfile.started': f.started,
      'sendfile.bytes': f.ranges,
      'sendfile.reread_bytes': f.reread,
      // No processor needed them (bodies neither captured nor inspected): never read, not lost.
      'sendfile.skipped_bytes': Math.max(0, f.ranges - f.reread - f.unread),
      'drops.sendfile_unread_bytes': f.unread,
    };
    // Only ring-buffer reservations can fail in its programs: a lost REC_FILE leaves a gap.
    if (this.probe) s['drops.kernel_ringbuf_full'] = this.probe.counters()[0] ?? 0;
    return s;
  }

  /** 'syscalls' (tracepoints) while its hooks run, 'none' where they did not load. */
  get backend(): string {
    return this.hooks;
  }
}

export const sendfileReceiverFactory: ComponentFactory<SendfileReceiverConfig, SendfileReceiver, ChunkConsumer> & { spec: SectionSpec } = {
  type: 'sendfile',
  kind: 'receiver',
  description: "bodies sent with sendfile(2), joined to the tcp receiver's connections and read again from their files when needed",
  details: `Static files served with sendfile(2) (nginx \`sendfile on\`, Caddy, Python's socket.sendfile)
never pass through user memory. The tcp receiver alone sees their bytes as exact gaps (sizes right,
marked kernel_side, nothing read). This receiver hooks the sendfile64 syscall tracepoints, says
which file and offset each sendfile sends from, and hands that file range to the http processor at
its place in the tcp receiver's connection. The processor reads it again from the file only when it
needs the bytes (captured or inspected bodies, chunked framing, HTTP/2 frames, protocol detection);
otherwise they are skipped: not read, and not lost (sendfile.skipped_bytes). Spans get
tcpsniff.sendfile.response.path, .offset, .bytes, .capture = reread | skipped | gap | partial.
It shares the tcp receiver's connection table and ring buffer: list both in the same pipelines, e.g.
  service: { pipelines: { traces: { receivers: [tcp, sendfile], ... } } }
Where its hooks do not load it logs one line and the bodies stay gaps. A file changed, renamed or
unreadable by the time it is needed leaves a gap (drops.sendfile_unread_bytes). splice(2)
bodies come through a pipe, which cannot be read again: they stay exact kernel-side gaps.`,
  spec: sendfileReceiverSpec,
  parseConfig: (raw, path) => parseSection<SendfileReceiverConfig>(raw, path, sendfileReceiverSpec),
  capabilities: {
    joins: (cfg) => ({ receiver: cfg.tcp_receiver, type: 'tcp', key: 'tcp_receiver' }),
    backend: (r) => r.backend,
  },
  // Its chunks travel in the tcp receiver's ring, to that receiver's consumer (same pipelines): `next` is not used.
  create: (cfg, ctx) => new SendfileReceiver(cfg, ctx),
};
