'use strict';

// /ws: a WebSocket echo (text and binary frames), on the HTTP server's upgrade
// event. Upgrades of other paths get 404; while draining, 503.

const { WebSocketServer } = require('ws');

function attachWebSocketEcho(server, { log, lifecycle }) {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });

  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => {}); // a client that vanished mid-handshake
    const { pathname } = new URL(req.url, 'http://localhost');
    if (pathname !== '/ws' || lifecycle.draining) {
      const status = lifecycle.draining ? '503 Service Unavailable' : '404 Not Found';
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  wss.on('connection', (ws, req) => {
    log.info({ path: '/ws', peer: req.socket.remoteAddress, request_id: req.headers['x-request-id'] }, 'websocket open');
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on('error', (err) => log.info({ err: err.message }, 'websocket error'));
  });

  return {
    /** Going away (1001), then terminate whatever did not close within graceMs. */
    close(graceMs = 1000) {
      for (const ws of wss.clients) ws.close(1001, 'server shutting down');
      setTimeout(() => {
        for (const ws of wss.clients) ws.terminate();
      }, graceMs).unref();
      wss.close();
    },
  };
}

module.exports = { attachWebSocketEcho };
