import { ConfigError } from '@facepipe/pipeline';
import { gatewayOptions, loadGatewayConfig } from './gateway-config';

describe('loadGatewayConfig', () => {
  it('takes the gateway variables within their bounds, and names one that is out of them', () => {
    expect(gatewayOptions(loadGatewayConfig({ FACEPIPE_WEBHOOK_TIMEOUT_MS: '600000', FACEPIPE_WEBHOOK_BACKOFF_MS: '50' }))).toMatchObject({ webhookTimeoutMs: 600_000, webhookBackoffMs: 50 });
    // Over 2^31 − 1 ms, setTimeout fires after 1 ms: every delivery would time out at once.
    for (const [variable, value] of [['FACEPIPE_WEBHOOK_TIMEOUT_MS', '3000000000'], ['FACEPIPE_WEBHOOK_BACKOFF_MS', '2147483648'], ['FACEPIPE_WEBHOOK_CONCURRENCY', '0'], ['FACEPIPE_JSON_BODY_LIMIT', '1e6']]) {
      let error: unknown;
      try {
        loadGatewayConfig({ [variable]: value });
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).issues).toEqual([{ variable, message: expect.stringMatching(/^must be an integer from 1 to \d+, got/) }]);
    }
  });
});
