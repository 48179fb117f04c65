'use strict';

// PM2 process file, for pm2-runtime (see bin/pm2-run).
//
// One instance in *cluster* mode, on purpose: PM2 starts fork-mode apps
// detached (in their own session), so a SIGKILL or SIGSTOP sent to the
// process group of pm2-runtime (how a supervisor or the test suite crashes or
// pauses "the app") would miss the app itself. A cluster worker stays in
// pm2-runtime's process group, and exits when pm2-runtime dies.
//
// Shutdown: on SIGTERM/SIGINT pm2-runtime stops the app with SIGINT (PM2's
// kill signal; this PM2 takes it from PM2_KILL_SIGNAL, not from the app
// options). The app drains (src/shutdown.js) and exits by itself within
// SHUTDOWN_TIMEOUT_MS; PM2's kill_timeout, a little longer, is the backstop
// that SIGKILLs an app whose event loop is stuck. A second signal makes
// pm2-runtime send SIGINT again, which the draining app ignores.

const killTimeoutMs = Number(process.env.SHUTDOWN_TIMEOUT_MS || 30000);

module.exports = {
  apps: [
    {
      name: process.env.INSTANCE || 'node-express',
      script: 'server.js',
      cwd: __dirname,
      exec_mode: 'cluster',
      instances: 1,
      wait_ready: true, // online only after process.send('ready'): DB pool open, listening
      listen_timeout: 10000,
      kill_timeout: killTimeoutMs + 2000,
      kill_retry_time: 500, // how often PM2 checks (and logs) that the app is gone
      autorestart: true,
      min_uptime: 5000,
      max_restarts: 10,
      exp_backoff_restart_delay: 200,
      // Logs go to pm2-runtime's stdout (one JSON line each); no log files.
      out_file: '/dev/null',
      error_file: '/dev/null',
      merge_logs: true,
      env: {
        NODE_ENV: 'production',
      },
    },
  ],
};
