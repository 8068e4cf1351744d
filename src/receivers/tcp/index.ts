// The tcp receiver: payload bytes of TCP connections, both directions, both roles.
import type { ComponentFactory, CreateContext, ReceiverComponent } from '../../core/component';
import { UserError } from '../../core/component';
import type { ChunkConsumer } from '../../core/types';
import { startFirstAvailable } from '../backends';
import type { ProbeSession } from '../probe-session';
import { missingBpfPrivileges } from '../privileges';
import type { SectionSpec } from '../../config/schema';
import { parseTcpReceiverConfig, tcpReceiverSpec, type TcpReceiverConfig } from './config';
import { syscallsBackend } from '../syscalls-backend';
import { kernelLayerBackend, type KernelLayerObject } from '../kernel-backends';
import { filterMaps } from './filters';
import { TlsCapture } from '../tls';
import { TLS_PROGRAMS } from '../tls/runtimes';

/**
 * bpf/tcp_kernel.bpf.c; sendfile/splice reach TCP through tcp_sendpage only up to 6.4; splice(2)
 * out of a socket through tcp_splice_read (never tcp_recvmsg). Their bytes are exact gaps.
 */
const TCP_LAYER: KernelLayerObject = {
  object: 'tcp_kernel',
  functions: ['tcp_sendmsg', 'tcp_recvmsg', 'tcp_splice_read'],
  optionalFunctions: ['tcp_sendpage'],
};

/** A running tcp receiver, for receivers that join its connections (sendfile). */
export interface TcpCapture {
  /** The kernel backend it runs on. */
  backend: string;
  session: ProbeSession;
  /** Its pid filter's setting, for an object that shares its filter_pids map. */
  pidFilterOn: number;
}

export class TcpReceiver implements ReceiverComponent {
  private session?: ProbeSession;
  private tls?: TlsCapture;
  private backendName = '';
  private stopped?: Promise<void>;
  private capturing!: { resolve(c: TcpCapture): void; reject(e: Error): void };
  private readonly capture = new Promise<TcpCapture>((resolve, reject) => (this.capturing = { resolve, reject }));

  constructor(
    private readonly cfg: TcpReceiverConfig,
    private readonly ctx: CreateContext,
    private readonly consumer: ChunkConsumer,
  ) {
    this.capture.catch(() => {}); // nobody may be waiting for it
  }

  /** Resolves once it captures; rejects when it does not start. */
  running(): Promise<TcpCapture> {
    return this.capture;
  }

  async start(): Promise<void> {
    try {
      await this.attach();
    } catch (e) {
      this.capturing.reject(e as Error);
      throw e;
    }
  }

  private async attach(): Promise<void> {
    const missing = missingBpfPrivileges();
    if (missing) throw new UserError(`${this.ctx.id}: ${missing}`);
    const filters = filterMaps(this.cfg);
    const common = {
      receiverName: this.ctx.id,
      settings: this.cfg,
      rodata: filters.rodata,
      mapEntries: filters.mapEntries,
      consumer: this.consumer,
      logger: this.ctx.logger,
      // A kernel that refuses the TLS uprobe programs still runs TCP capture.
      optionalPrograms: this.cfg.tls.enable ? TLS_PROGRAMS : [],
    };
    // Preference order: the TCP layer sees io_uring and kernel-side sends too.
    const candidates = [
      kernelLayerBackend('fentry', TCP_LAYER, common),
      kernelLayerBackend('kprobe', TCP_LAYER, common),
      syscallsBackend({ ...common, object: 'tcp_syscalls' }),
    ];
    const { name, running } = await startFirstAvailable(this.ctx.id, candidates, this.cfg.backend, this.ctx.logger);
    this.backendName = name;
    this.session = running;
    this.ctx.logger.debug(`${this.ctx.id}: attached ${running.attached.join(', ')}`);
    this.capturing.resolve({ backend: name, session: running, pidFilterOn: filters.rodata['filter_pids_on'] ?? 0 });
    if (running.withoutOptional !== undefined) {
      this.ctx.logger.warn(`${this.ctx.id}: tls: TLS plaintext is not captured — its programs do not load on this kernel (${running.withoutOptional})`);
      return;
    }
    this.tls = new TlsCapture(this.cfg.tls, (p, file, fn, offset) => running.attachUprobe(p, file, fn, offset), this.ctx.logger, this.ctx.id);
    this.tls.start();
  }

  shutdown(): Promise<void> {
    this.capturing.reject(new Error(`${this.ctx.id} stopped before it started`)); // no effect once it runs
    this.stopped ??= (async () => {
      await this.tls?.shutdown();
      await this.session?.close();
    })();
    return this.stopped;
  }

  stats() {
    return { ...this.session?.stats(), ...this.tls?.stats() };
  }

  get backend(): string {
    return this.backendName;
  }
}

export const tcpReceiverFactory: ComponentFactory<TcpReceiverConfig, TcpReceiver, ChunkConsumer> & { spec: SectionSpec } = {
  type: 'tcp',
  kind: 'receiver',
  description: 'payload bytes of TCP connections (IPv4/IPv6, client and server, both directions) from eBPF probes',
  spec: tcpReceiverSpec,
  parseConfig: parseTcpReceiverConfig,
  capabilities: { kernelFilters: true, backend: (r) => r.backend },
  create: (cfg, ctx, next) => new TcpReceiver(cfg, ctx, next),
};
