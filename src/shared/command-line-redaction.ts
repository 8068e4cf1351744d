// Command lines carry secrets: `-H "Authorization: Bearer …"`, `-u user:pass`, URLs with
// userinfo or `?api_key=…`, `--token x`, `PGPASSWORD=… cmd`, `-d '{"password": …}'`, and whole
// scripts (`sh -c '…'`) holding all of these. Every argument goes through the rules headers, URLs
// and bodies use (the policy); this file only knows where in an argv those values sit.

import { redactUrl } from './url-redaction';
import { REDACTED, redactText, type RedactionPolicy } from './redaction-rules';

/** Flags whose value is `user[:password]` (curl, wget). */
const USER_FLAGS = new Set(['-u', '--user', '-U', '--proxy-user']);
/** Flags whose value is a header field (curl, wget). */
const HEADER_FLAGS = ['--proxy-header', '--header', '-H'];
/** Option and variable names that carry secrets on command lines, besides secret header / body-field names. */
const SECRET_WORD = /key|token|secret|passw|credential/i;
const ENV_ASSIGNMENT = /^([A-Za-z_][A-Za-z0-9_]*)=([^]*)$/;
const LONG_OPTION = /^(--?[A-Za-z][\w.-]*)=([^]*)$/;
const HEADER_FIELD = /^([A-Za-z][\w!#$%&'*+.^`|~-]*):([ \t]*)([^]*)$/;

/** What the next word of the argv (or of a script) is, after the one just read. */
type Expect = 'nothing' | 'secret' | 'userinfo' | { headerValueUpTo: string };

/** Redacts an argv; the result has one string per argument. */
export function redactArgs(args: readonly string[], policy: RedactionPolicy): string[] {
  let expect: Expect = 'nothing';
  return args.map((arg) => {
    const r = redactWord(arg, expect, policy);
    expect = r.expect;
    // An argument with spaces that is no option, assignment or header is a script (`sh -c '…'`).
    return r.plain && /\s/.test(arg) ? redactScript(arg, policy) : r.word;
  });
}

/** A command line as one string (argv joined by spaces): its words are redacted like an argv's. */
export const redactCommandLine = (cmd: string, policy: RedactionPolicy): string => redactScript(cmd, policy);

/**
 * A script: secrets in JSON, forms and auth schemes across words first, then each
 * whitespace-separated word as an argument, its quotes set aside.
 */
function redactScript(text: string, policy: RedactionPolicy): string {
  const parts = redactText(text, policy).text.split(/(\s+)/);
  let expect: Expect = 'nothing';
  for (let i = 0; i < parts.length; i += 2) {
    const word = parts[i]!;
    if (word === '') continue;
    if (typeof expect === 'object') {
      // Inside a quoted header value: every word up to the closing quote is the value.
      const closes = word.endsWith(expect.headerValueUpTo);
      parts[i] = REDACTED + (closes ? expect.headerValueUpTo : '');
      if (closes) expect = 'nothing';
      continue;
    }
    const lead = /^['"]+/.exec(word)?.[0] ?? '';
    const trail = /['"]+$/.exec(word.slice(lead.length))?.[0] ?? '';
    const core = word.slice(lead.length, word.length - trail.length);
    const r = redactWord(core, expect, policy, lead.slice(-1));
    expect = r.expect;
    if (r.word !== core) parts[i] = lead + r.word + trail;
  }
  return parts.join('');
}

interface Word {
  word: string;
  expect: Expect;
  /** No rule for options, assignments or headers applied: only the value rules. */
  plain?: boolean;
}

/**
 * One argument (or one word of a script, `quote` being the quote it opened with): its redacted
 * text, and what the next one is.
 */
function redactWord(word: string, expect: Expect, policy: RedactionPolicy, quote = ''): Word {
  const secretName = (name: string) => SECRET_WORD.test(name) || policy.header(name) || policy.bodyKey(name);
  const userinfo = (v: string) => (v.includes(':') ? REDACTED : v); // `-u user` alone is no secret (`python -u app.py` no user)
  if (expect === 'secret' && !word.startsWith('-')) return { word: REDACTED, expect: 'nothing' };
  if (expect === 'userinfo') return { word: userinfo(word), expect: 'nothing' };
  if (USER_FLAGS.has(word)) return { word, expect: 'userinfo' };
  for (const flag of HEADER_FLAGS) {
    const glued = word.startsWith(`${flag}=`) ? flag.length + 1 : flag === '-H' && word.length > 2 && word.startsWith(flag) ? 2 : 0;
    if (glued > 0) return { word: word.slice(0, glued) + redactHeaderField(word.slice(glued), policy), expect: 'nothing' };
  }
  if (/^-[uU][^-]/.test(word)) return { word: word.slice(0, 2) + userinfo(word.slice(2)), expect: 'nothing' };
  const option = LONG_OPTION.exec(word);
  if (option !== null) {
    const [, flag, value] = option as unknown as [string, string, string];
    if (USER_FLAGS.has(flag)) return { word: `${flag}=${userinfo(value)}`, expect: 'nothing' };
    return { word: `${flag}=${secretName(flag.replace(/^-+/, '')) ? REDACTED : redactValue(value, policy)}`, expect: 'nothing' };
  }
  if (/^--[A-Za-z][\w.-]*$/.test(word)) return { word, expect: secretName(word.slice(2)) ? 'secret' : 'nothing' };
  const env = ENV_ASSIGNMENT.exec(word);
  if (env !== null && secretName(env[1]!)) return { word: `${env[1]}=${REDACTED}`, expect: 'nothing' };
  const header = HEADER_FIELD.exec(word);
  if (header !== null && policy.header(header[1]!)) {
    // `"Authorization: Bearer x"` split into script words: the value runs to the closing quote.
    if (header[3] === '') return { word, expect: quote === '' ? 'nothing' : { headerValueUpTo: quote } };
    return { word: `${header[1]}:${header[2]}${REDACTED}`, expect: 'nothing' };
  }
  return { word: redactValue(word, policy), expect: 'nothing', plain: true };
}

/** `Name: value` after -H: the value goes when the name is a secret header. */
function redactHeaderField(field: string, policy: RedactionPolicy): string {
  const h = HEADER_FIELD.exec(field);
  if (h !== null && policy.header(h[1]!)) return `${h[1]}:${h[2]}${h[3] === '' ? '' : REDACTED}`;
  return redactValue(field, policy);
}

/** Any other value: URLs (userinfo, credential parameters), then JSON, forms and auth schemes. */
function redactValue(value: string, policy: RedactionPolicy): string {
  const urls = value.includes('://') ? value.replace(/[A-Za-z][\w+.-]*:\/\/[^\s"'<>]+/g, (u) => redactUrl(u, policy.queryParam)) : value;
  return redactText(urls, policy).text;
}
