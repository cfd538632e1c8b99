export const meta = {
  name: 'plan-verify',
  description: 'Plan a change, have the plan checked against the code by an independent verifier, revise it, and break it into work items.',
  whenToUse: 'Before starting a change that touches several modules. Args: the goal, or {goal}.',
  phases: ['Plan', 'Verify', 'Work items'],
};

// args: the goal, as a string or {goal}
const goal = typeof args === 'string' ? args : args && args.goal;
if (!goal) throw new Error('plan-verify needs a goal: a string (--args "add X to Y") or {"goal": "…"}');

phase('Plan');
let plan = await agent(
  `Plan how to achieve this in the current project: ${goal}\n\n` +
  `Read the relevant code first. Write a concrete plan: the files to change and how, new ` +
  `modules, data or schema changes, tests to add, and risks. Do not change any files.`,
  { label: 'plan', agentType: 'Explore', model: 'strong' },
);

phase('Verify');
const review = await agent(
  `Check this plan against the actual code. Look for steps that rely on code that does not ` +
  `exist or works differently, missing steps, wrong order, and untested risks.\n\n` +
  `Goal: ${goal}\n\nPlan:\n${plan}`,
  {
    label: 'verify plan',
    agentType: 'Explore',
    schema: {
      type: 'object',
      properties: {
        sound: { type: 'boolean' },
        problems: { type: 'array', items: { type: 'string' } },
      },
      required: ['sound', 'problems'],
    },
  },
);
log(review.sound ? 'the plan holds' : `${review.problems.length} problems found`);
if (!review.sound && review.problems.length > 0) {
  plan = await agent(
    `Revise this plan to fix the problems a verifier found. Keep what was right.\n\n` +
    `Goal: ${goal}\n\nPlan:\n${plan}\n\nProblems:\n${review.problems.map((p) => `- ${p}`).join('\n')}`,
    { label: 'revise plan', agentType: 'Explore', model: 'strong' },
  );
}

phase('Work items');
const items = await agent(
  `Break this plan into ordered work items, each small enough for one focused change with ` +
  `its tests.\n\nPlan:\n${plan}`,
  {
    label: 'work items',
    agentType: 'Explore',
    schema: {
      type: 'object',
      properties: {
        items: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              title: { type: 'string' },
              files: { type: 'array', items: { type: 'string' } },
              done_when: { type: 'string' },
            },
            required: ['title', 'done_when'],
          },
        },
      },
      required: ['items'],
    },
  },
);
return { goal, plan, verified: review, items: items.items };
