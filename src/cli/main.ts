#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { UserError } from './common.js';
import { VERSION } from '../version.js';
import { register as inspect } from './commands/inspect.js';
import { register as run } from './commands/run.js';
import { register as test } from './commands/test.js';
import { register as demo } from './commands/demo.js';
import { register as serve } from './commands/serve.js';
import { register as convert } from './commands/convert.js';
import { register as optimize } from './commands/optimize.js';
import { register as validate } from './commands/validate.js';
import { register as bench } from './commands/bench.js';
import { register as quantize } from './commands/quantize.js';
import { register as ship } from './commands/ship.js';

export function buildProgram(): Command {
  const program = new Command('modelship')
    .description('Take a trained model to production: convert, inspect, optimize, quantize, validate, bench, ship and serve ONNX models.')
    .version(VERSION)
    .showHelpAfterError('(add --help for usage)')
    .configureOutput({ outputError: (str, write) => write(`modelship: ${str.replace(/^error: /, '')}`) });
  for (const register of [demo, ship, convert, inspect, optimize, quantize, validate, bench, run, test, serve]) register(program);
  return program;
}

async function main(): Promise<void> {
  const program = buildProgram();
  program.exitOverride();
  try {
    await program.parseAsync(process.argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version exit 0; usage errors were already printed by commander.
      process.exitCode = e.exitCode;
      return;
    }
    const err = e as Error;
    const message = (err.message || String(err)).split('\n')[0];
    process.stderr.write(`modelship: error: ${message}\n`);
    if (process.env.MODELSHIP_DEBUG && !(err instanceof UserError)) process.stderr.write(`${err.stack}\n`);
    process.exitCode = err instanceof UserError ? err.exitCode : 1;
  }
}

await main();
