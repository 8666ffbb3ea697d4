import type { SyncRequest } from '@facepipe/contracts';
import { callerGaveUp, syncFetchTimeoutMs } from './sync-jobs';

describe('synchronous calls and their deadline', () => {
  const now = 1_000_000;
  const call = (deadline?: number): SyncRequest => ({ id: 'r1', op: 'detect', ...(deadline === undefined ? {} : { deadline }) });

  it('tells a call whose caller stopped waiting', () => {
    expect(callerGaveUp(call(now + 1), now)).toBe(false);
    expect(callerGaveUp(call(now - 1_000), now)).toBe(false); // within the clocks' slack
    expect(callerGaveUp(call(now - 5_000), now)).toBe(true);
    expect(callerGaveUp(call(), now)).toBe(false); // queued by a gateway without deadlines: always worked on
  });

  it("fetches a URL within the caller's time left, keeping a second for the rest of the call", () => {
    expect(syncFetchTimeoutMs(now + 30_000, 20_000, now)).toBe(20_000);
    expect(syncFetchTimeoutMs(now + 10_000, 20_000, now)).toBe(9_000);
    expect(syncFetchTimeoutMs(now + 500, 20_000, now)).toBe(1);
    expect(syncFetchTimeoutMs(undefined, 20_000, now)).toBe(20_000);
  });
});
