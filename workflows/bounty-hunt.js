export const meta = {
  name: 'bounty-hunt',
  description: 'Hunt for security vulnerabilities in parallel by focus (injection, auth, crypto, business logic), verify each, and report deduplicated findings.',
  whenToUse: 'Before a release or after a risky change, to look for exploitable bugs. Args: a scope string, or {scope, focuses}.',
  phases: ['Hunt', 'Verify', 'Report'],
};

// args: scope as a string, or {scope, focuses?: [..]}
const scope = (typeof args === 'string' ? args : args && args.scope) || 'this project';
const focuses = (args && args.focuses) || [
  ['injection', 'SQL, shell, template, path and header injection; unsafe deserialisation; SSRF'],
  ['auth', 'authentication bypass, missing authorisation checks, session and token handling, IDOR'],
  ['crypto', 'weak or misused cryptography, hard-coded keys and secrets, bad randomness, TLS verification'],
  ['business logic', 'state machine abuse, race conditions (TOCTOU), integer overflow in amounts, limits that can be bypassed'],
];

const findings = {
  type: 'object',
  properties: {
    findings: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          title: { type: 'string' },
          location: { type: 'string' },
          severity: { type: 'string', enum: ['critical', 'high', 'medium', 'low'] },
          exploit: { type: 'string' },
          fix: { type: 'string' },
        },
        required: ['title', 'location', 'severity', 'exploit'],
      },
    },
  },
  required: ['findings'],
};

phase('Hunt');
const hunts = await parallel(focuses.map(([focus, what]) => () => agent(
  `You are a security researcher hunting ${focus} vulnerabilities in ${scope}: ${what}.\n\n` +
  `Trace untrusted input to where it is used. Report only issues with a concrete exploit path ` +
  `(input → code path with file:line → impact). No theoretical or style issues.`,
  { label: `hunt: ${focus}`, agentType: 'Explore', schema: findings },
)));

const raw = [];
hunts.forEach((h, i) => {
  if (!h) { log(`the ${focuses[i][0]} hunt failed`); return; }
  for (const f of h.findings) raw.push({ ...f, focus: focuses[i][0] });
});
log(`${raw.length} candidate findings`);

phase('Verify');
const checked = await pipeline(
  raw,
  (f) => agent(
    `Verify this reported vulnerability by reading the code. Is the exploit path real, and is ` +
    `the severity right?\n\n${JSON.stringify(f, null, 2)}`,
    {
      label: `verify: ${f.title}`,
      agentType: 'Explore',
      schema: {
        type: 'object',
        properties: {
          real: { type: 'boolean' },
          severity: { type: 'string', enum: ['critical', 'high', 'medium', 'low'] },
          note: { type: 'string' },
        },
        required: ['real', 'severity'],
      },
    },
  ),
  (verdict, f) => (verdict.real ? { ...f, severity: verdict.severity, note: verdict.note } : null),
);
const confirmed = checked.filter(Boolean);

phase('Report');
if (confirmed.length === 0) return `No confirmed vulnerabilities in ${scope}.`;
const merged = await agent(
  `Deduplicate these confirmed vulnerabilities (the same root cause reported under different ` +
  `focuses is one finding; keep every location) and order them by severity.\n\n` +
  JSON.stringify(confirmed, null, 2),
  { label: 'deduplicate', agentType: 'Explore', schema: findings },
);
return merged.findings;
