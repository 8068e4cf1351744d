// Preloaded into the collector by the harness (node --require): starts the V8 CPU profiler on
// SIGUSR2 (sent once the collector is `ready`) and writes the profile on exit to
// $TCPSNIFF_BENCH_CPUPROF. The profile then holds the steady state only, not the start-up (BPF
// loading and attaching). `node --cpu-prof` works too since the loader holds SIGPROF back while
// the verifier runs (native/probe.cc); before that, its sampling made every load fail with EAGAIN.
import * as fs from 'node:fs';
import * as inspector from 'node:inspector';

const out = process.env.TCPSNIFF_BENCH_CPUPROF;
if (out) {
  const session = new inspector.Session();
  session.connect();
  let started = false;
  process.on('SIGUSR2', () => {
    if (started) return;
    started = true;
    session.post('Profiler.enable', () => session.post('Profiler.start'));
  });
  process.on('exit', () => {
    if (!started) return;
    // An in-process session answers synchronously.
    session.post('Profiler.stop', (err, res) => {
      if (!err && res) fs.writeFileSync(out, JSON.stringify(res.profile));
    });
  });
}
