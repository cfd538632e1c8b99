// The workflow API, evaluated once per worker before the script. It receives the native hooks
// (`native`, never exposed as a global) and returns the internals the Rust driver calls.
// Everything here runs inside the sandbox: it must not leak `native` or the real constructors.
(function (native, budgetTotal) {
  'use strict';
  const G = globalThis;
  const PRELUDE = '<workflow-prelude>';
  const define = (obj, key, value) =>
    Object.defineProperty(obj, key, { value, writable: true, configurable: true, enumerable: false });

  // --- No code generation from strings -------------------------------------------------------
  // `eval` and every function constructor (reachable as `Function` or as `.constructor` of any
  // function kind) are replaced by throwers. The replacements keep `prototype`, so
  // `x instanceof Function` still works.
  const blocked = (what) =>
    function () {
      throw new EvalError(`${what} is not available in workflows (scripts cannot run code from strings)`);
    };
  const fakeFunction = blocked('the Function constructor');
  const functionProto = Object.getPrototypeOf(function () {});
  Object.defineProperty(fakeFunction, 'prototype', { value: functionProto, writable: false });
  Object.defineProperty(functionProto, 'constructor', { value: fakeFunction, writable: false, configurable: false });
  define(G, 'Function', fakeFunction);
  const kinds = [
    [async function () {}, 'the AsyncFunction constructor'],
    [function* () {}, 'the GeneratorFunction constructor'],
    [async function* () {}, 'the AsyncGeneratorFunction constructor'],
  ];
  for (const [sample, what] of kinds) {
    const proto = Object.getPrototypeOf(sample);
    const fake = blocked(what);
    Object.defineProperty(fake, 'prototype', { value: proto, writable: false });
    Object.defineProperty(proto, 'constructor', { value: fake, writable: false, configurable: false });
  }
  define(G, 'eval', blocked('eval()'));

  // --- String.prototype.repeat ----------------------------------------------------------------
  // Boa charges each repetition of its native `repeat` to the calling function's loop-iteration
  // counter, so `'x'.repeat(2e7)` in a script without a loop failed as "hit the loop iteration
  // limit". This one doubles: O(log n) iterations, and memory is left to the memory ceiling.
  function repeat(count) {
    if (this === null || this === undefined) {
      throw new TypeError('String.prototype.repeat called on null or undefined');
    }
    if (typeof this === 'symbol') throw new TypeError('cannot convert a Symbol to a string');
    const s = String(this);
    let n = Number(count);
    n = Number.isNaN(n) ? 0 : Math.trunc(n);
    if (n < 0 || n === Infinity) throw new RangeError(`repeat count must be non-negative and finite, got ${count}`);
    if (n === 0 || s === '') return '';
    if (s.length * n > 2 ** 32 - 1) throw new RangeError(`repeat would make a string of ${s.length * n} characters`);
    let result = '';
    let piece = s;
    for (;;) {
      if (n % 2 === 1) result += piece;
      n = Math.floor(n / 2);
      if (n === 0) return result;
      piece += piece;
    }
  }
  define(String.prototype, 'repeat', repeat);

  // --- Helpers --------------------------------------------------------------------------------
  function describe(v) {
    if (v === null) return 'null';
    if (v === undefined) return 'undefined';
    if (typeof v === 'function') return 'a function';
    if (typeof v === 'object' && typeof v.then === 'function') return 'a Promise';
    if (Array.isArray(v)) return 'an array';
    if (typeof v === 'object') return 'an object';
    if (typeof v === 'string') return 'a string';
    if (typeof v === 'number') return 'a number';
    if (typeof v === 'boolean') return 'a boolean';
    return `a ${typeof v}`;
  }

  // How a value reads in a log line: strings as they are, errors as `Name: message`, the rest
  // as JSON when that works, else String().
  function show(v) {
    if (typeof v === 'string') return v;
    if (v === undefined) return 'undefined';
    if (typeof v === 'function') return `[function ${v.name || 'anonymous'}]`;
    if (typeof v === 'symbol' || typeof v === 'bigint') return String(v);
    if (v instanceof Error) return `${v.name}: ${v.message}`;
    try {
      const s = JSON.stringify(v);
      if (typeof s === 'string') return s;
    } catch (_) {}
    try {
      return String(v);
    } catch (_) {
      return Object.prototype.toString.call(v);
    }
  }

  // Clipped: it goes into the prelude's own log lines, which must stay under the line cap.
  function messageOf(e) {
    const text = e !== null && typeof e === 'object' && typeof e.message === 'string' ? e.message : show(e);
    return text.length > 2000 ? `${text.slice(0, 2000)}…` : text;
  }

  // The first stack frame that is not in this prelude: where the script was when it failed,
  // as Boa reports it (in the wrapped text; `native.position` maps it to the user's file).
  function whereOf(e) {
    if (e === null || typeof e !== 'object') return null;
    let stack;
    try {
      stack = e.stack;
    } catch (_) {
      return null;
    }
    if (typeof stack !== 'string') return null;
    for (const l of stack.split('\n')) {
      const m = /\((.*):(\d+):(\d+)\)\s*$/.exec(l);
      if (m && m[1] !== PRELUDE) return { origin: m[1], line: Number(m[2]), column: Number(m[3]) };
    }
    return null;
  }

  function formatError(e) {
    let text;
    if (e !== null && typeof e === 'object' && typeof e.message === 'string') {
      let name = 'Error';
      try {
        if (typeof e.name === 'string' && e.name) name = e.name;
      } catch (_) {}
      let message = e.message;
      // The idle module loader's wording does not say what the script did.
      if (message === 'module resolution is disabled for this context') {
        message = 'import() is not available in workflows: a workflow cannot load modules';
      }
      text = message ? `${name}: ${message}` : name;
    } else {
      text = `Uncaught ${show(e)}`;
    }
    const at = whereOf(e);
    if (at) text += ` (${native.position(at.origin, at.line, at.column)})`;
    return text;
  }

  // --- Calls answered by the parent -----------------------------------------------------------
  const pending = new Map();
  const wait = (id) => new Promise((resolve, reject) => pending.set(id, { resolve, reject }));

  function settle(id, ok, value) {
    const p = pending.get(id);
    if (!p) return false;
    pending.delete(id);
    if (ok) p.resolve(value);
    else p.reject(new Error(String(value)));
    return true;
  }

  // --- The API --------------------------------------------------------------------------------
  let currentPhase = null;

  function phase(title) {
    if (typeof title !== 'string' || title === '') {
      throw new TypeError(`phase() takes a non-empty string title, got ${describe(title)}`);
    }
    currentPhase = title;
    native.phase(title);
  }

  function log(...parts) {
    native.log(parts.map(show).join(' '));
  }

  const console = Object.freeze({ log, info: log, warn: log, error: log, debug: log });

  const STRING_OPTS = ['label', 'phase', 'model', 'effort', 'agentType', 'isolation', 'agent'];

  function agent(prompt, opts) {
    if (typeof prompt !== 'string') {
      throw new TypeError(`agent() takes a prompt string as its first argument, got ${describe(prompt)}`);
    }
    if (prompt.trim() === '') throw new TypeError('agent() needs a non-empty prompt');
    if (opts !== undefined && opts !== null && (typeof opts !== 'object' || Array.isArray(opts))) {
      throw new TypeError(`agent() options must be an object, got ${describe(opts)}`);
    }
    const o = opts || {};
    const spec = { prompt };
    for (const key of STRING_OPTS) {
      const v = o[key];
      if (v === undefined || v === null) continue;
      if (typeof v !== 'string') throw new TypeError(`agent() option ${key} must be a string, got ${describe(v)}`);
      spec[key] = v;
    }
    if (spec.phase === undefined && currentPhase !== null) spec.phase = currentPhase;
    if (o.schema !== undefined && o.schema !== null) {
      if (typeof o.schema !== 'object' || Array.isArray(o.schema)) {
        throw new TypeError(`agent() option schema must be a JSON Schema object, got ${describe(o.schema)}`);
      }
      spec.schema = o.schema;
    }
    const count = (key, v) => {
      if (v === undefined || v === null) return undefined;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
        throw new TypeError(`agent() option ${key} must be a non-negative integer, got ${show(v)}`);
      }
      return v;
    };
    const timeout = count('timeout_ms', o.timeout_ms !== undefined ? o.timeout_ms : o.timeoutMs);
    if (timeout !== undefined) spec.timeout_ms = timeout;
    const retries = count('retries', o.retries);
    if (retries !== undefined) spec.retries = retries;
    let json;
    try {
      json = JSON.stringify(spec);
    } catch (e) {
      throw new TypeError(`agent() options are not JSON-serialisable: ${messageOf(e)}`);
    }
    return wait(native.agent(json));
  }

  function parallel(thunks) {
    if (!Array.isArray(thunks)) {
      throw new TypeError(`parallel() takes an array of functions (thunks), got ${describe(thunks)}`);
    }
    thunks.forEach((t, i) => {
      if (typeof t !== 'function') {
        throw new TypeError(
          `parallel() takes an array of functions (thunks), got ${describe(t)} at index ${i} — wrap each call: () => agent(...)`,
        );
      }
    });
    // Every thunk starts now, in input order; the result is a barrier over all of them.
    return Promise.all(
      thunks.map((t, i) =>
        (async () => t())().then(
          (v) => v,
          (e) => {
            log(`parallel[${i}] failed: ${messageOf(e)}`);
            return null;
          },
        ),
      ),
    );
  }

  function pipeline(items, ...stages) {
    if (!Array.isArray(items)) {
      throw new TypeError(`pipeline() takes an array of items first, got ${describe(items)}`);
    }
    stages.forEach((s, i) => {
      if (typeof s !== 'function') {
        throw new TypeError(`pipeline() stages must be functions, got ${describe(s)} for stage ${i}`);
      }
    });
    // Each item runs through the stages on its own: no barrier between stages. A stage that
    // throws, or returns null, drops the item to null and skips its remaining stages.
    return Promise.all(
      items.map(async (item, index) => {
        let prev = item;
        for (let s = 0; s < stages.length; s++) {
          try {
            prev = await stages[s](prev, item, index);
          } catch (e) {
            log(`pipeline[${index}] failed at stage ${s}: ${messageOf(e)}`);
            return null;
          }
          if (prev === null) return null;
        }
        return prev;
      }),
    );
  }

  function makeWorkflow(depth) {
    return async function workflow(nameOrRef, wargs) {
      if (depth >= 1) throw new Error('workflow() nesting is limited to one level');
      let name = null;
      let scriptPath = null;
      if (typeof nameOrRef === 'string' && nameOrRef !== '') name = nameOrRef;
      else if (nameOrRef !== null && typeof nameOrRef === 'object' && typeof nameOrRef.scriptPath === 'string') {
        scriptPath = nameOrRef.scriptPath;
      } else {
        throw new TypeError(`workflow() takes a workflow name or { scriptPath }, got ${describe(nameOrRef)}`);
      }
      const found = await wait(native.resolve(name, scriptPath));
      const outer = native.compile(found.source, found.origin);
      // The nested script's phase() calls are its own: the caller's next agents stay in the
      // caller's phase.
      const callerPhase = currentPhase;
      try {
        return await run(outer, wargs === undefined ? null : wargs, depth + 1);
      } finally {
        currentPhase = callerPhase;
      }
    };
  }

  // Runs a compiled script (see sandbox.rs for the wrapper): the body first; if it returned
  // nothing, a CommonJS or `export default` main function is called with `args`.
  async function run(outer, args, depth) {
    const module = { exports: {} };
    const main = outer(args, module, module.exports, makeWorkflow(depth));
    const r = await main();
    if (r !== undefined) return r;
    const ex = module.exports;
    if (typeof ex === 'function') return await ex(args);
    if (ex !== null && typeof ex === 'object' && typeof ex.default === 'function') return await ex.default(args);
    return r;
  }

  function finish(v) {
    if (v === undefined) return 'null';
    if (typeof v === 'function' || typeof v === 'symbol') {
      throw new TypeError(`the workflow's result is not JSON-serialisable: it is ${describe(v)}`);
    }
    let s;
    try {
      s = JSON.stringify(v);
    } catch (e) {
      throw new TypeError(`the workflow's result is not JSON-serialisable: ${messageOf(e)}`);
    }
    return s === undefined ? 'null' : s;
  }

  const spent = () => native.spent();
  const budget = Object.freeze({
    total: budgetTotal,
    spent,
    remaining: () => (budgetTotal === null ? Infinity : Math.max(0, budgetTotal - spent())),
  });

  define(G, 'agent', agent);
  define(G, 'parallel', parallel);
  define(G, 'pipeline', pipeline);
  define(G, 'phase', phase);
  define(G, 'log', log);
  define(G, 'console', console);
  define(G, 'budget', budget);
  define(G, 'workflow', makeWorkflow(0));

  return Object.freeze({
    start(outer, args) {
      define(G, 'args', args);
      return run(outer, args, 0);
    },
    settle,
    formatError,
    finish,
  });
});
