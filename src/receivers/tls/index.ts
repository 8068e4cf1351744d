// TLS capture, part of the tcp receiver: hooks the TLS libraries' read/write functions with
// uprobes (bpf/include/tls_capture.h, loaded with the tcp receiver's programs), so the plaintext
// of TLS sessions reaches the pipeline as records of their TCP connections.
//
// Uprobes attach to files, for every process that maps them: each library file is hooked once
// (by device and inode), whichever process it was found in. Files are found in the system
// library directories and `library_paths` at start, in every running process's maps (through
// /proc/PID/root, so a container's own libssl is hooked), and in the maps of each program
// started later (exec is watched; its libraries are mapped by the dynamic loader just after).
import * as fs from 'node:fs';
import type { Logger } from '../../core/logger';
import { mayInspectProcesses } from '../privileges';
import type { TlsConfig } from './config';
import { ExecWatch } from './exec-watch';
import { fileIdentity, processCandidates, runningPids, systemCandidates, type TlsCandidate } from './discovery';
import { TLS_RUNTIMES, type TlsRuntime } from './runtimes';

/** Attaches one program of the receiver's loaded object to a function of a file; throws why not. */
export type UprobeAttacher = (program: string, file: string, func: string, offset?: number) => void;

/** After an exec, when to look at the new program's maps: the loader maps its libraries first. */
const EXEC_RESCAN_MS = [2, 20, 200, 1000, 3000];
const RESCAN_ALL_MS = 30_000;
/** Exec storms (build scripts) could queue thousands of scans: past this many, execs are skipped (counted). */
const MAX_PENDING_SCANS = 2000;

const PERMISSION = /Operation not permitted|Permission denied/;

export class TlsCapture {
  private readonly runtimes: TlsRuntime[];
  /** `dev:ino` of every file looked at: hooked, or not a TLS library. */
  private readonly files = new Map<string, boolean>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private execWatch?: ExecWatch;
  private rescan?: NodeJS.Timeout;
  private refused = false;
  private stopped = false;
  private readonly counts = { filesHooked: 0, filesFailed: 0, execs: 0, execsSkipped: 0, scansDenied: 0 };

  constructor(
    private readonly cfg: TlsConfig,
    private readonly attach: UprobeAttacher,
    private readonly logger: Logger,
    private readonly name: string,
  ) {
    this.runtimes = TLS_RUNTIMES.filter((r) => cfg.runtimes.includes(r.name));
  }

  /** Hooks what is there now and starts watching exec. Never throws: TLS capture is optional. */
  start(): void {
    if (!this.cfg.enable || this.runtimes.length === 0) return;
    for (const c of systemCandidates(this.runtimes)) this.consider(c);
    for (const file of this.cfg.library_paths) {
      if (!fs.existsSync(file)) this.logger.warn(`${this.name}: tls: library_paths: ${file} does not exist`);
      else this.consider({ runtime: this.runtimes[0]!, at: file, file });
    }
    if (this.refused) return;
    try {
      this.execWatch = new ExecWatch((pid) => this.onExec(pid));
    } catch (e) {
      this.logger.warn(
        `${this.name}: tls: cannot watch exec, programs started from now on with a TLS library not yet hooked are not captured: ${firstLine(e)}`,
      );
    }
    this.scanAll();
    // Libraries loaded later with dlopen, by processes already running.
    this.rescan = setInterval(() => this.scanAll(), RESCAN_ALL_MS);
    this.rescan.unref();
  }

  private scanAll(): void {
    for (const pid of runningPids()) this.scanProcess(pid);
  }

  private onExec(pid: number): void {
    if (this.stopped || this.refused || pid === process.pid) return;
    this.counts.execs++;
    if (this.timers.size >= MAX_PENDING_SCANS) {
      this.counts.execsSkipped++; // found later by the periodic rescan, if it still runs
      return;
    }
    for (const ms of EXEC_RESCAN_MS) {
      const t = setTimeout(() => {
        this.timers.delete(t);
        this.scanProcess(pid);
      }, ms);
      t.unref();
      this.timers.add(t);
    }
  }

  /** Hooks the TLS library files a process maps that are not hooked yet. */
  private scanProcess(pid: number): void {
    if (this.refused || this.stopped || pid === process.pid) return;
    const candidates = processCandidates(pid, this.runtimes);
    if (candidates === 'denied') return this.scanDenied(pid);
    for (const c of candidates) this.consider(c);
  }

  /** Said once: the libraries of processes it may not look into are hooked only if found elsewhere. */
  private scanDenied(pid: number): void {
    if (this.counts.scansDenied++ > 0) return;
    // With CAP_SYS_PTRACE, what remains closed is a process that is not dumpable or that a security module guards.
    if (mayInspectProcesses()) return this.logger.debug(`${this.name}: tls: cannot look into process ${pid} (not dumpable, or a security module)`);
    this.logger.warn(
      `${this.name}: tls: cannot read the memory maps of process ${pid} and others like it (reading another uid's or a more privileged ` +
        "process's /proc/PID/maps, exe and root needs CAP_SYS_PTRACE): their TLS libraries are hooked only when found in the system " +
        "library directories or library_paths — Node.js and Go executables and containers' own libraries in them are not captured",
    );
  }

  /** Hooks a file unless it was looked at before (by any path). */
  private consider(c: TlsCandidate): void {
    const key = fileIdentity(c.at);
    if (key === undefined || this.refused || this.files.has(key)) return;
    const hooked = this.hook(c.at, c.runtime);
    this.files.set(key, hooked);
    if (hooked) {
      this.counts.filesHooked++;
      this.logger.info(`${this.name}: tls: capturing ${c.runtime.label} in ${c.file}${c.at !== c.file ? ` (${c.at})` : ''}`);
    }
  }

  /** Attaches the runtime's hooks to one file: false when it is not that runtime or it failed. */
  private hook(file: string, runtime: TlsRuntime): boolean {
    const hooks = runtime.hooks(file);
    if (!hooks) return false; // not this runtime (a Go check said no)
    for (const h of hooks) {
      try {
        this.attach(h.program, file, h.func, h.offset);
      } catch (e) {
        const why = firstLine(e);
        if (PERMISSION.test(why)) {
          this.refused = true;
          this.logger.warn(
            `${this.name}: tls: TLS plaintext is not captured — creating uprobes is not permitted here (${why}; ` +
              'needs CAP_SYS_ADMIN); capturing TCP without it',
          );
          return false;
        }
        if (h.optional) continue;
        // Not this runtime (a file with a matching name but no such symbol), or unreadable.
        this.counts.filesFailed++;
        this.logger.debug(`${this.name}: tls: ${file}: cannot hook ${h.func}: ${why}`);
        return false;
      }
    }
    return true;
  }

  stats(): Record<string, number> {
    return {
      'tls.files_hooked': this.counts.filesHooked,
      'tls.files_failed': this.counts.filesFailed,
      'tls.execs_seen': this.counts.execs,
      'tls.process_scans_denied': this.counts.scansDenied,
      'drops.tls_exec_scans_skipped': this.counts.execsSkipped,
      'drops.tls_exec_events_lost': this.execWatch?.lost ?? 0,
    };
  }

  async shutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.rescan);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await this.execWatch?.close();
  }
}

const firstLine = (e: unknown) => ((e as Error)?.message ?? String(e)).split('\n')[0] ?? '';
