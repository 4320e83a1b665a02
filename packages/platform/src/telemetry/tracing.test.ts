import { commandSpanName, startTracing } from './tracing';
import { tracingEnabled } from './tracing-config';

test.each([
  [{}, false],
  [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, true],
  [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }, true],
  [{ OTEL_TRACES_EXPORTER: 'console' }, true],
  [{ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, false],
  [{ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, false],
  [{ OTEL_SDK_DISABLED: 'false', OTEL_TRACES_EXPORTER: 'otlp' }, true],
  [{ OTEL_SERVICE_NAME: 'x' }, false],
])('tracing is on only when OTEL_* ask for it: %p → %p', (env, on) => {
  expect(tracingEnabled(env as NodeJS.ProcessEnv)).toBe(on);
});

test('off, startTracing loads no SDK and its shutdown does nothing', async () => {
  const t = startTracing({ service: 'x', env: {} });
  expect(t.enabled).toBe(false);
  await expect(t.shutdown()).resolves.toBeUndefined();
});

test.each([
  [['bots', 'add', '--name=x'], 'mezctl bots add'],
  [['identity-tokens', 'issue-service', '--client-secret', 's3cret'], 'mezctl identity-tokens issue-service'],
  [['bots', 'show', 'racer'], 'mezctl bots show'],
  [['--output', 'json', 'bots'], 'mezctl'],
  [['login', 'tok-bot-0123456789abcdef0123456789abcdef'], 'mezctl login'],
  [['psk_live_abc'], 'mezctl'],
])('command span names take only command words: %p → %s', (argv, name) => {
  expect(commandSpanName('mezctl', argv)).toBe(name);
});
