import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

/**
 * `pnpm bench --profile` loads this into every service through
 * `NODE_OPTIONS=--require …` (Node refuses `--cpu-prof` there). It profiles only the
 * Mezite services (not the stack supervisor or a CLI that inherits the variable), one
 * benchmark phase at a time: each SIGUSR2 from the benchmark starts or stops sampling,
 * and a stop writes `CPU.<pid>.<service>.<n>.cpuprofile` (n counts the phases), so
 * start-up, migrations and the gaps between phases stay out. An in-thread inspector
 * session answers synchronously, so a profile still running at exit is written too.
 */
const dir = process.env.MEZITE_BENCH_PROFILE_DIR;
const service = /\/services\/([^/]+)\/dist\/main\.js$/.exec(process.argv[1] ?? '')?.[1];
if (dir && service) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 500 });
  let running = false;
  let n = 0;
  const stop = () => {
    running = false;
    const seq = n++;
    session.post('Profiler.stop', (err, res) => {
      if (!err) writeFileSync(join(dir, `CPU.${process.pid}.${service}.${seq}.cpuprofile`), JSON.stringify(res.profile));
    });
  };
  process.on('SIGUSR2', () => {
    if (running) return stop();
    running = true;
    session.post('Profiler.start');
  });
  process.on('exit', () => {
    if (running) stop();
  });
}
