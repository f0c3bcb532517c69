import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TrustedNetworks, unmapIpv4 } from '../../src/base/trusted-networks.js';

describe('TrustedNetworks', () => {
  it('matches IPv4 addresses inside a CIDR block, including its edges', () => {
    const trusted = new TrustedNetworks(['10.0.0.0/8']);
    assert.equal(trusted.contains('10.0.0.0'), true);
    assert.equal(trusted.contains('10.1.2.3'), true);
    assert.equal(trusted.contains('10.255.255.255'), true);
  });

  it('does not match IPv4 addresses outside the block', () => {
    const trusted = new TrustedNetworks(['10.0.0.0/8', '192.168.1.0/24']);
    assert.equal(trusted.contains('11.0.0.0'), false);
    assert.equal(trusted.contains('9.255.255.255'), false);
    assert.equal(trusted.contains('192.168.2.1'), false);
    assert.equal(trusted.contains('192.168.1.200'), true);
  });

  it('trusts exactly one address for a /32', () => {
    const trusted = new TrustedNetworks(['127.0.0.1/32']);
    assert.equal(trusted.contains('127.0.0.1'), true);
    assert.equal(trusted.contains('127.0.0.2'), false);
    assert.equal(trusted.contains('127.0.0.0'), false);
  });

  it('treats an IPv4 address without a prefix as a single address', () => {
    const trusted = new TrustedNetworks(['192.168.1.7']);
    assert.equal(trusted.contains('192.168.1.7'), true);
    assert.equal(trusted.contains('192.168.1.8'), false);
    assert.equal(trusted.contains('192.168.1.6'), false);
  });

  it('treats an IPv6 address without a prefix as a single address', () => {
    const trusted = new TrustedNetworks(['::1']);
    assert.equal(trusted.contains('::1'), true);
    assert.equal(trusted.contains('::2'), false);
  });

  it('matches IPv6 CIDR blocks', () => {
    const trusted = new TrustedNetworks(['fd00:20::/48']);
    assert.equal(trusted.contains('fd00:20::1'), true);
    assert.equal(trusted.contains('fd00:20:0:ffff::5'), true);
    assert.equal(trusted.contains('fd00:21::1'), false);
    assert.equal(trusted.contains('2001:db8::1'), false);
  });

  it('accepts /0 as everything of that family', () => {
    const trusted = new TrustedNetworks(['0.0.0.0/0']);
    assert.equal(trusted.contains('203.0.113.9'), true);
    assert.equal(trusted.contains('2001:db8::1'), false);
  });

  it('matches an IPv4-mapped IPv6 client address against IPv4 blocks', () => {
    const trusted = new TrustedNetworks(['10.0.0.0/8', '127.0.0.1/32']);
    assert.equal(trusted.contains('::ffff:10.1.2.3'), true);
    assert.equal(trusted.contains('::FFFF:10.1.2.3'), true);
    assert.equal(trusted.contains('::ffff:127.0.0.1'), true);
    assert.equal(trusted.contains('::ffff:127.0.0.2'), false);
    assert.equal(trusted.contains('::ffff:192.168.0.1'), false);
  });

  it('keeps the IPv4 and IPv6 loopbacks apart', () => {
    const v4 = new TrustedNetworks(['127.0.0.1/32']);
    assert.equal(v4.contains('::1'), false);
    const v6 = new TrustedNetworks(['::1/128']);
    assert.equal(v6.contains('127.0.0.1'), false);
  });

  it('matches any of several blocks of both families', () => {
    const trusted = new TrustedNetworks(['127.0.0.0/8', '::1/128', '192.168.10.0/24']);
    assert.equal(trusted.contains('127.9.9.9'), true);
    assert.equal(trusted.contains('::1'), true);
    assert.equal(trusted.contains('192.168.10.44'), true);
    assert.equal(trusted.contains('192.168.11.44'), false);
  });

  it('never matches something that is not an IP address', () => {
    const trusted = new TrustedNetworks(['0.0.0.0/0', '::/0']);
    assert.equal(trusted.contains(''), false);
    assert.equal(trusted.contains('localhost'), false);
    assert.equal(trusted.contains('10.0.0.256'), false);
    assert.equal(trusted.contains('::ffff:999.1.1.1'), false);
  });

  it('is empty without blocks and then trusts nobody', () => {
    const none = new TrustedNetworks([]);
    assert.equal(none.empty, true);
    assert.equal(none.contains('127.0.0.1'), false);
    assert.equal(none.contains('::1'), false);
    assert.equal(new TrustedNetworks(['10.0.0.0/8']).empty, false);
  });
});

describe('unmapIpv4', () => {
  it('unwraps IPv4-mapped IPv6 addresses', () => {
    assert.equal(unmapIpv4('::ffff:10.1.2.3'), '10.1.2.3');
    assert.equal(unmapIpv4('::FFFF:192.168.0.1'), '192.168.0.1');
  });

  it('leaves other addresses alone', () => {
    assert.equal(unmapIpv4('10.1.2.3'), '10.1.2.3');
    assert.equal(unmapIpv4('::1'), '::1');
    assert.equal(unmapIpv4('fd00::ffff:10.1.2.3'), 'fd00::ffff:10.1.2.3');
    assert.equal(unmapIpv4('::ffff:abcd'), '::ffff:abcd');
  });
});
