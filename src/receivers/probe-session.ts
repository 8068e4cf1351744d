// One running BPF object: decodes its batches into CaptureChunks for the consumer, and reads
// its counters. Shared by every receiver backend built on the native probe.
import type { ChunkConsumer, CaptureChunk } from '../core/types';
import type { Logger } from '../core/logger';
import { loadAddon, type NativeProbe, type ProbeOpenOptions } from './native';
import { UserError } from '../core/component';
import { RecordDecoder, REC_HEADER_BYTES, REC_VERSION, type FileSends } from './record';
import { monotonicToUnixOffsetNs } from './clock';

/** Names of the kernel counters, in the order of enum counter_index (bpf/include/record.h). */
const KERNEL_COUNTERS = [
  'drops.kernel_ringbuf_full',
  'drops.kernel_ringbuf_full_bytes',
  'drops.truncated_bytes', // over max_message_bytes: marked on the span, counted here
  'drops.copy_failed',
  'drops.syscall_stash_full',
  'drops.connection_table_full',
  'drops.uncaptured_kernel_side_bytes', // moved kernel-side (splice; sendfile without the sendfile receiver): a gap
  'drops.tls_ambiguous', // a TLS call moved bytes on two sockets: plaintext dropped (bpf/include/tls_capture.h)
  'drops.tls_unbound', // TLS plaintext of a session whose socket is not known
  'drops.tls_unbound_bytes',
  'drops.tls_call_table_full',
  'drops.tls_unverified', // Node's TLS plaintext whose socket call failed the length rule
] as const;

export class ProbeSession {
  private readonly probe: NativeProbe;
  private readonly decoder: RecordDecoder;
  private consumerErrors = 0;
  private muteFailures = 0;
  private muteGeneration = 0;
  private closing?: Promise<void>;
  readonly attached: string[];
  /** Why the object's optional programs were left out (they did not load), else undefined. */
  withoutOptional?: string;

  constructor(
    receiverName: string,
    objectPath: string,
    options: ProbeOpenOptions,
    private readonly consumer: ChunkConsumer,
    private readonly logger: Logger,
  ) {
    const addon = loadAddon();
    // The addon is built from bpf/include/record.h with the BPF objects: another format is refused.
    if (addon.recordVersion !== REC_VERSION || addon.recordHeaderBytes !== REC_HEADER_BYTES) {
      throw new UserError(
        `the BPF objects and the addon are built for kernel record format version ${addon.recordVersion} (${addon.recordHeaderBytes}-byte header); this collector decodes version ${REC_VERSION} (${REC_HEADER_BYTES} bytes): rebuild them with 'npm run setup'`,
      );
    }
    this.probe = new addon.Probe();
    this.attached = this.probe.open(objectPath, options); // throws with libbpf's reasons
    this.decoder = new RecordDecoder(receiverName, monotonicToUnixOffsetNs(), undefined, (v) =>
      this.logger.error(
        `kernel records of version ${v} skipped (counted in drops.malformed_records): this collector decodes version ${REC_VERSION} of bpf/include/record.h; rebuild the BPF objects and the addon with 'npm run setup'`,
      ),
    );
    this.probe.start((batch) => this.onBatch(batch));
  }

  private onBatch(batch: Buffer): void {
    const chunks: CaptureChunk[] = [];
    try {
      this.decoder.decodeBatch(batch, chunks);
      if (chunks.length) this.consumer.consumeChunks(chunks);
    } catch (e) {
      // Never let a downstream bug stop capture; count it and say so (rate-limited by count).
      if (this.consumerErrors++ < 5) this.logger.error(`processing a batch failed: ${(e as Error).stack ?? e}`);
    }
  }

  /**
   * Asks the kernel to stop capturing a connection (its id as the decoder wrote it,
   * `receiver:hex`). Takes effect at the connection's next syscall.
   */
  mute(connId: string): void {
    const key = Buffer.alloc(8);
    key.writeBigUInt64LE(BigInt('0x' + connId.slice(connId.lastIndexOf(':') + 1)));
    try {
      this.probe.updateMap('muted_conns', key, Buffer.from([1]));
      // The kernel looks at muted_conns only when this changed (bpf/include/capture.h).
      this.muteGeneration = (this.muteGeneration + 1) >>> 0;
      const gen = Buffer.alloc(4);
      gen.writeUInt32LE(this.muteGeneration);
      this.probe.updateMap('mute_generation', Buffer.alloc(4), gen);
    } catch {
      this.muteFailures++; // map full: the receiver still drops the chunks in user space
    }
  }

  /** The fd of one of the object's maps, for another object that shares it (the sendfile receiver's). */
  mapFd(map: string): number {
    return this.probe.mapFd(map);
  }

  /** Lets the sendfile receiver fill the kernel-side gaps of sendfile bodies from their files. */
  joinFileSends(files: FileSends): void {
    this.decoder.fileSends = files;
  }

  /** Attaches one of the object's on-demand uprobes (bpf/include/tls_capture.h). Throws with the reason. */
  attachUprobe(program: string, path: string, func: string, offset = 0): void {
    this.probe.attachUprobe(program, path, func, offset);
  }

  /** Delivers what the ring still holds, then detaches. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.probe.close();
    return this.closing;
  }

  stats(): Record<string, number> {
    const s: Record<string, number> = {
      records: this.decoder.stats.records,
      bytes: this.decoder.stats.payloadBytes,
      'connections.open': this.decoder.openConnections,
      'drops.malformed_records': this.decoder.stats.malformed,
      'tls.bytes': this.decoder.stats.tlsBytes,
      'drops.tls_ciphertext_after_binding': this.decoder.stats.tlsCiphertextDropped,
      'errors.processing': this.consumerErrors,
      'errors.mute_failed': this.muteFailures,
    };
    const counters = this.probe.counters();
    KERNEL_COUNTERS.forEach((name, i) => (s[name] = counters[i] ?? 0));
    // The sendfile receiver accounts for the bytes whose file it knew (read again, or its drops).
    s['drops.uncaptured_kernel_side_bytes'] = Math.max(0, s['drops.uncaptured_kernel_side_bytes']! - this.decoder.stats.kernelSideFromFiles);
    const addon = this.probe.stats();
    s['addon.waits_for_consumer'] = addon.waitsForConsumer;
    // Left in the ring when the consumer did not keep up with the drain at close.
    s['drops.unread_at_close'] = addon.unreadAtCloseRecords;
    s['drops.unread_at_close_bytes'] = addon.unreadAtCloseBytes;
    return s;
  }
}
