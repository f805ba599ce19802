import { describe, expect, it } from 'vitest';
import { explainVerdict, judgeAudit } from '../scripts/audit.js';

// Reports in the shape `npm audit --omit=dev --json` prints (audit report format 2).
const FINDINGS = JSON.stringify({
  auditReportVersion: 2,
  vulnerabilities: {
    ip: {
      name: 'ip',
      severity: 'high',
      isDirect: false,
      via: [
        {
          source: 1101851,
          name: 'ip',
          dependency: 'ip',
          title: 'ip SSRF improper categorization in isPublic',
          url: 'https://github.com/advisories/GHSA-2p57-rm9w-gvfp',
          severity: 'high',
          range: '<=2.0.1',
        },
      ],
      effects: ['socks'],
      range: '<=2.0.1',
      nodes: ['node_modules/ip'],
      fixAvailable: false,
    },
    socks: {
      name: 'socks',
      severity: 'moderate',
      isDirect: true,
      via: ['ip'],
      effects: [],
      range: '1.0.0 - 2.7.1',
      nodes: ['node_modules/socks'],
      fixAvailable: { name: 'socks', version: '2.8.3', isSemVerMajor: false },
    },
  },
  metadata: {
    vulnerabilities: { info: 0, low: 0, moderate: 1, high: 1, critical: 0, total: 2 },
    dependencies: { prod: 12, dev: 0, optional: 0, peer: 0, peerOptional: 0, total: 11 },
  },
});

const CLEAN = JSON.stringify({
  auditReportVersion: 2,
  vulnerabilities: {},
  metadata: {
    vulnerabilities: { info: 0, low: 0, moderate: 0, high: 0, critical: 0, total: 0 },
    dependencies: { prod: 12, dev: 0, optional: 0, peer: 0, peerOptional: 0, total: 11 },
  },
});

// What npm prints when the registry does not serve the advisory endpoint.
const UNANSWERED = JSON.stringify({
  message:
    '405 Method Not Allowed - POST https://registry.npmjs.org/-/npm/v1/security/advisories/bulk',
  method: 'POST',
  uri: 'https://registry.npmjs.org/-/npm/v1/security/advisories/bulk',
  statusCode: 405,
  body: '',
  error: { summary: '', detail: '' },
});

describe('the production dependency audit', () => {
  it('fails on a high finding and names the package, its advisory and the lower findings', () => {
    const verdict = judgeAudit(FINDINGS);
    const { lines, exitCode } = explainVerdict(verdict);
    expect(exitCode).toBe(1);
    expect(lines).toEqual([
      'npm audit (production dependencies): 1 high or critical, 1 lower',
      '  high     ip: ip SSRF improper categorization in isPublic (https://github.com/advisories/GHSA-2p57-rm9w-gvfp) (no fix yet)',
      '  moderate socks: through ip',
    ]);
  });

  it('fails on a critical finding as well', () => {
    const report = JSON.parse(FINDINGS) as { vulnerabilities: { ip: { severity: string } } };
    report.vulnerabilities.ip.severity = 'critical';
    expect(explainVerdict(judgeAudit(JSON.stringify(report))).exitCode).toBe(1);
  });

  it('passes when only lower findings remain, and lists them', () => {
    const report = JSON.parse(FINDINGS) as { vulnerabilities: Record<string, unknown> };
    delete report.vulnerabilities.ip;
    const { lines, exitCode } = explainVerdict(judgeAudit(JSON.stringify(report)));
    expect(exitCode).toBe(0);
    expect(lines).toEqual([
      'npm audit (production dependencies): 0 high or critical, 1 lower',
      '  moderate socks: through ip',
    ]);
  });

  it('passes a clean report', () => {
    expect(explainVerdict(judgeAudit(CLEAN))).toEqual({
      lines: ['npm audit (production dependencies): 0 high or critical, 0 lower'],
      exitCode: 0,
    });
  });

  it('warns, without passing or failing, when the registry gives no report', () => {
    const verdict = judgeAudit(UNANSWERED);
    expect(verdict).toEqual({
      kind: 'unanswered',
      reason:
        '405 Method Not Allowed - POST https://registry.npmjs.org/-/npm/v1/security/advisories/bulk',
    });
    const { lines, exitCode } = explainVerdict(verdict);
    expect(exitCode).toBe(0);
    expect(lines[0]).toMatch(/^WARNING: npm audit got no report/);
  });

  it('refuses output that is neither a report nor a failed request', () => {
    expect(() => judgeAudit('npm ERR! something')).toThrow('npm audit printed no JSON');
    expect(() => judgeAudit('{"hello":1}')).toThrow('npm audit printed an unexpected report');
  });
});
