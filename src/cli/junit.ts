import type { CheckResult } from '../warehouse/contract-test.js';

/**
 * The results of `herald contract test` as a JUnit XML report, the format CI servers (GitHub
 * Actions reporters, GitLab, Jenkins) show as tests: one `<testsuite>` per contract, one
 * `<testcase>` per check named `check column`, a `<failure>` for a failed check and an `<error>`
 * for one that could not be measured, each with the result's message. Every attribute and text is
 * escaped, and characters XML 1.0 cannot carry are dropped, so any contract or column name
 * yields a well-formed document.
 */
export function contractTestJunit(results: readonly CheckResult[], timestamp = new Date()): string {
  const suites = new Map<string, CheckResult[]>();
  for (const r of results) suites.set(r.contract, [...(suites.get(r.contract) ?? []), r]);
  const count = (list: readonly CheckResult[], status: CheckResult['status']): number => list.filter((r) => r.status === status).length;
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="herald contract test" tests="${results.length}" failures="${count(results, 'fail')}" errors="${count(results, 'error')}">`,
  ];
  for (const [contract, list] of suites) {
    lines.push(
      `  <testsuite name="${attr(contract)}" tests="${list.length}" failures="${count(list, 'fail')}" errors="${count(list, 'error')}" ` +
        `skipped="0" timestamp="${timestamp.toISOString().slice(0, 19)}">`,
    );
    for (const r of list) {
      const name = r.column === undefined ? r.check : `${r.check} ${r.column}`;
      const open = `    <testcase classname="${attr(`${contract}.${r.table}`)}" name="${attr(name)}"`;
      if (r.status === 'pass') {
        lines.push(`${open}/>`);
        continue;
      }
      const tag = r.status === 'fail' ? 'failure' : 'error';
      const detail = `observed: ${r.observed ?? '-'}\nexpected: ${r.expected}\n${r.message}`;
      lines.push(
        `${open}>`,
        `      <${tag} message="${attr(r.message)}" type="${attr(r.check)}">${text(detail)}</${tag}>`,
        '    </testcase>',
      );
    }
    lines.push('  </testsuite>');
  }
  lines.push('</testsuites>');
  return lines.join('\n') + '\n';
}

// Characters outside XML 1.0's Char production (most C0 controls, lone surrogates, U+FFFE/U+FFFF).
// eslint-disable-next-line no-control-regex
const NOT_XML = /[^\u0009\u000A\u000D\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

function text(value: string): string {
  return value.replace(NOT_XML, '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function attr(value: string): string {
  // Newlines and tabs in attributes would be normalised to spaces by parsers; keep them as references.
  return text(value).replace(/"/g, '&quot;').replace(/'/g, '&apos;').replace(/\n/g, '&#10;').replace(/\r/g, '&#13;').replace(/\t/g, '&#9;');
}
