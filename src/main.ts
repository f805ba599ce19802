import { createApp } from './app.js';
import { openBackend } from './backend.js';
import { type Config, describeConfig, parseConfig } from './config.js';
import { ConfigError } from './errors.js';
import { createLogger, type Logger } from './logger.js';
import { createServer } from './server.js';

/** Longest a graceful shutdown may take before open connections are cut, in ms. */
const SHUTDOWN_DEADLINE_MS = 8000;

/** How often idle connections are dropped while shutting down, in ms. */
const SHUTDOWN_SWEEP_MS = 50;

function readConfig(): Config {
  try {
    return parseConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    createLogger('info').fatal(
      { problems: error.problems },
      `invalid configuration: ${error.message}`,
    );
    process.exit(1);
  }
}

function start(config: Config, logger: Logger): void {
  const backend = openBackend(config, logger);
  const app = createApp(config, { ...backend, logger });
  const server = createServer(app);

  server.on('error', (error) => {
    logger.fatal({ err: error, port: config.port }, 'cannot listen');
    process.exit(1);
  });
  server.listen(config.port, () => {
    logger.info(describeConfig(config), 'ipgate started');
    if (config.webhookSecret === undefined) {
      logger.warn('webhook disabled: WEBHOOK_SECRET is not set, so no login can grant access');
    }
  });

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => server.closeAllConnections(), SHUTDOWN_DEADLINE_MS).unref();
    // close() drops the connections idle at that moment; a kept-alive connection busy then
    // becomes idle once its answer is sent, and is dropped by this sweep.
    setInterval(() => server.closeIdleConnections(), SHUTDOWN_SWEEP_MS).unref();
    // close() stops accepting, lets in-flight requests finish, and drops idle keep-alives.
    server.close(() => {
      backend.close('quit').then(() => exit(logger, 0));
    });
    logger.info({ signal }, 'shutting down');
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

function exit(logger: Logger, code: number): void {
  logger.info('stopped');
  logger.flush(() => process.exit(code));
}

const config = readConfig();
start(config, createLogger(config.logLevel));
