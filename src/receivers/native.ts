// Loads the N-API addon (native/, built by `npm run setup`).
import * as fs from 'node:fs';
import * as os from 'node:os';
import { UserError } from '../core/component';
import { fromRoot } from '../core/paths';

export interface NativeProbe {
  /** Loads and attaches; returns the names of the attached programs. Throws with libbpf's reasons. */
  open(objectPath: string, options: ProbeOpenOptions): string[];
  /** Starts the drain thread; onBatch gets one Buffer per batch, valid only during the call. Not for an object that writes into another's ring (reuseMaps.events). */
  start(onBatch: (batch: Buffer, records: number) => void): void;
  /** Writes one map entry of the loaded object (e.g. muted_conns). Throws on error. */
  updateMap(map: string, key: Buffer, value: Buffer): void;
  /** The fd of a map of the loaded object, for another object's reuseMaps. Throws when there is none. */
  mapFd(map: string): number;
  /** Attaches a program of a plain uprobe/uretprobe section to func (+ offset bytes) in the ELF file at path, for every process; func "": offset is in the file. Throws with the reason. */
  attachUprobe(program: string, path: string, func: string, offset?: number): void;
  /** Kernel counters (bpf/include/record.h enum counter_index), summed over CPUs. */
  counters(): number[];
  stats(): { records: number; bytes: number; batches: number; waitsForConsumer: number; unreadAtCloseRecords: number; unreadAtCloseBytes: number };
  /** Delivers what the ring still holds, stops the thread, detaches everything. */
  close(): Promise<void>;
}

export interface ProbeOpenOptions {
  rodata?: Record<string, number>;
  mapSizes?: Record<string, number>;
  mapEntries?: Record<string, Array<[Buffer, Buffer]>>;
  /** Maps shared with another loaded object: map name → that object's fd (mapFd). */
  reuseMaps?: Record<string, number>;
  skipPrograms?: string[];
  batchBytes?: number;
  batchCount?: number;
  flushMs?: number;
}

interface Addon {
  Probe: new () => NativeProbe;
  /** Loads and attaches one program alone, then detaches: '' when allowed, else why not. */
  tryProgram(objectPath: string, program: string, uprobePath: string, uprobeFunc: string): string;
  /** The kernel record format the addon and the BPF objects are built with (bpf/include/record.h). */
  recordVersion: number;
  recordHeaderBytes: number;
  recordChunkBytes: number;
}

let addon: Addon | undefined;

export function loadAddon(): Addon {
  if (addon) return addon;
  const file = fromRoot('build', 'Release', 'tcpsniff.node');
  if (!fs.existsSync(file)) throw new UserError(`the native addon is not built (${file}); run 'npm run setup'`);
  addon = require(file) as Addon;
  return addon;
}

/** Kernels before 5.17 lack bpf_loop: they get the legacy build of each program (bpf/Makefile). */
export function kernelHasBpfLoop(release = os.release()): boolean {
  const [major = 0, minor = 0] = release.split(/[.-]/).map(Number);
  return major > 5 || (major === 5 && minor >= 17);
}

export function bpfObjectPath(name: string): string {
  const variant = kernelHasBpfLoop() ? name : `${name}.legacy`;
  const file = fromRoot('dist', 'bpf', `${variant}.bpf.o`);
  if (!fs.existsSync(file)) throw new UserError(`the BPF object ${file} is not built; run 'npm run setup'`);
  return file;
}
