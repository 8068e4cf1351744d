// tcpsniff-collector's command line: run, validate, doctor, help, version.
// Errors meant for the user (ConfigError, UserError) are one clear line and a non-zero exit;
// anything else is a bug and prints its stack.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, ConfigErrors, UserError } from './core/component';
import { createLogger, type Level } from './core/logger';
import { builtinRegistry } from './components';
import { loadConfigFile, type CollectorConfig } from './config/loader';
import type { Registry } from './config/registry';
import { parseArgs, type Command } from './cli/args';
import { componentHelp, generalHelp } from './cli/help';
import { doctor } from './doctor';
import { Service } from './service';
import { formatSummary } from './summary';
import { SelfTelemetry } from './telemetry';

/** dist/src/cli.js → the package root. */
const PACKAGE_ROOT = path.resolve(__dirname, '..', '..');
const DEFAULT_CONFIG = path.join(PACKAGE_ROOT, 'config', 'default.yaml');
const EXIT_CONFIG = 2;

const out = (s: string) => process.stdout.write(s.endsWith('\n') ? s : s + '\n');
const err = (s: string) => process.stderr.write(s.endsWith('\n') ? s : s + '\n');

function version(): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function pipelineLine(cfg: CollectorConfig): string {
  return cfg.pipelines.map((p) => `${p.id}: ${[p.receivers.join('+'), ...p.processors, p.exporters.join('+')].join(' → ')}`).join('; ');
}

function validate(registry: Registry, file: string): number {
  const cfg = loadConfigFile(file, registry);
  for (const w of cfg.warnings) err(`warning: ${w}`);
  out(`OK: ${file}: ${cfg.pipelines.length} pipeline(s): ${pipelineLine(cfg)}`);
  return 0;
}

async function run(registry: Registry, file: string, logLevel: Level | undefined): Promise<number> {
  const cfg = loadConfigFile(file, registry);
  const logger = createLogger(logLevel ?? cfg.logLevel);
  for (const w of cfg.warnings) logger.warn(w);
  logger.info(`tcpsniff-collector ${version()} starting with ${file}`);

  const service = new Service(cfg, { logger });
  let signals = 0;
  let stopRequested!: () => void;
  const stopped = new Promise<void>((resolve) => (stopRequested = resolve));
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      logger.info(`${sig} received: shutting down (send it again to exit at once)`);
      stopRequested();
    } else {
      logger.warn(`${sig} received again: exiting without finishing the shutdown`);
      process.exit(130);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  // Self-telemetry listens before the receivers load: a busy port fails fast.
  const telemetry = new SelfTelemetry(cfg.telemetry, service, logger.child('telemetry'), version());
  try {
    await telemetry.start().catch(async (e) => {
      await service.shutdown(); // releases what the components acquired when created
      throw e;
    });
    // A signal during start() still gets a clean shutdown once start() settles.
    await service.start();
    telemetry.markReady();
    await stopped;
    const summary = await service.shutdown();
    for (const line of formatSummary(summary)) logger.info(line);
    return 0;
  } finally {
    await telemetry.stop();
  }
}

export async function main(argv: string[]): Promise<number> {
  let cmd: Command;
  const registry = builtinRegistry();
  let configFile = DEFAULT_CONFIG;
  try {
    cmd = parseArgs(argv);
    switch (cmd.name) {
      case 'version':
        out(`tcpsniff-collector ${version()} (node ${process.version})`);
        return 0;
      case 'help': {
        if (!cmd.topic) {
          out(generalHelp(registry, path.relative(process.cwd(), DEFAULT_CONFIG) || DEFAULT_CONFIG));
          return 0;
        }
        const text = componentHelp(registry, cmd.topic);
        if (!text) {
          const all = registry.factories().map((f) => f.type);
          err(`tcpsniff-collector: no component type ${JSON.stringify(cmd.topic)}; known types: ${all.join(', ')}`);
          return EXIT_CONFIG;
        }
        out(text);
        return 0;
      }
      case 'doctor': {
        const report = doctor();
        out(report.lines.join('\n'));
        if (!report.runnable) err('tcpsniff-collector: no receiver can run on this host (see above)');
        return report.runnable ? 0 : 1;
      }
      case 'validate':
        configFile = cmd.config ?? DEFAULT_CONFIG;
        return validate(registry, configFile);
      case 'run':
        configFile = cmd.config ?? DEFAULT_CONFIG;
        return await run(registry, configFile, cmd.logLevel);
    }
  } catch (e) {
    if (e instanceof ConfigError) {
      // YAML syntax and file errors already name the file; the rest name a path inside it. One line each.
      for (const one of e instanceof ConfigErrors ? e.errors : [e]) {
        err(one.path ? `tcpsniff-collector: invalid config ${configFile}: ${one.message}` : `tcpsniff-collector: ${one.message}`);
      }
      return EXIT_CONFIG;
    }
    if (e instanceof UserError) {
      err(`tcpsniff-collector: ${e.message}`);
      return e.exitCode;
    }
    err(`tcpsniff-collector: unexpected error (a bug; please report it with this output):\n${(e as Error).stack ?? String(e)}`);
    return 1;
  }
}

/** Entry point of bin/tcpsniff-collector. */
export function runCli(): void {
  main(process.argv.slice(2)).then(
    // Exit explicitly: gRPC channels or timers of a stopped component must not keep us alive.
    (code) => process.stdout.write('', () => process.exit(code)),
    (e: unknown) => {
      err(String((e as Error)?.stack ?? e));
      process.exit(1);
    },
  );
}

if (require.main === module) runCli();
