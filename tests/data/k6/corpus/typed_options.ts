import http from 'k6/http';
import { check, sleep } from 'k6';
import { Options } from 'k6/options';

export const options: Options = {
  vus: 10,
  duration: '45s',
  thresholds: {
    http_req_failed: ['rate<0.01'],
    http_req_duration: ['p(95)<400'],
  },
};

export default function (): void {
  const res = http.get('http://127.0.0.1:8000/health');
  check(res, { 'is 200': (r) => r.status === 200 });
  sleep(1);
}
