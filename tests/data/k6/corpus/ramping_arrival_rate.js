import http from 'k6/http';
import { check } from 'k6';

export const options = {
  scenarios: {
    ramp_rate: {
      executor: 'ramping-arrival-rate',
      startRate: 60,
      timeUnit: '1m', // 60 per minute = 1 per second at the start
      preAllocatedVUs: 10,
      maxVUs: 50,
      stages: [
        { target: 300, duration: '2m' },
        { target: 300, duration: '5m' },
        { target: 0, duration: '30s' },
      ],
    },
  },
  thresholds: {
    'http_req_failed{name:/generate}': ['rate<0.01'],
    'http_req_duration{name:/generate}': ['p(95)<800', 'p(99)<1200'],
  },
};

export default function () {
  const res = http.post('http://127.0.0.1:8000/generate', '{"prompt":"x"}', { tags: { name: '/generate' } });
  check(res, { '200': (r) => r.status === 200 });
}
