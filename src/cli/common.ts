/**
 * Shared CLI plumbing: error exits, JSON output, human formatting, progress bars, option parsers.
 * Commands stay thin: parse options, call the library, print.
 */
import * as path from 'node:path';
import * as fs from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import cliProgress from 'cli-progress';

/** An error whose message is the whole story (printed as one line, no stack). */
export class UserError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'UserError';
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, jsonReplacer, 2)}\n`);
}

/** JSON.stringify replacer: bigint as number when safe, typed arrays as arrays, Maps as objects. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(value) : String(value);
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return Array.from(value as unknown as ArrayLike<number>);
  if (value instanceof Map) return Object.fromEntries(value);
  if (typeof value === 'number' && !Number.isFinite(value)) return Number.isNaN(value) ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity';
  return value;
}

export function formatBytes(n: number | undefined): string {
  if (n === undefined) return '?';
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[u]}`;
}

export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}

/** Renders rows as an aligned text table (first row is the header). */
export function table(rows: (string | number)[][], align: ('l' | 'r')[] = []): string {
  const cells = rows.map((r) => r.map(String));
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells
    .map((r, ri) => {
      const line = r.map((c, i) => (align[i] === 'r' ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
      return ri === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
    })
    .join('\n');
}

/** True when progress and colour should be shown: a TTY on stderr and not --json. */
export function interactive(json?: boolean): boolean {
  return !json && Boolean(process.stderr.isTTY) && !process.env.CI;
}

export interface Progress {
  update(done: number, label?: string): void;
  stop(): void;
}

/** A progress bar on stderr when interactive; a no-op otherwise. */
export function progress(total: number, title: string, enabled: boolean): Progress {
  if (!enabled || total <= 0) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    { format: `${title} [{bar}] {value}/{total} {label}`, stream: process.stderr, hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { label: '' });
  return {
    update: (done, label = '') => bar.update(done, { label }),
    stop: () => bar.stop(),
  };
}

export interface StageProgress {
  /** Shows progress of `stage`: a new bar (with this total) whenever the stage changes. */
  update(stage: string, done: number, total: number, label?: string): void;
  /** Clears the current bar (a later update starts a new one). */
  stop(): void;
}

/**
 * Progress for library calls that report `(done, total)` as they go: a bar is created on the first
 * report, when its total is known, and replaced when the stage changes. A no-op when not `enabled`.
 */
export function stageProgress(enabled: boolean): StageProgress {
  let bar: Progress | undefined;
  let current: string | undefined;
  const stop = () => {
    bar?.stop();
    bar = undefined;
    current = undefined;
  };
  return {
    update(stage, done, total, label = '') {
      if (stage !== current) {
        stop();
        bar = progress(total, stage, enabled);
        current = stage;
      }
      bar!.update(Math.min(done, total), label);
    },
    stop,
  };
}

// ---- option parsers (commander) --------------------------------------------------------------

export function parseIntOption(min = 0) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer ≥ ${min}, got '${v}'`);
    return n;
  };
}

export function parseFloatOption(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`expected a number, got '${v}'`);
  return n;
}

export function parseIntList(v: string): number[] {
  const parts = v.split(',').map((s) => s.trim()).filter(Boolean);
  const nums = parts.map(Number);
  if (!parts.length || nums.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new InvalidArgumentError(`expected a comma-separated list of positive integers, got '${v}'`);
  }
  return nums;
}

export function parseChoice<T extends string>(choices: readonly T[]) {
  return (v: string): T => {
    if (!choices.includes(v as T)) throw new InvalidArgumentError(`expected one of ${choices.join(', ')}, got '${v}'`);
    return v as T;
  };
}

/** Collects a repeatable option into a list. */
export function collect<T = string>(parse: (v: string) => T = (v) => v as unknown as T) {
  return (v: string, prev: T[] | undefined): T[] => [...(prev ?? []), parse(v)];
}

/** `NAME=VALUE` pairs of a repeatable option. */
export function parseAssignment(v: string): [string, string] {
  const i = v.indexOf('=');
  if (i <= 0) throw new InvalidArgumentError(`expected NAME=VALUE, got '${v}'`);
  return [v.slice(0, i), v.slice(i + 1)];
}

/** An existing file (or folder) given on the command line; a missing one is a one-line error. */
export function requirePath(p: string, what = 'file'): string {
  if (!fs.existsSync(p)) throw new UserError(`${p}: no such ${what}`);
  return p;
}

/** Refuses to write an output over one of the inputs (inputs are never overwritten). */
export function assertNotInput(output: string, ...inputs: string[]): void {
  const out = path.resolve(output);
  for (const i of inputs) {
    if (path.resolve(i) === out) throw new UserError(`${output}: the output would overwrite an input; choose another path`);
  }
}

/** Adds the usage example shown at the end of `--help`. */
export function withExamples(cmd: Command, ...examples: string[]): Command {
  return cmd.addHelpText('after', `\nExamples:\n${examples.map((e) => `  $ ${e}`).join('\n')}\n`);
}
