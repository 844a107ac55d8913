import { it, expect } from 'vitest';
import { startKafkaBroker } from '../../src/farm/kafka-broker.js';
import { KafkaIo } from '../../src/migrate/ends/kafka-io.js';

it('scratch kafka io', async () => {
  const t0 = Date.now();
  const broker = await startKafkaBroker({ defaultPartitions: 3 });
  console.log('broker up', Date.now() - t0);
  const io = new KafkaIo([broker.address], 'scratch');
  try {
    const t1 = Date.now();
    await io.produce('dc1.mediawiki.job.null', Array.from({ length: 10 }, (_, i) => Buffer.from(`{"i":${i}}`)));
    console.log('produced', Date.now() - t1);
    const ends = await io.endOffsets(['dc1.mediawiki.job.null']);
    console.log('ends', ends);
    const starts = await io.startOffsets(['dc1.mediawiki.job.null']);
    console.log('starts', starts);
    const committed = await io.committed('nogroup', ['dc1.mediawiki.job.null']);
    console.log('committed', committed);
    const t2 = Date.now();
    const ranges = (ends.get('dc1.mediawiki.job.null') ?? []).map((to, partition) => ({ topic: 'dc1.mediawiki.job.null', partition, from: 0n, to }));
    const recs = await io.read(ranges);
    console.log('read', recs.length, Date.now() - t2, recs.map((r) => `${r.partition}/${r.offset}`).join(' '));
    await io.commit('g1', 'dc1.mediawiki.job.null', new Map([[0, 2n]]));
    console.log('committed after', await io.committed('g1', ['dc1.mediawiki.job.null']));
    console.log('members', await io.groupMembers(['g1', 'nogroup']));
    expect(recs.length).toBe(10);
  } finally {
    await io.close();
    await broker.stop();
  }
}, 120_000);
