import { spawnSync } from 'node:child_process';

/**
 * Which code a benchmark measured: the commit, and whether files other than earlier results differed
 * from it. Figures from a machine that changes from run to run are only comparable with this beside
 * them. Outside a git checkout (an unpacked archive, a container image) it says so.
 */
export function describeCode(root: string): string {
  const git = (...args: string[]) => spawnSync('git', args, { cwd: root, encoding: 'utf8' });
  const head = git('rev-parse', '--short=12', 'HEAD');
  if (head.status !== 0) return 'not a git checkout';
  const changed = git('status', '--porcelain', '--untracked-files=no', '--', '.', ':(exclude)bench/results')
    .stdout.split('\n')
    .filter(Boolean).length;
  return changed ? `commit ${head.stdout.trim()} with ${changed} file(s) changed` : `commit ${head.stdout.trim()}`;
}
