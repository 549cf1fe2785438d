import { Counter, type Registry } from 'prom-client';

/**
 * Per-request metrics counted in plain numbers and handed to prom-client only when scraped.
 * prom-client's `inc()`/`observe()` hash the label set on every call (about 0.25 µs each alone,
 * several times that under load, three times per request); a tally is one property increment on an
 * object found once per label set. Exposition, cluster aggregation and the names stay prom-client's.
 */

/** One series of a TallyCounter: count with `n++`. */
export interface CounterSeries {
  n: number;
}

/** A level of a TallyCounter's lookup tree: one Map per label, the last level's values are the series. */
type SeriesTree = Map<string, SeriesTree | CounterSeries>;

/** A counter family whose series are plain objects; prom-client reads them at scrape time. */
export class TallyCounter<L extends string> {
  private readonly series: (CounterSeries & { labels: Record<L, string> })[] = [];
  private readonly tree: SeriesTree = new Map();
  private readonly labelNames: readonly L[];

  constructor(o: { name: string; help: string; labelNames: readonly L[]; registry: Registry }) {
    const series = this.series;
    this.labelNames = o.labelNames;
    new Counter({
      name: o.name,
      help: o.help,
      labelNames: o.labelNames,
      registers: [o.registry],
      collect() {
        this.reset();
        for (const s of series) this.inc(s.labels, s.n);
      },
    });
  }

  /**
   * The series of these label values (in `labelNames` order), found through one Map per label:
   * the values are strings the caller already holds (policy and route names from the config), so
   * each lookup hashes a string whose hash V8 has cached; no key is built per request.
   */
  at(...values: string[]): CounterSeries {
    let level = this.tree;
    const last = values.length - 1;
    for (let i = 0; i < last; i++) {
      let next = level.get(values[i] as string) as SeriesTree | undefined;
      if (next === undefined) level.set(values[i] as string, (next = new Map()));
      level = next;
    }
    let s = level.get(values[last] as string) as CounterSeries | undefined;
    if (s === undefined) {
      const labels = {} as Record<L, string>;
      this.labelNames.forEach((name, i) => (labels[name] = values[i] as string));
      const series = { n: 0, labels };
      this.series.push(series);
      level.set(values[last] as string, series);
      s = series;
    }
    return s;
  }
}

/** One series of a TallyHistogram; pass it to `observe`. */
export interface HistogramSeries {
  readonly buckets: number[];
  sum: number;
  count: number;
}

interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
  metricName: string;
}

/**
 * A histogram with one label, in prom-client's metric shape (`get()` returns what prom-client's
 * Histogram returns), registered on a prom-client Registry and aggregated across cluster workers
 * by prom-client (sum per series).
 */
export class TallyHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, HistogramSeries>();

  /** @param bounds upper bucket bounds, ascending, in the unit observed (seconds here); +Inf is implied. */
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelName: string,
    private readonly bounds: readonly number[],
    registry: Registry,
  ) {
    registry.registerMetric(this as never);
  }

  child(labelValue: string): HistogramSeries {
    let s = this.series.get(labelValue);
    if (s === undefined) {
      s = { buckets: new Array<number>(this.bounds.length + 1).fill(0), sum: 0, count: 0 };
      this.series.set(labelValue, s);
    }
    return s;
  }

  observe(s: HistogramSeries, value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > (this.bounds[i] as number)) i++;
    (s.buckets[i] as number)++;
    s.sum += value;
    s.count++;
  }

  // prom-client's metric interface: scrape (cumulative buckets, then _sum and _count) and reset.
  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: MetricValue[] }> {
    const values: MetricValue[] = [];
    for (const [labelValue, s] of this.series) {
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += s.buckets[i] as number;
        values.push({ labels: { le, [this.labelName]: labelValue }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { le: '+Inf', [this.labelName]: labelValue }, value: s.count, metricName: `${this.name}_bucket` });
      values.push({ labels: { [this.labelName]: labelValue }, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { [this.labelName]: labelValue }, value: s.count, metricName: `${this.name}_count` });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }

  reset(): void {
    this.series.clear();
  }
}
