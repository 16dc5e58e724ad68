// `npm start`: compile with tsc when dist/ is missing or older than the sources, build the dashboard likewise, then
// run the server.
// Runs in this process (no child), so Ctrl-C and SIGTERM reach the server's own shutdown handling.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// `npm start` is the development command: it chooses the development defaults (embedded database, emulator, demo
// company, dev secrets) itself, because the server treats an unset NODE_ENV as production. An explicit value wins.
if (!process.env.NODE_ENV?.trim()) process.env.NODE_ENV = 'development';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'dist', 'main.js');

function newestMtime(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((name) => newestMtime(join(path, name))));
}

function builtAt() {
  try {
    return statSync(entry).mtimeMs;
  } catch {
    return -1;
  }
}

const sources = Math.max(newestMtime(join(root, 'src')), newestMtime(join(root, 'tsconfig.json')), newestMtime(join(root, 'tsconfig.build.json')));
if (builtAt() < sources) {
  process.stdout.write('Building (tsc)…\n');
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

// The dashboard (served at /dashboard) is built by Vite when its sources are newer than the last build.
function dashboardBuiltAt() {
  try {
    return statSync(join(root, 'dist', 'dashboard', 'index.html')).mtimeMs;
  } catch {
    return -1;
  }
}
if (dashboardBuiltAt() < newestMtime(join(root, 'dashboard'))) {
  process.stdout.write('Building the dashboard (vite)…\n');
  const vite = join(root, 'node_modules', 'vite', 'bin', 'vite.js');
  const result = spawnSync(process.execPath, [vite, 'build', '--config', join(root, 'dashboard', 'vite.config.ts'), '--logLevel', 'warn'], {
    stdio: 'inherit',
    cwd: root,
  });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

await import(pathToFileURL(entry).href);
