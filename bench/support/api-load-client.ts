// The load generator of bench/api-load.ts, run as its own process so that it does not share an
// event loop (or CPU accounting) with the server it measures. Takes one scenario as JSON in argv[2]:
// { url, key, connections, seconds, paths: [...] } and sends GET requests over `connections`
// keep-alive connections for `seconds`, each request to a path drawn at random from `paths`
// (seeded: the same run asks the same sequence). Prints the figures as one JSON line: requests per
// second from autocannon, latency percentiles from every response's time (autocannon's own
// histogram has no p95).
import autocannon from 'autocannon';
import { makeRandom } from './random.js';

interface Scenario {
  url: string;
  key: string;
  connections: number;
  seconds: number;
  paths: string[];
}

const scenario = JSON.parse(process.argv[2]!) as Scenario;
const random = makeRandom(42);
const pick = () => scenario.paths[Math.floor(random() * scenario.paths.length)]!;

const latencies: number[] = [];
const instance = autocannon({
  url: scenario.url,
  connections: scenario.connections,
  duration: scenario.seconds,
  headers: { authorization: `Bearer ${scenario.key}` },
  requests: [{ method: 'GET', setupRequest: (request) => ({ ...request, path: pick() }) }],
});
// The instance is also an EventEmitter (its type says only Promise): 'response' per request.
(instance as unknown as NodeJS.EventEmitter).on('response', (_client: unknown, _status: number, _bytes: number, responseTime: number) => latencies.push(responseTime));
const result = await instance;
latencies.sort((a, b) => a - b);
const percentile = (p: number) => (latencies.length === 0 ? NaN : latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)]!);

process.stdout.write(
  `${JSON.stringify({
    requests: result.requests.total,
    rps: result.requests.average,
    p50: percentile(50),
    p95: percentile(95),
    p99: percentile(99),
    max: latencies.at(-1) ?? NaN,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    bytesPerSecond: result.throughput.average,
  })}\n`,
);
