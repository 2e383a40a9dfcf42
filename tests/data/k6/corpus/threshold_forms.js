// Every way k6 lets you write a threshold.
import http from 'k6/http';
import { Rate, Trend } from 'k6/metrics';

const errors = new Rate('errors');
const ttfb = new Trend('ttfb', true);

export const options = {
  vus: 2,
  duration: '1m',
  thresholds: {
    http_req_duration: ['p(95)<500', 'avg<200'],
    'http_req_duration{method:POST}': ['p(90)<900'],
    'http_req_duration{status:200}': ['max<3000'],
    'http_req_duration{name:/health,method:GET}': ['med<50'],
    'http_req_failed{status:503}': ['rate===0'],
    'http_reqs{name:/health}': ['count>10', 'rate>=1'],
    checks: [{ threshold: 'rate>0.95', abortOnFail: true, delayAbortEval: '30s' }],
    'checks{expected_response:false}': ['rate<1'],
    http_req_failed: ['rate != 1'],
    errors: ['rate<0.1'],
    ttfb: ['p(95)<300'],
    'http_req_duration{group:::login}': ['p(95)<400'],
    'http_req_duration{type:API}': ['p(95)<450'],
    http_req_waiting: ['p(95)<300'],
    iteration_duration: [{ threshold: 'p(99)<5000', delayAbortEval: 1500 }],
  },
};

export default function () {
  const res = http.get('http://127.0.0.1:8000/health', { tags: { name: '/health' } });
  errors.add(res.status !== 200);
  ttfb.add(res.timings.waiting);
}
