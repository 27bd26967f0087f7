import { execSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { BUNDLING, BUNDLING_ALIAS } from '../infra/bundling';

/**
 * The deployed bundles, for the benchmarks that load them: each handler built with the esbuild
 * options of the CDK stack (infra/bundling.ts) of the tree it comes from, this checkout's or an
 * older commit's, so a before/after comparison measures what each commit deployed.
 */
export type Bundling = Pick<
  typeof BUNDLING,
  'target' | 'minify' | 'sourceMap' | 'sourcesContent' | 'banner'
> & {
  mainFields: string[];
  externalModules: string[];
};

/** A source tree and the bundling its own infra/bundling.ts declares. */
export interface Tree {
  root: string;
  bundling: Bundling;
  alias: Record<string, string>;
}

export const THIS_TREE: Tree = { root: process.cwd(), bundling: BUNDLING, alias: BUNDLING_ALIAS };

/** One handler bundled with a tree's deployed options (this tree's unless `tree` says otherwise). */
export async function bundle(
  entry: string,
  outdir: string,
  sdkExternal: boolean,
  tree: Tree = THIS_TREE,
): Promise<string> {
  const options = tree.bundling;
  mkdirSync(outdir, { recursive: true });
  const outfile = join(outdir, 'index.mjs');
  await build({
    absWorkingDir: tree.root,
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    target: options.target,
    format: 'esm',
    minify: options.minify,
    sourcemap: options.sourceMap,
    sourcesContent: options.sourcesContent,
    alias: tree.alias,
    mainFields: options.mainFields,
    banner: { js: options.banner },
    external: sdkExternal ? ['@aws-sdk/*', '@smithy/*'] : options.externalModules,
    logLevel: 'silent',
  });
  return outfile;
}

/** A tree with the bundling settings of its own commit (they change as the stack does). */
export async function treeAt(root: string): Promise<Tree> {
  const settings = (await import(pathToFileURL(join(root, 'infra/bundling.ts')).href)) as {
    BUNDLING: Bundling;
    BUNDLING_ALIAS: Record<string, string>;
  };
  return { root, bundling: settings.BUNDLING, alias: settings.BUNDLING_ALIAS };
}

/** A commit's tree under .bench/trees, sharing this checkout's node_modules. */
export function checkout(ref: string): string {
  const commit = execSync(`git rev-parse --short ${JSON.stringify(`${ref}^{commit}`)}`)
    .toString()
    .trim();
  const root = resolve('.bench/trees', commit);
  if (!existsSync(join(root, 'package.json'))) {
    rmSync(root, { recursive: true, force: true });
    mkdirSync(root, { recursive: true });
    execSync(`git archive ${commit} | tar -x -C ${JSON.stringify(root)}`);
    symlinkSync(resolve('node_modules'), join(root, 'node_modules'));
  }
  return root;
}
