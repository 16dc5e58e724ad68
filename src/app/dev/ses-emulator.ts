import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** aws-ses-v2-local in-process on loopback: SES v2 `SendEmail` for development, with a mailbox web page. */
export interface SesEmulator {
  /** Endpoint for the SES v2 client. Its web page (the mailbox) is served at the same URL. */
  readonly url: string;
  dispose(): Promise<void>;
}

/**
 * The account the emulator's GetAccount answers (it reads AWS_SES_ACCOUNT as JSON): healthy, production access,
 * sending `maxSendRate` emails/s. Development uses 14/s, SES's default for a new production account.
 */
export function emulatorAccount(maxSendRate: number, max24HourSend = 50_000) {
  return {
    DedicatedIpAutoWarmupEnabled: false,
    Details: {
      AdditionalContactEmailAddresses: [],
      ContactLanguage: 'EN',
      MailType: 'MARKETING',
      ReviewDetails: { CaseId: 'local', Status: 'GRANTED' },
      UseCaseDescription: 'Local development',
      WebsiteURL: 'http://localhost',
    },
    EnforcementStatus: 'HEALTHY',
    ProductionAccessEnabled: true,
    SendingEnabled: true,
    SendQuota: { Max24HourSend: max24HourSend, MaxSendRate: maxSendRate, SentLast24Hours: 0 },
    SuppressionAttributes: { SuppressedReasons: [] },
  };
}

export async function startSesEmulator(port: number): Promise<SesEmulator> {
  // The emulator reads its account from this process's environment at every GetAccount.
  process.env.AWS_SES_ACCOUNT ??= JSON.stringify(emulatorAccount(14));
  // A CommonJS module with `exports.default`: Node's ESM loader wraps it once more than tsx/esbuild do.
  type Start = (config: { host: string; port: number }) => Promise<Server>;
  const module = (await import('aws-ses-v2-local')) as unknown as { default: Start | { default: Start } };
  const start = typeof module.default === 'function' ? module.default : module.default.default;
  let server: Server;
  try {
    server = await start({ host: '127.0.0.1', port });
  } catch (error) {
    throw new Error(`The SES emulator could not listen on 127.0.0.1:${port} (${(error as Error).message}); set SES_EMULATOR_PORT or SES_ENDPOINT`, {
      cause: error,
    });
  }
  const actualPort = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${actualPort}`,
    dispose: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
