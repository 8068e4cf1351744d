import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redactQuery, redactUrl } from '../../src/shared/url-redaction';

test('sensitive query parameter values are redacted, others kept in order', () => {
  assert.equal(redactQuery('a=1&api_key=s3cret&b=2'), 'a=1&api_key=REDACTED&b=2');
  assert.equal(redactQuery('Signature=abc&X-Goog-Signature=def&sig=1'), 'Signature=REDACTED&X-Goog-Signature=REDACTED&sig=REDACTED');
  assert.equal(redactQuery('AWSAccessKeyId=AKIA&access_token=t'), 'AWSAccessKeyId=REDACTED&access_token=REDACTED');
  assert.equal(redactQuery('api%5Fkey=x'), 'api%5Fkey=REDACTED', 'percent-encoded names');
  assert.equal(redactQuery('q=key&page=2'), 'q=key&page=2', 'values are not names');
  assert.equal(redactQuery('flag&token'), 'flag&token', 'no value, nothing to hide');
  assert.equal(redactQuery('%zz=1'), '%zz=1', 'malformed encoding does not throw');
  assert.equal(redactQuery('flag&&token=a=b&x=1&'), 'flag&&token=REDACTED&x=1&', 'empty pairs, = inside a value, trailing &');
  assert.equal(redactQuery('Token=1&a+b=2&TOKEN=3'), 'Token=REDACTED&a+b=2&TOKEN=REDACTED', 'case, + in a name');
  assert.equal(redactQuery('=x&token'), '=x&token');
});

test('userinfo and query secrets in full URLs are redacted', () => {
  assert.equal(redactUrl('http://user:pw@host:8080/p?x=1'), 'http://REDACTED:REDACTED@host:8080/p?x=1');
  assert.equal(redactUrl('http://host/p?token=abc#frag'), 'http://host/p?token=REDACTED#frag');
  assert.equal(redactUrl('http://host/a@b?k=1'), 'http://host/a@b?k=1', 'an @ in the path is not userinfo');
  assert.equal(redactUrl('http://[::1]:80/'), 'http://[::1]:80/');
});
