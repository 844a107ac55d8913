// The aggregating statsd client against a real UDP socket: one line per counter and gauge per
// flush, every timer value up to the cap and a uniform sample with its rate past it, datagrams
// within their size, and failures reported, never thrown.
import { createSocket, type Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { StatsdClient } from '../../src/observability/statsd-client.js';
import { createStatsd } from '../../src/observability/statsd.js';
import { until } from '../support/until.js';

const datagrams: string[] = [];
let sink: Socket;
let port = 0;

beforeAll(async () => {
  sink = createSocket('udp4');
  sink.on('message', (message) => datagrams.push(message.toString('utf8')));
  await new Promise<void>((resolve) => sink.bind(0, '127.0.0.1', resolve));
  port = (sink.address() as AddressInfo).port;
});

afterAll(() => sink.close());

beforeEach(() => {
  datagrams.length = 0;
});

const lines = (): string[] => datagrams.flatMap((d) => d.split('\n'));

async function received(count: number): Promise<string[]> {
  await until(() => lines().length >= count, `${count} statsd lines`);
  return lines();
}

describe('StatsdClient', () => {
  it('sends one summed line per counter and the last value per gauge, a negative one set from 0', async () => {
    const client = new StatsdClient({ host: '127.0.0.1', port, prefix: 'p.' });
    const ok = client.handle('jobs.ok');
    for (let i = 0; i < 1000; i++) client.count(ok, 1);
    client.count(client.handle('jobs.failed'), 2);
    client.count(client.handle('jobs.failed'), -2); // another handle, same name: sums to 0, not sent
    client.count(client.handle('memory'), -512);
    const slots = client.handle('slots');
    client.gauge(slots, 3);
    client.gauge(slots, 7);
    client.gauge(client.handle('delta'), -4);
    await client.close();
    const got = await received(5);
    expect(got.sort()).toEqual([
      'p.delta:-4|g',
      'p.delta:0|g',
      'p.jobs.ok:1000|c',
      'p.memory:-512|c',
      'p.slots:7|g',
    ]);
    // The negative gauge is set to 0 first: its two lines keep their order.
    expect(lines().indexOf('p.delta:0|g')).toBeLessThan(lines().indexOf('p.delta:-4|g'));
  });

  it('sends every timer value up to the cap, without a rate', async () => {
    const client = new StatsdClient({ host: '127.0.0.1', port, prefix: 'p.', timerSamples: 50 });
    const exec = client.handle('exec');
    for (let i = 0; i < 50; i++) client.timing(exec, i + 0.12345);
    await client.close();
    const got = await received(50);
    expect(got).toHaveLength(50);
    expect(got).toContain('p.exec:0.123|ms');
    expect(got).toContain('p.exec:49.123|ms');
    expect(got.every((line) => /^p\.exec:[0-9.]+\|ms$/.test(line))).toBe(true);
  });

  it('past the cap, sends a sample of cap values with the rate that restores the count', async () => {
    const client = new StatsdClient({ host: '127.0.0.1', port, prefix: 'p.', timerSamples: 40 });
    const seen = 10_000;
    const delay = client.handle('delay');
    for (let i = 0; i < seen; i++) client.timing(delay, i);
    await client.close();
    const got = await received(40);
    expect(got).toHaveLength(40);
    const parsed = got.map((line) => /^p\.delay:(\d+)\|ms\|@([0-9.]+)$/.exec(line));
    expect(parsed.every((m) => m !== null)).toBe(true);
    const rate = Number(parsed[0]?.[2]);
    expect(Math.round(40 / rate)).toBe(seen);
    // A uniform sample of 0..9999, not the first 40 values.
    const values = parsed.map((m) => Number(m?.[1]));
    expect(Math.max(...values)).toBeGreaterThanOrEqual(40);
    expect(new Set(values).size).toBe(40);
  });

  it('merges the timers of two handles of one name, keeping the count right past the cap', async () => {
    const client = new StatsdClient({ host: '127.0.0.1', port, prefix: 'p.', timerSamples: 10 });
    const a = client.handle('t');
    const b = client.handle('t');
    for (let i = 0; i < 8; i++) client.timing(a, i);
    for (let i = 0; i < 8; i++) client.timing(b, 100 + i);
    await client.close();
    const got = await received(10);
    expect(got).toHaveLength(10);
    const rates = got.map((line) => Number(/\|@([0-9.]+)$/.exec(line)?.[1]));
    expect(rates.every((rate) => Math.round(10 / rate) === 16)).toBe(true);
  });

  it('packs lines into datagrams of at most maxDatagramBytes; a longer line goes alone', async () => {
    const client = new StatsdClient({ host: '127.0.0.1', port, prefix: 'p.', maxDatagramBytes: 100 });
    for (let i = 0; i < 30; i++) client.count(client.handle(`counter${i}`), i + 1);
    client.count(client.handle('x'.repeat(150)), 1);
    await client.close();
    await received(31);
    for (const datagram of datagrams) {
      if (!datagram.includes('x'.repeat(150))) expect(Buffer.byteLength(datagram)).toBeLessThanOrEqual(100);
      else expect(datagram).toBe(`p.${'x'.repeat(150)}:1|c`);
    }
    expect(datagrams.length).toBeGreaterThan(5);
  });

  it('sends nothing for a flush with nothing gathered, and flushes on its own timer', async () => {
    const client = new StatsdClient({ host: '127.0.0.1', port, prefix: 'p.', flushIntervalMs: 20 });
    await client.flush();
    expect(datagrams).toEqual([]);
    client.count(client.handle('tick'), 1);
    await received(1);
    expect(lines()).toEqual(['p.tick:1|c']);
    await client.close();
  });

  it('reports a host that does not resolve and keeps going', async () => {
    const errors: Error[] = [];
    const client = new StatsdClient({
      host: 'statsd.invalid',
      port,
      prefix: 'p.',
      onError: (error) => errors.push(error),
    });
    client.count(client.handle('lost'), 1);
    await client.close();
    expect(errors.length).toBe(1);
    expect(errors[0]?.message).toMatch(/statsd\.invalid/);
  });

  it('does not hold up close() beyond its timeout while the host name does not resolve', async () => {
    const client = new StatsdClient({
      host: 'statsd.example',
      port,
      prefix: 'p.',
      closeTimeoutMs: 100,
      lookup: () => new Promise<string>(() => undefined), // a DNS server that never answers
    });
    client.count(client.handle('lost'), 1);
    // Without the bound close() waits for the lookup forever and the test times out.
    await client.close();
    expect(datagrams).toEqual([]);
  });
});

describe('createStatsd', () => {
  it('makes names safe, adds the prefix and its dot, and aggregates per name', async () => {
    const logged: string[] = [];
    const logger = { debug: (message: string) => logged.push(message) } as unknown as Parameters<
      typeof createStatsd
    >[1];
    const metrics = createStatsd({ host: '127.0.0.1', port, prefix: 'jobrunner' }, logger);
    const stat = ['pop', 'refresh|Links:x', 'ok', 'rdb1001:6380'];
    metrics.increment(stat);
    metrics.increment(stat, 2);
    metrics.increment(['pop', 'refresh|Links:x', 'ok', 'rdb1001:6380']); // another array, same name
    metrics.increment(['zero'], 0);
    metrics.timing(['exec'], 12.5);
    metrics.gauge(['busy'], 4);
    await metrics.close();
    const got = await received(3);
    expect(got.sort()).toEqual([
      'jobrunner.busy:4|g',
      'jobrunner.exec:12.5|ms',
      'jobrunner.pop.refresh_Links_x.ok.rdb1001_6380:4|c',
    ]);
    expect(logged).toEqual([]);
  });
});
