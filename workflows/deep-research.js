export const meta = {
  name: 'deep-research',
  description: 'Research a question in depth: scope it, search in parallel, analyse each source, verify the claims, and write a cited synthesis.',
  whenToUse: 'A question that needs several sources and checked claims. Args: the question, or {question, angles}.',
  phases: ['Scope', 'Search', 'Analyse', 'Verify', 'Synthesise'],
};

// args: the question as a string, or {question, angles?: number}
const question = typeof args === 'string' ? args : (args && args.question) || '';
if (!question) {
  throw new Error('deep-research needs a question: a string (--args "how does X work?") or {"question": "…"}');
}
const maxAngles = (args && args.angles) || 4;

phase('Scope');
const scope = await agent(
  `You are scoping a research question so several researchers can work on it in parallel.\n\n` +
  `Question: ${question}\n\n` +
  `Break it into at most ${maxAngles} distinct, non-overlapping angles (sub-questions). For each, ` +
  `say what a good answer must establish and where evidence is likely to be (files in this ` +
  `project, documentation, specifications).`,
  {
    label: 'scope',
    agentType: 'Explore',
    schema: {
      type: 'object',
      properties: {
        angles: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            properties: {
              title: { type: 'string' },
              question: { type: 'string' },
              evidence: { type: 'string' },
            },
            required: ['title', 'question'],
          },
        },
      },
      required: ['angles'],
    },
  },
);
const angles = scope.angles.slice(0, maxAngles);
log(`${angles.length} angles: ${angles.map((a) => a.title).join(', ')}`);

phase('Search');
const found = await parallel(angles.map((angle) => () => agent(
  `Research this sub-question of "${question}":\n\n${angle.question}\n\n` +
  `Where to look: ${angle.evidence || 'anywhere relevant in the project'}.\n` +
  `Find the concrete sources that answer it (file paths with line numbers, documents, ` +
  `specifications). List each source with a one-line note on what it shows.`,
  {
    label: `search: ${angle.title}`,
    agentType: 'Explore',
    schema: {
      type: 'object',
      properties: {
        sources: {
          type: 'array',
          items: {
            type: 'object',
            properties: { ref: { type: 'string' }, note: { type: 'string' } },
            required: ['ref', 'note'],
          },
        },
      },
      required: ['sources'],
    },
  },
)));

const sources = [];
found.forEach((result, i) => {
  if (!result) { log(`search for "${angles[i].title}" failed`); return; }
  for (const s of result.sources) {
    if (!sources.some((x) => x.ref === s.ref)) sources.push({ ...s, angle: angles[i].title });
  }
});
log(`${sources.length} distinct sources`);

phase('Analyse');
const analyses = await pipeline(
  sources.slice(0, 24),
  (source) => agent(
    `Read this source carefully and extract what it says about "${source.angle}" ` +
    `(part of the question "${question}").\n\nSource: ${source.ref}\nWhy it was picked: ${source.note}\n\n` +
    `Report the facts it establishes, each with an exact reference (path:line or section), ` +
    `and anything it leaves open.`,
    { label: `analyse: ${source.ref}`, agentType: 'Explore' },
  ),
  (analysis, source) => ({ source: source.ref, angle: source.angle, analysis }),
);
const usable = analyses.filter(Boolean);

phase('Verify');
const verdict = await agent(
  `Here are analyses of sources for the question "${question}". Check them against each other ` +
  `and against the sources themselves: flag claims that are contradicted, unsupported, or ` +
  `stale, and confirm the ones that hold.\n\n` +
  usable.map((a) => `## ${a.source} (${a.angle})\n${a.analysis}`).join('\n\n'),
  {
    label: 'verify',
    agentType: 'Explore',
    schema: {
      type: 'object',
      properties: {
        confirmed: { type: 'array', items: { type: 'string' } },
        disputed: {
          type: 'array',
          items: {
            type: 'object',
            properties: { claim: { type: 'string' }, why: { type: 'string' } },
            required: ['claim', 'why'],
          },
        },
      },
      required: ['confirmed', 'disputed'],
    },
  },
);
log(`${verdict.confirmed.length} claims confirmed, ${verdict.disputed.length} disputed`);

phase('Synthesise');
return await agent(
  `Write the answer to: ${question}\n\n` +
  `Use only the confirmed claims below; mention disputed points as open questions. Cite sources ` +
  `inline (path:line). Start with a direct answer in two or three sentences, then the details ` +
  `by angle, then open questions.\n\n` +
  `Confirmed:\n${verdict.confirmed.map((c) => `- ${c}`).join('\n')}\n\n` +
  `Disputed:\n${verdict.disputed.map((d) => `- ${d.claim} (${d.why})`).join('\n') || '- none'}\n\n` +
  `Analyses:\n${usable.map((a) => `## ${a.source}\n${a.analysis}`).join('\n\n')}`,
  { label: 'synthesise', model: 'strong' },
);
