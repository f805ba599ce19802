import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

/** Where the servers under test run, and where wrk runs. */
export const SERVER_CPU = 0;
export const LOAD_CPU = 1;

// taskset comes with util-linux; without it, or on one CPU, nothing is pinned.
const canPin = availableParallelism() >= 2 && spawnSync('taskset', ['--version']).status === 0;

/**
 * The command and arguments that run `command` on one CPU with `taskset`, when the machine
 * has two or more. Every server under test (ipgate and the bare app alike) gets CPU 0 and
 * wrk gets CPU 1, so that no side of a pair shares its core with the load generator
 * or is moved between cores by the scheduler.
 */
export function onCpu(cpu: number, command: string, args: readonly string[]): [string, string[]] {
  return canPin ? ['taskset', ['-c', String(cpu), command, ...args]] : [command, [...args]];
}

/** Says how processes were placed, for the report. */
export function placement(): string {
  return canPin
    ? `servers under test on CPU ${SERVER_CPU}, wrk on CPU ${LOAD_CPU} (taskset)`
    : 'not pinned (one CPU, or no taskset)';
}
