/**
 * Client-side sharding: our placement must equal the Jedis inside the Java server, for every
 * line of reference/jedis-shards.txt; and a sharded store really writes each key to its server.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import type Redis from 'ioredis';
import { RedisStore } from '../../src/store/redis';
import * as keys from '../../src/store/redis/keys';
import { ShardRing, murmur64a } from '../../src/store/redis/sharding';
import { JEDIS_SHARDS, RedisChild, rawClient } from './support';
import { drain } from '../support/store-contract';
import { waitFor } from '../support/wait';

interface Vector {
  serverlist: string;
  key: string;
  shard: number;
  hostPort: string;
}

function vectors(): Vector[] {
  const out: Vector[] = [];
  let serverlist = '';
  for (const line of fs.readFileSync(JEDIS_SHARDS, 'utf8').split('\n')) {
    const list = /^# redis\.serverlist=(.*)$/.exec(line);
    if (list) serverlist = list[1];
    if (line.startsWith('#') || !line.includes('\t')) continue;
    const [key, shard, hostPort] = line.split('\t');
    out.push({ serverlist, key, shard: Number(shard), hostPort });
  }
  return out;
}

describe('Redis store: Jedis-compatible client-side sharding', () => {
  const all = vectors();

  it('reads all placement vectors of both server lists', () => {
    expect(all).to.have.length(48);
    expect(new Set(all.map((v) => v.serverlist)).size).to.equal(2);
  });

  it('hashes as Jedis MurmurHash64A (values printed by the Java server)', () => {
    expect(murmur64a('p:zset:as')).to.equal(-263025163555335121n);
    expect(murmur64a('SHARD-0-NODE-0')).to.equal(-4813603235750630532n);
  });

  for (const v of all) {
    const servers = v.serverlist.split(',');
    it(`places ${JSON.stringify(v.key)} on server ${v.shard} of ${servers.length}`, () => {
      const shard = new ShardRing(servers.length).shardOf(v.key);
      expect(shard).to.equal(v.shard);
      expect(servers[shard]).to.equal(v.hostPort);
    });
  }

  describe('with two live servers', function () {
    this.timeout(20_000);
    const children: RedisChild[] = [];
    const raw: Redis[] = [];
    let store: RedisStore;

    before(async () => {
      children.push(await RedisChild.start(), await RedisChild.start());
      raw.push(...children.map((c) => rawClient(c.url)));
      store = await RedisStore.connect({
        serverlist: children.map((c) => `127.0.0.1:${c.port}`).join(','),
        pageSize: 10,
        socketTimeoutMs: 2000,
      });
    });

    after(async () => {
      await store?.close();
      raw.forEach((r) => r.disconnect());
      await Promise.all(children.map((c) => c.remove()));
    });

    it('writes every key only to the server Jedis would pick, and works across them', async () => {
      const ring = new ShardRing(2);
      const ids = ['alice', 'bob', 'carol', 'dave', '中文'];
      for (const id of ids) {
        await store.openSession({ id, format: 'js', temporary: true, createDate: Date.now(), userAgent: 'x', address: 'a' });
        await store.kick(id, { mode: 'stream' });
        await store.subscribe(id, '/user/chat,/聊天');
        expect(await store.enqueue([{ id, q: { event: { p_event: 'data', who: id } } }])).to.deep.equal(['ok']);
      }
      const expected = [
        keys.ALL_SESSIONS,
        ...ids.flatMap((id) => [keys.session(id), keys.listenState(id), keys.subscriptions(id), keys.queue(id)]),
        ...['/user/chat', '/聊天'].flatMap((s) => [keys.subjectSessions(s), keys.subjectIndex(s)]),
      ];
      for (const key of expected) {
        const holder = ring.shardOf(key);
        expect(await raw[holder].exists(key), `${key} on ${holder}`).to.equal(1);
        expect(await raw[1 - holder].exists(key), `${key} not on ${1 - holder}`).to.equal(0);
      }
      const found: string[] = [];
      for await (const page of store.subscribersOf('/聊天')) found.push(...page.map((s) => s.id));
      expect(found.sort()).to.deep.equal(ids.slice().sort());
      const t0 = Date.now();
      const waiting = waitFor(store, 'bob', 5000);
      await drain(store, 'bob');
      setTimeout(() => void raw[ring.shardOf(keys.queue('bob'))].lpush(keys.queue('bob'), '{"p_event":"data"}'), 30);
      await waiting;
      expect(Date.now() - t0).to.be.below(1000);
    });
  });
});
