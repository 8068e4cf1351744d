// Tells the tls capture about each exec on the host (bpf/exec_watch.bpf.c), so the TLS library
// files of programs started after the collector get hooked too.
import { bpfObjectPath, loadAddon, type NativeProbe } from '../native';
import { REC_HDR } from '../record';

const REC_EXEC = 7; // enum rec_kind, bpf/include/record.h

export class ExecWatch {
  private readonly probe: NativeProbe;
  private closing?: Promise<void>;

  /** Loads and attaches; throws with libbpf's reasons. */
  constructor(onExec: (pid: number) => void) {
    const { Probe } = loadAddon();
    this.probe = new Probe();
    this.probe.open(bpfObjectPath('exec_watch'), { batchBytes: 64 << 10, batchCount: 4, flushMs: 10 });
    this.probe.start((batch) => {
      // [u32 length][u32 reserved][record][padding to 8]; the record is a bare rec_hdr.
      for (let pos = 0; pos + 8 + 12 <= batch.length;) {
        const size = batch.readUInt32LE(pos);
        const rec = pos + 8;
        if (rec + size > batch.length) break;
        if (batch[rec + REC_HDR.kind] === REC_EXEC) onExec(batch.readUInt32LE(rec + REC_HDR.pid));
        pos = rec + Math.ceil(size / 8) * 8;
      }
    });
  }

  /** Exec records the kernel could not queue (ring full). */
  get lost(): number {
    return this.probe.counters()[0] ?? 0;
  }

  close(): Promise<void> {
    this.closing ??= this.probe.close();
    return this.closing;
  }
}
