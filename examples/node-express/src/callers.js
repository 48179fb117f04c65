'use strict';

// Who is calling: internal or external, and which client an external caller is.
//
// Internal: the right X-Health-Secret (compared in constant time), or a TCP
// peer that is loopback (or in INTERNAL_PEERS) AND carries neither
// X-Forwarded-For nor X-Real-IP. nginx sets both on every proxied request,
// so everything that came through the proxy is external, even though the
// proxy itself connects from 127.0.0.1. (Treating every loopback peer as
// internal would let anyone on the internet through the proxy.)
//
// The client of an external request: X-Real-IP, else the first
// X-Forwarded-For address, else the TCP peer.

const crypto = require('node:crypto');
const net = require('node:net');

const PROXY_HEADERS = ['x-forwarded-for', 'x-real-ip'];

function peerAddress(req) {
  const address = req.socket.remoteAddress || '';
  return address.startsWith('::ffff:') && net.isIPv4(address.slice(7)) ? address.slice(7) : address;
}

function buildPeerList(entries) {
  const list = new net.BlockList();
  list.addSubnet('127.0.0.0', 8, 'ipv4');
  list.addAddress('::1', 'ipv6');
  for (const entry of entries) {
    const [address, bits] = entry.split('/');
    const type = net.isIPv6(address) ? 'ipv6' : net.isIPv4(address) ? 'ipv4' : undefined;
    if (!type) throw new Error(`INTERNAL_PEERS: ${JSON.stringify(entry)} is not an address or CIDR`);
    if (bits === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(bits), type);
  }
  return list;
}

function digest(value) {
  return crypto.createHash('sha256').update(value).digest();
}

function createCallerRules({ healthSecret, internalPeers }) {
  const peers = buildPeerList(internalPeers);
  const secretDigest = healthSecret ? digest(healthSecret) : undefined;

  function hasSecret(req) {
    const given = req.get('x-health-secret');
    // Hash both sides so the comparison takes the same time whatever the length.
    return Boolean(secretDigest && given) && crypto.timingSafeEqual(digest(given), secretDigest);
  }

  function isInternal(req) {
    if (hasSecret(req)) return true;
    if (PROXY_HEADERS.some((name) => req.get(name) !== undefined)) return false;
    const address = peerAddress(req);
    const type = net.isIPv6(address) ? 'ipv6' : net.isIPv4(address) ? 'ipv4' : undefined;
    return Boolean(type) && peers.check(address, type);
  }

  function clientAddress(req) {
    const realIp = (req.get('x-real-ip') || '').trim();
    if (realIp) return realIp;
    const forwarded = (req.get('x-forwarded-for') || '').split(',')[0].trim();
    return forwarded || peerAddress(req);
  }

  return { isInternal, clientAddress };
}

module.exports = { createCallerRules, peerAddress };
