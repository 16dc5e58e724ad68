import 'reflect-metadata';
import { startApp, type App } from './app/app.js';
import { loadConfigOrExit } from './core/config.js';

/** Process entry point: config → app → banner; SIGINT/SIGTERM drain everything in reverse order. */
async function main(): Promise<void> {
  const config = loadConfigOrExit();

  const app = await startApp(config);
  app.logger.info({ url: app.server.url, env: config.env }, 'server listening');
  app.logger.flush(); // the log line first, then the banner (lines are otherwise written at the end of the turn)
  printBanner(app);

  let stoppingSince: number | undefined;
  const stop = async (signal: NodeJS.Signals) => {
    if (stoppingSince !== undefined) {
      // A terminal's Ctrl-C reaches npm (which forwards it) and us at once: only a later signal means "force".
      if (Date.now() - stoppingSince < 2_000) return;
      app.logger.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    stoppingSince = Date.now();
    app.logger.info({ signal }, 'shutting down');
    const deadline = setTimeout(() => {
      app.logger.error('shutdown took longer than 30 s; exiting');
      process.exit(1);
    }, 30_000);
    deadline.unref();
    await app.dispose();
    process.exit(0);
  };
  process.on('SIGINT', (signal) => void stop(signal));
  process.on('SIGTERM', (signal) => void stop(signal));
}

function printBanner(app: App): void {
  const lines = [
    '',
    `  Lead nurture API (${app.config.env})`,
    '',
    `  GraphQL         ${app.server.url}${app.config.sandbox ? '   (open it in a browser for Apollo Sandbox)' : ''}`,
    `  Subscriptions   ${app.server.url.replace(/^http/, 'ws')}`,
    `  Dashboard       ${app.server.url.replace(/\/graphql$/, '/dashboard/')}${app.demo ? '   (opens with the demo key on this machine)' : '   (asks for an API key)'}`,
  ];
  if (app.demo) {
    lines.push(`  Demo company    ${app.demo.companyName}`, `  Header          Authorization: Bearer ${app.demo.apiKey}`);
  }
  if (app.sesEmulatorUrl) lines.push(`  Sent mail       ${app.sesEmulatorUrl}   (SES emulator mailbox)`);
  if (!app.config.databaseUrl) lines.push(`  Database        embedded PostgreSQL in ${app.config.dataDir}`);
  lines.push('', '  Ctrl-C stops everything.', '');
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`Failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
