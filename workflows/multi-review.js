export const meta = {
  name: 'multi-review',
  description: 'Review code health, security and project standards in parallel and merge them into one prioritised report.',
  whenToUse: 'Before merging a larger change, for one report across health, security and standards. Args: the target, or {target}.',
  phases: ['Review', 'Merge'],
};

// args: what to review, as a string or {target}
const target = (typeof args === 'string' ? args : args && args.target) ||
  'the recent changes in this project';

const reviewers = [
  ['code health', 'readability, naming, duplication, dead code, over-complicated logic, missing or weak tests, and module boundaries'],
  ['security', 'untrusted input handling, injection, secrets, permissions, dependency risks, and unsafe defaults'],
  ['standards', "the project's own conventions: read its README, ARCHITECTURE/CONTRIBUTING docs and lint config first, then check the code against them"],
];

phase('Review');
const reports = await parallel(reviewers.map(([name, focus]) => () => agent(
  `You are the ${name} reviewer for ${target}. Focus on ${focus}.\n\n` +
  `Give a short verdict, then the problems you found, most important first, each with ` +
  `file:line and a suggested change. Do not pad the list.`,
  { label: `${name} review`, agentType: 'Explore' },
)));

const sections = reviewers
  .map(([name], i) => ({ name, report: reports[i] }))
  .filter((s) => s.report);
if (sections.length < reviewers.length) log(`${reviewers.length - sections.length} reviews failed`);

phase('Merge');
return await agent(
  `Merge these reviews of ${target} into one report: an overall verdict, then one list of ` +
  `actions ordered by priority (must fix / should fix / consider), each naming which review ` +
  `raised it and where. Remove duplicates and contradictions.\n\n` +
  sections.map((s) => `## ${s.name}\n${s.report}`).join('\n\n'),
  { label: 'merge reviews' },
);
