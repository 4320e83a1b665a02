/**
 * Whether OpenTelemetry tracing is on. It is off unless the standard variables ask for
 * it: `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or an
 * `OTEL_TRACES_EXPORTER` other than `none`; `OTEL_SDK_DISABLED=true` turns it off
 * whatever else is set. While it is off no SDK module is loaded and the API calls in
 * our middleware are no-ops. This module imports nothing, so `instrument` can ask it
 * before anything else is loaded.
 */
export function tracingEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  if (/^true$/i.test(env.OTEL_SDK_DISABLED?.trim() ?? '')) return false;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (exporters.includes('none')) return false;
  return exporters.length > 0 || Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}
