/** One Dockerfile instruction, continuation lines joined and comments dropped. */
export interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

/** One build stage: its base image, its name (`AS …`) and its instructions after FROM. */
export interface Stage {
  readonly image: string;
  readonly name: string | undefined;
  readonly instructions: readonly Instruction[];
}

/** Splits a Dockerfile into instructions, as Docker's parser does for this file's syntax. */
export function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending = '';
  for (const line of text.split('\n')) {
    // Docker drops comment lines, also in the middle of a continued instruction.
    if (/^\s*#/.test(line)) continue;
    const trimmed = line.trimEnd();
    if (trimmed.endsWith('\\')) {
      pending += `${trimmed.slice(0, -1)} `;
      continue;
    }
    const whole = `${pending}${trimmed}`.trim();
    pending = '';
    const match = /^(\S+)\s*([\s\S]*)$/.exec(whole);
    if (match === null) continue;
    instructions.push({ keyword: (match[1] ?? '').toUpperCase(), args: (match[2] ?? '').trim() });
  }
  return instructions;
}

/** The stages of a Dockerfile, in order; the last one is the image that ships. */
export function dockerStages(instructions: readonly Instruction[]): Stage[] {
  const stages: { image: string; name: string | undefined; instructions: Instruction[] }[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const [image = '', as, name] = instruction.args.split(/\s+/);
      stages.push({
        image,
        name: as?.toUpperCase() === 'AS' ? name : undefined,
        instructions: [],
      });
    } else {
      stages.at(-1)?.instructions.push(instruction);
    }
  }
  return stages;
}

/** The JSON array of an exec-form instruction (`CMD ["node", "x.js"]`); throws otherwise. */
export function execForm(args: string): string[] {
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed) || !parsed.every((item) => typeof item === 'string')) {
    throw new Error(`not an exec-form array: ${args}`);
  }
  return parsed;
}

/** `key=value` pairs of a LABEL instruction; quoted values are unquoted. */
export function labelPairs(args: string): Map<string, string> {
  const pairs = new Map<string, string>();
  for (const match of args.matchAll(/([\w.-]+)=("(?:[^"\\]|\\.)*"|\S+)/g)) {
    const [, key = '', value = ''] = match;
    pairs.set(key, value.startsWith('"') ? (JSON.parse(value) as string) : value);
  }
  return pairs;
}

/**
 * True when `.dockerignore` patterns keep `path` out of the build context. Same rules as
 * Docker for the patterns used here: `*` and `?` within one path segment, a pattern that
 * matches a directory covers everything in it, `!` lets a path back in, the last match wins.
 */
export function isDockerIgnored(path: string, ignoreFile: string): boolean {
  const patterns = ignoreFile
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  let ignored = false;
  for (const pattern of patterns) {
    const negated = pattern.startsWith('!');
    const glob = (negated ? pattern.slice(1) : pattern).replace(/^\/+|\/+$/g, '');
    if (matchesPathOrParent(globPattern(glob), path)) ignored = !negated;
  }
  return ignored;
}

function matchesPathOrParent(glob: RegExp, path: string): boolean {
  const segments = path.split('/');
  return segments.some((_, index) => glob.test(segments.slice(0, index + 1).join('/')));
}

function globPattern(glob: string): RegExp {
  const source = glob
    .split('')
    .map((char) => {
      if (char === '*') return '[^/]*';
      if (char === '?') return '[^/]';
      return char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    })
    .join('');
  return new RegExp(`^${source}$`);
}
