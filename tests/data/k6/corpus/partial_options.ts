import http from 'k6/http';
import * as k6 from 'k6/options';

export let options: Partial<k6.Options> = {
  scenarios: {
    open: {
      executor: 'constant-arrival-rate',
      rate: 2,
      timeUnit: 500, // ms: 4 iterations per second
      duration: 90000,
      preAllocatedVUs: 8,
    },
  },
  thresholds: {
    http_req_duration: [{ threshold: 'p(99)<900', abortOnFail: true, delayAbortEval: 5000 }],
  },
};

export default function (): void {
  http.get('http://127.0.0.1:8000/metrics');
}
