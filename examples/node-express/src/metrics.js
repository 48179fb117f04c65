'use strict';

// Prometheus metrics (prom-client), served at GET /metrics.
//
//   http_requests_total{method,route,status}          counter
//   http_request_duration_seconds{method,route,status} histogram
//   db_pool_connections{state="total|idle|active|waiting"} gauge, read at scrape time
//   circuit_breaker_state{service="dependency"}        0 closed, 1 open, 2 half-open
//   lock_acquisitions_total{result}                    acquired | held | unavailable
//   app_draining                                       1 while shutting down
// plus prom-client's default process metrics (nodejs_*, process_*).
//
// `route` is the route template (/cache/:key), never the raw path, so the
// label set stays bounded; requests that match no route are "unmatched".

const client = require('prom-client');

function createMetrics() {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });

  const requests = new client.Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by method, route template and status',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
  });
  const duration = new client.Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration in seconds, by method, route template and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const locks = new client.Counter({
    name: 'lock_acquisitions_total',
    help: 'Job lock acquisitions by result',
    labelNames: ['result'],
    registers: [registry],
  });
  const draining = new client.Gauge({
    name: 'app_draining',
    help: '1 while the process is shutting down',
    registers: [registry],
  });

  return {
    registry,
    contentType: registry.contentType,
    locks,
    draining,

    observeRequest({ method, route, status, seconds }) {
      const labels = { method, route, status: String(status) };
      requests.inc(labels);
      duration.observe(labels, seconds);
    },

    /** Gauges computed when Prometheus scrapes. */
    watchPool(database) {
      new client.Gauge({
        name: 'db_pool_connections',
        help: 'Database pool connections by state',
        labelNames: ['state'],
        registers: [registry],
        collect() {
          const stats = database.stats();
          for (const state of ['total', 'idle', 'active', 'waiting']) this.set({ state }, stats[state]);
        },
      });
    },

    watchBreaker(service, breaker) {
      new client.Gauge({
        name: 'circuit_breaker_state',
        help: 'Circuit breaker state: 0 closed, 1 open, 2 half-open',
        labelNames: ['service'],
        registers: [registry],
        collect() {
          this.set({ service }, breaker.state);
        },
      });
    },
  };
}

module.exports = { createMetrics };
