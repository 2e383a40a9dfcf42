// One scenario per executor; exec picks the function each one runs.
import http from 'k6/http';
import { sleep } from 'k6';

export const options = {
  scenarios: {
    browse: {
      executor: 'constant-vus',
      exec: 'browse',
      vus: 5,
      duration: '1m',
      tags: { kind: 'browse' },
      env: { PAGE: 'home' },
    },
    ramp: {
      executor: 'ramping-vus',
      startVUs: 0,
      stages: [{ duration: '30s', target: 10 }, { duration: '30s', target: 0 }],
      gracefulRampDown: '5s',
      startTime: '1m',
    },
    rate: {
      executor: 'constant-arrival-rate',
      rate: 120,
      timeUnit: '1m',
      duration: '1m',
      preAllocatedVUs: 4,
      startTime: '2m',
    },
    ramp_rate: {
      executor: 'ramping-arrival-rate',
      startRate: 0,
      preAllocatedVUs: 2,
      stages: [{ target: 5, duration: '20s' }],
    },
    shared: { executor: 'shared-iterations', vus: 2, iterations: 20, maxDuration: '30s' },
    per_vu: { executor: 'per-vu-iterations', vus: 2, iterations: 3 },
    manual: { executor: 'externally-controlled', vus: 1, maxVUs: 5, duration: '1m' },
  },
  thresholds: {
    'http_req_duration{scenario:browse}': ['p(95)<500'],
    'iteration_duration{scenario:browse}': ['p(95)<2000'],
    http_req_failed: ['rate<0.01'],
  },
};

export function browse() {
  http.get(`http://127.0.0.1:8000/?page=${__ENV.PAGE}`);
  sleep(1);
}

export default function () {
  http.get('http://127.0.0.1:8000/health');
}
