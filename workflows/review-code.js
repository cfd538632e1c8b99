export const meta = {
  name: 'review-code',
  description: 'Review code for correctness, security and performance in parallel, then merge the findings into one severity-ranked report.',
  whenToUse: 'Reviewing a diff or a set of files before merging. Args: the target, or {target}.',
  phases: ['Review', 'Merge'],
};

// args: what to review (paths, a diff description, "the changes on this branch"), as a string
// or {target}
const target = (typeof args === 'string' ? args : args && args.target) ||
  'the uncommitted and most recent changes in this project';

const finding = {
  type: 'object',
  properties: {
    findings: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          severity: { type: 'string', enum: ['critical', 'high', 'medium', 'low'] },
          location: { type: 'string' },
          title: { type: 'string' },
          detail: { type: 'string' },
          fix: { type: 'string' },
        },
        required: ['severity', 'location', 'title', 'detail'],
      },
    },
  },
  required: ['findings'],
};

const lenses = [
  ['correctness', 'logic errors, wrong edge cases, broken error handling, races, resource leaks, API misuse, and missing tests for changed behaviour'],
  ['security', 'injection, path traversal, unsafe deserialisation, secrets in code or logs, missing authorisation checks, and unsafe defaults'],
  ['performance', 'needless allocation or copying, quadratic loops, blocking calls on async paths, unbounded growth, and N+1 queries'],
];

phase('Review');
const reviews = await parallel(lenses.map(([lens, focus]) => () => agent(
  `Review ${target} for ${lens} problems only: ${focus}.\n\n` +
  `Read the code itself; report only real problems you can point at (file:line), each with ` +
  `a severity and a concrete fix. Report nothing rather than speculate.`,
  { label: `${lens} review`, agentType: 'Explore', schema: finding },
)));

const all = [];
reviews.forEach((r, i) => {
  if (!r) { log(`the ${lenses[i][0]} review failed`); return; }
  for (const f of r.findings) all.push({ ...f, lens: lenses[i][0] });
});
log(`${all.length} findings before merging`);

phase('Merge');
const order = { critical: 0, high: 1, medium: 2, low: 3 };
const merged = await agent(
  `Merge these code review findings into one report. Combine duplicates (keep the most severe ` +
  `rating and every location), drop anything that is not actually a problem, and keep each ` +
  `finding's fix.\n\n${JSON.stringify(all, null, 2)}`,
  { label: 'merge', agentType: 'Explore', schema: finding },
);
const ranked = merged.findings.sort((a, b) => order[a.severity] - order[b.severity]);
if (ranked.length === 0) return `No problems found in ${target}.`;
return [
  `# Code review: ${target}`,
  '',
  ...ranked.map((f, i) =>
    `${i + 1}. **[${f.severity}] ${f.title}** — ${f.location}\n   ${f.detail}` +
    (f.fix ? `\n   Fix: ${f.fix}` : '')),
].join('\n');
