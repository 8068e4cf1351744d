// Encodes the tcp receiver's filters as entries of the kernel maps in bpf/include/filters.h.
import { parseCidr, parseTarget } from '../../shared/addresses';
import { pidFilter } from '../pid-filter';
import type { TcpReceiverConfig } from './config';

const ONE = Buffer.from([1]);

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

export function filterMaps(cfg: TcpReceiverConfig): {
  rodata: Record<string, number>;
  mapEntries: Record<string, Array<[Buffer, Buffer]>>;
} {
  const ports = [...new Set(cfg.ports)].map((p): [Buffer, Buffer] => {
    const k = Buffer.alloc(2);
    k.writeUInt16LE(p);
    return [k, ONE];
  });
  const addrs = cfg.addresses.map((a): [Buffer, Buffer] => {
    const { addr, prefix } = parseCidr(a)!;
    return [Buffer.concat([u32(prefix), addr]), ONE];
  });
  const targets = cfg.targets.map((t): [Buffer, Buffer] => {
    const { addr, port } = parseTarget(t)!;
    const k = Buffer.alloc(20);
    addr.copy(k, 0);
    k.writeUInt16LE(port, 16);
    return [k, ONE];
  });
  const pids = pidFilter(cfg.pids);
  return {
    rodata: {
      ...pids.rodata,
      filter_ports_on: ports.length ? 1 : 0,
      filter_addrs_on: addrs.length ? 1 : 0,
      filter_targets_on: targets.length ? 1 : 0,
    },
    mapEntries: { ...pids.mapEntries, filter_ports: ports, filter_addrs: addrs, filter_targets: targets },
  };
}
