import http from 'k6/http';
import { Options } from 'k6/options';

export const options: Options = {
  scenarios: {
    readers: {
      executor: 'constant-vus',
      exec: 'read',
      vus: 20,
      duration: '5m',
    },
    writers: {
      executor: 'ramping-arrival-rate',
      exec: 'write',
      startRate: 1,
      timeUnit: '1s',
      preAllocatedVUs: 5,
      maxVUs: 25,
      stages: [{ target: 10, duration: '2m' }, { target: 10, duration: '3m' }],
    },
  },
  thresholds: {
    'http_req_duration{name:/read}': ['p(95)<200'],
    'http_req_duration{name:/write}': ['p(95)<600'],
  },
};

export function read(): void {
  http.get('http://127.0.0.1:8000/read', { tags: { name: '/read' } });
}

export function write(): void {
  http.post('http://127.0.0.1:8000/write', '{}', { tags: { name: '/write' } });
}
