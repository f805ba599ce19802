/**
 * Production dependencies must carry no high or critical advisory. Runs
 * `npm audit --omit=dev --json` and judges its report:
 *
 *   exit 0  no high or critical finding (lower ones are listed), or the registry's advisory
 *           service gave no report at all: said loudly, not taken as a pass
 *   exit 1  high or critical findings, each named with its advisory
 *
 *   npx tsx scripts/audit.ts       # .ci/run runs it after the tests
 */
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';

/** The severities that fail the check. */
export const BLOCKING = ['high', 'critical'] as const;

/** One vulnerable package of an npm audit report (format 2, npm 7 and later). */
export interface Finding {
  readonly name: string;
  readonly severity: string;
  /** The advisories' titles and addresses, or the packages it is vulnerable through. */
  readonly via: readonly string[];
  readonly fixAvailable: boolean;
}

/** What a report says: findings to judge, or no report because the registry did not answer. */
export type AuditVerdict =
  | { readonly kind: 'report'; readonly blocking: Finding[]; readonly other: Finding[] }
  | { readonly kind: 'unanswered'; readonly reason: string };

interface ReportVia {
  title?: unknown;
  url?: unknown;
}

interface ReportEntry {
  name?: unknown;
  severity?: unknown;
  via?: unknown;
  fixAvailable?: unknown;
}

/** Judges the JSON text `npm audit --json` printed. Throws on text that is neither kind. */
export function judgeAudit(json: string): AuditVerdict {
  let report: unknown;
  try {
    report = JSON.parse(json);
  } catch {
    throw new Error(`npm audit printed no JSON: ${json.slice(0, 200)}`);
  }
  if (typeof report !== 'object' || report === null) {
    throw new Error(`npm audit printed an unexpected report: ${json.slice(0, 200)}`);
  }
  const { vulnerabilities, message, error } = report as Record<string, unknown>;
  if (typeof vulnerabilities === 'object' && vulnerabilities !== null) {
    const findings = Object.values(vulnerabilities as Record<string, ReportEntry>).map(finding);
    const blocks = (f: Finding) => (BLOCKING as readonly string[]).includes(f.severity);
    return {
      kind: 'report',
      blocking: findings.filter(blocks),
      other: findings.filter((f) => !blocks(f)),
    };
  }
  // npm prints the failed request instead of a report: { message, statusCode, … } (npm 9+)
  // or { error: { code, summary } } (older).
  if (typeof message === 'string') return { kind: 'unanswered', reason: message };
  if (typeof error === 'object' && error !== null) {
    const { code, summary } = error as Record<string, unknown>;
    return { kind: 'unanswered', reason: String(summary || code) };
  }
  throw new Error(`npm audit printed an unexpected report: ${json.slice(0, 200)}`);
}

function finding(entry: ReportEntry): Finding {
  const via = Array.isArray(entry.via) ? (entry.via as unknown[]) : [];
  return {
    name: String(entry.name),
    severity: String(entry.severity),
    via: via.map((item) =>
      typeof item === 'string' ? `through ${item}` : describeAdvisory(item as ReportVia),
    ),
    fixAvailable: entry.fixAvailable !== false,
  };
}

function describeAdvisory(via: ReportVia): string {
  const title = typeof via.title === 'string' ? via.title : 'advisory';
  return typeof via.url === 'string' ? `${title} (${via.url})` : title;
}

/** The lines printed for a verdict, and the exit code. */
export function explainVerdict(verdict: AuditVerdict): { lines: string[]; exitCode: number } {
  if (verdict.kind === 'unanswered') {
    return {
      lines: [
        'WARNING: npm audit got no report from the registry, so production dependencies were not',
        `checked for advisories: ${verdict.reason}`,
      ],
      exitCode: 0,
    };
  }
  const describe = (f: Finding) =>
    `  ${f.severity.padEnd(8)} ${f.name}: ${f.via.join('; ')}${f.fixAvailable ? '' : ' (no fix yet)'}`;
  const lines = [
    `npm audit (production dependencies): ${verdict.blocking.length} high or critical, ${verdict.other.length} lower`,
    ...verdict.blocking.map(describe),
    ...verdict.other.map(describe),
  ];
  return { lines, exitCode: verdict.blocking.length > 0 ? 1 : 0 };
}

function main(): number {
  const audit = spawnSync('npm', ['audit', '--omit=dev', '--json'], { encoding: 'utf8' });
  if (audit.error !== undefined) throw audit.error;
  const { lines, exitCode } = explainVerdict(judgeAudit(audit.stdout));
  for (const line of lines) console.log(line);
  return exitCode;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = main();
}
