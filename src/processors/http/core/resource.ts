// Resource of a traced process, built once per pid and shared by all its spans.
//
// process.command_line is exported only when asked for (command_line): argv routinely carries
// tokens (`curl -H "Authorization: …"`, `-u user:pass`, `PGPASSWORD=…`), so by default it stays
// on the host; when asked for, each argument is redacted here with the redaction rules' defaults
// (the redaction processor re-applies its own policy), so no pipeline exports it raw.

import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename } from 'node:path';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { Resource } from '../../../core/types';
import { redactArgs } from '../../../shared/command-line-redaction';
import { DEFAULT_POLICY } from '../../../shared/redaction-rules';
import { ATTR_HOST_NAME, ATTR_PROCESS_COMMAND_LINE, ATTR_PROCESS_EXECUTABLE_NAME, ATTR_PROCESS_PID } from '../../../shared/resource-attributes';

export const RESOURCE_CACHE_MAX = 4096;

export interface ProcessEntry {
  resource: Resource;
  /** argv as read (raw: for span processors only, never exported). */
  args: readonly string[];
  /** From a process description; undefined when read from /proc. */
  startTimeNs?: number;
}

export class ResourceCache {
  private readonly cache = new Map<number, ProcessEntry>();
  private readonly host = hostname();

  constructor(
    private readonly serviceNames: Record<string, string>,
    /** Export process.command_line (redacted). */
    private readonly commandLine: boolean,
    /** Where /proc lives (tests point it at a fake tree). */
    private readonly procRoot = '/proc',
    private readonly max = RESOURCE_CACHE_MAX,
  ) {}

  get size(): number {
    return this.cache.size;
  }

  /** The resource and argv of `pid`, read from /proc once (comm is the fallback when the process is gone). */
  get(pid: number, comm: string): ProcessEntry {
    const hit = this.cache.get(pid);
    if (hit !== undefined) return hit;
    let args: string[] = [];
    try {
      args = readFileSync(`${this.procRoot}/${pid}/cmdline`, 'utf8').split('\0');
      while (args.length > 0 && args[args.length - 1] === '') args.pop();
    } catch {
      // process gone (or no permission): fall back to comm
    }
    let exe = '';
    try {
      exe = basename(readlinkSync(`${this.procRoot}/${pid}/exe`)).replace(/ \(deleted\)$/, '');
    } catch {
      if (args.length > 0) exe = basename(args[0]!);
    }
    const entry = { resource: this.build(pid, exe, args, comm), args };
    this.put(pid, entry);
    return entry;
  }

  /** Kernel start time of `pid` (ns since boot) when a receiver described it, else -1. */
  startTimeOf(pid: number): number {
    return this.cache.get(pid)?.startTimeNs ?? -1;
  }

  /**
   * A receiver's description of a live process: it replaces what the cache holds for the pid
   * unless it describes the same incarnation (so one process keeps one shared resource).
   */
  describe(pid: number, startTimeNs: number, exe: string, args: string[], comm: string): void {
    const hit = this.cache.get(pid);
    if (hit !== undefined && hit.startTimeNs === startTimeNs) return;
    const resource = this.build(pid, exe || (args.length > 0 ? basename(args[0]!) : ''), args, comm);
    this.cache.delete(pid);
    this.put(pid, { resource, args, startTimeNs });
  }

  private put(pid: number, e: ProcessEntry): void {
    if (this.cache.size >= this.max) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(pid, e);
  }

  private build(pid: number, exeName: string, args: string[], comm: string): Resource {
    const exe = exeName === '' ? comm : exeName;
    const service = this.serviceNames[exe] ?? this.serviceNames[comm] ?? exe;
    const attributes: Resource['attributes'] = {
      [ATTR_SERVICE_NAME]: service,
      [ATTR_PROCESS_PID]: pid,
      [ATTR_PROCESS_EXECUTABLE_NAME]: exe,
    };
    if (this.commandLine) attributes[ATTR_PROCESS_COMMAND_LINE] = args.length > 0 ? redactArgs(args, DEFAULT_POLICY).join(' ') : comm;
    attributes[ATTR_HOST_NAME] = this.host;
    return { attributes };
  }
}
