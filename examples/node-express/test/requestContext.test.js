'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { acceptRequestId } = require('../src/middleware/requestContext');

test('a sane caller request id is kept', () => {
  assert.equal(acceptRequestId('abc-123'), 'abc-123');
  assert.equal(acceptRequestId('a'.repeat(200)), 'a'.repeat(200));
});

test('missing, too long or unprintable ids are replaced', () => {
  assert.equal(acceptRequestId(undefined), undefined);
  assert.equal(acceptRequestId(''), undefined);
  assert.equal(acceptRequestId('a'.repeat(201)), undefined);
  assert.equal(acceptRequestId('bad\nid'), undefined);
  assert.equal(acceptRequestId('naïve'), undefined);
});
