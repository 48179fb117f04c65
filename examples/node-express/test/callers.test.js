'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { createCallerRules } = require('../src/callers');

function request(peer, headers = {}) {
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return { socket: { remoteAddress: peer }, get: (name) => lower[name.toLowerCase()] };
}

const rules = createCallerRules({ healthSecret: 's3cret', internalPeers: ['10.88.0.1', '172.16.0.0/12'] });

test('direct loopback callers without proxy headers are internal', () => {
  assert.equal(rules.isInternal(request('127.0.0.1')), true);
  assert.equal(rules.isInternal(request('::1')), true);
  assert.equal(rules.isInternal(request('::ffff:127.0.0.1')), true);
});

test('anything that came through the proxy is external, even from loopback', () => {
  assert.equal(rules.isInternal(request('127.0.0.1', { 'X-Real-IP': '127.0.0.1' })), false);
  assert.equal(rules.isInternal(request('127.0.0.1', { 'X-Forwarded-For': '203.0.113.9' })), false);
});

test('INTERNAL_PEERS addresses and networks are internal', () => {
  assert.equal(rules.isInternal(request('10.88.0.1')), true);
  assert.equal(rules.isInternal(request('172.20.1.2')), true);
  assert.equal(rules.isInternal(request('10.88.0.2')), false);
});

test('the right secret makes any caller internal; a wrong one does not', () => {
  assert.equal(rules.isInternal(request('203.0.113.9', { 'X-Health-Secret': 's3cret', 'X-Real-IP': '1.2.3.4' })), true);
  assert.equal(rules.isInternal(request('203.0.113.9', { 'X-Health-Secret': 's3cre' })), false);
  const noSecret = createCallerRules({ healthSecret: '', internalPeers: [] });
  assert.equal(noSecret.isInternal(request('203.0.113.9', { 'X-Health-Secret': '' })), false);
});

test('the client is X-Real-IP, else the first X-Forwarded-For, else the peer', () => {
  assert.equal(rules.clientAddress(request('127.0.0.1', { 'X-Real-IP': '198.51.100.7', 'X-Forwarded-For': '1.1.1.1' })), '198.51.100.7');
  assert.equal(rules.clientAddress(request('127.0.0.1', { 'X-Forwarded-For': '198.51.100.8, 10.0.0.1' })), '198.51.100.8');
  assert.equal(rules.clientAddress(request('192.0.2.1')), '192.0.2.1');
});
