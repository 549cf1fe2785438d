import { AggregatorRegistry, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { TallyCounter, TallyHistogram } from './tallies.js';

function build() {
  const registry = new Registry();
  const counter = new TallyCounter({ name: 't_requests_total', help: 'Requests.', labelNames: ['route', 'status'] as const, registry });
  const histogram = new TallyHistogram('t_duration_seconds', 'Durations.', 'route', [0.001, 0.01, 0.1], registry);
  return { registry, counter, histogram };
}

describe('tallies: hot-path counts exposed through prom-client', () => {
  it('a counter series counts with n++ and is exposed with its labels', async () => {
    const { registry, counter } = build();
    const ok = counter.at('a', '200');
    ok.n++;
    ok.n++;
    expect(counter.at('a', '200')).toBe(ok);
    counter.at('a', '200').n++;
    counter.at('b', '503').n++;
    // Label values that would collide if joined into one key stay two series.
    counter.at('a\u0000b', 'c').n++;
    counter.at('a', '\u0000bc').n++;
    const text = await registry.metrics();
    expect(text).toContain('# TYPE t_requests_total counter');
    expect(text).toContain('t_requests_total{route="a",status="200"} 3');
    expect(text).toContain('t_requests_total{route="b",status="503"} 1');
    expect(text.match(/^t_requests_total\{/gm)).toHaveLength(4);
  });

  it('a histogram puts each value in the first bucket whose bound it does not exceed, cumulative on exposition', async () => {
    const { registry, histogram } = build();
    const s = histogram.child('a');
    for (const v of [0.0005, 0.001, 0.005, 0.5]) histogram.observe(s, v);
    const text = await registry.metrics();
    expect(text).toContain('# TYPE t_duration_seconds histogram');
    expect(text).toContain('t_duration_seconds_bucket{le="0.001",route="a"} 2');
    expect(text).toContain('t_duration_seconds_bucket{le="0.01",route="a"} 3');
    expect(text).toContain('t_duration_seconds_bucket{le="0.1",route="a"} 3');
    expect(text).toContain('t_duration_seconds_bucket{le="+Inf",route="a"} 4');
    expect(text).toContain('t_duration_seconds_sum{route="a"} 0.5065');
    expect(text).toContain('t_duration_seconds_count{route="a"} 4');
  });

  it('cluster workers sum per series (prom-client AggregatorRegistry, as the --workers primary does)', async () => {
    const w1 = build(),
      w2 = build();
    w1.counter.at('a', '200').n += 2;
    w2.counter.at('a', '200').n += 5;
    w1.histogram.observe(w1.histogram.child('a'), 0.002);
    w2.histogram.observe(w2.histogram.child('a'), 0.05);
    const merged = AggregatorRegistry.aggregate([await w1.registry.getMetricsAsJSON(), await w2.registry.getMetricsAsJSON()]);
    const text = await merged.metrics();
    expect(text).toContain('t_requests_total{route="a",status="200"} 7');
    expect(text).toContain('t_duration_seconds_bucket{le="0.01",route="a"} 1');
    expect(text).toContain('t_duration_seconds_bucket{le="0.1",route="a"} 2');
    expect(text).toContain('t_duration_seconds_count{route="a"} 2');
  });
});
