// Smoke test: one user for half a minute, just to see the API answers.
import http from 'k6/http';
import { check, sleep } from 'k6';

export const options = {
  vus: 1,
  duration: '30s',
  thresholds: {
    http_req_duration: ['p(99)<1500'], // 99% of requests under 1.5s
    http_req_failed: ['rate<0.01'],
  },
};

export default function () {
  const res = http.get(`${__ENV.BASE_URL}/health`, { tags: { name: '/health' } });
  check(res, { 'status is 200': (r) => r.status === 200 });
  sleep(1);
}
