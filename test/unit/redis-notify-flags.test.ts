// Merging the list-event classes into notify-keyspace-events without dropping anyone else's flags.
import { describe, expect, it } from 'vitest';
import { mergeNotifyFlags } from '../../src/redis/notify-flags.js';

describe('mergeNotifyFlags', () => {
  it('adds E and l to an empty value', () => {
    expect(mergeNotifyFlags('')).toBe('El');
  });
  it('keeps flags others rely on', () => {
    expect(mergeNotifyFlags('Kx')).toBe('KxEl');
    expect(mergeNotifyFlags('gxE')).toBe('gxEl');
    expect(mergeNotifyFlags('lK')).toBe('lKE');
  });
  it('changes nothing when list keyevents are already on (A includes l)', () => {
    expect(mergeNotifyFlags('El')).toBeNull();
    expect(mergeNotifyFlags('AKE')).toBeNull();
    expect(mergeNotifyFlags('A')).toBe('AE');
  });
});
