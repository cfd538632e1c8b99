export const meta = {
  name: 'find-issues',
  description: 'Hunt for bugs in rounds, each round told what is already known, until two consecutive rounds find nothing new.',
  whenToUse: 'An unfamiliar or neglected area where you want every bug found. Args: a focus string, or {focus, maxRounds}.',
  phases: ['Hunt', 'Report'],
};

// args: an area to focus on (string) or {focus, maxRounds}
const focus = (typeof args === 'string' ? args : args && args.focus) || 'the whole project';
const maxRounds = (args && args.maxRounds) || 8;

const schema = {
  type: 'object',
  properties: {
    issues: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          location: { type: 'string' },
          summary: { type: 'string' },
          evidence: { type: 'string' },
        },
        required: ['location', 'summary', 'evidence'],
      },
    },
  },
  required: ['issues'],
};

const known = [];
const key = (i) => `${i.location}::${i.summary}`.toLowerCase();
let quiet = 0;
let round = 0;

phase('Hunt');
while (quiet < 2 && round < maxRounds) {
  round += 1;
  const found = await agent(
    `Round ${round} of a bug hunt in ${focus}. Find real defects (wrong behaviour, crashes, ` +
    `data loss, races, unhandled errors) with evidence from the code (file:line and why it ` +
    `fails).\n\nAlready known — do not report these again, look elsewhere:\n` +
    (known.length ? known.map((i) => `- ${i.location}: ${i.summary}`).join('\n') : '- nothing yet'),
    { label: `hunt round ${round}`, agentType: 'Explore', schema },
  );
  const fresh = found.issues.filter((i) => !known.some((k) => key(k) === key(i)));
  known.push(...fresh);
  quiet = fresh.length === 0 ? quiet + 1 : 0;
  log(`round ${round}: ${fresh.length} new, ${known.length} known`);
}

phase('Report');
if (known.length === 0) return `No issues found in ${focus} after ${round} rounds.`;
return [
  `# ${known.length} issues in ${focus} (${round} rounds)`,
  '',
  ...known.map((i, n) => `${n + 1}. ${i.location} — ${i.summary}\n   ${i.evidence}`),
].join('\n');
