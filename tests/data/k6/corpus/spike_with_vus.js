// Spike: start with the base load already there (vus is the ramp's start), then a burst.
import http from 'k6/http';

export const options = {
  vus: 10,
  stages: [
    { duration: '1m', target: 10 },
    { duration: '10s', target: 200 },
    { duration: '1m', target: 200 },
    { duration: '10s', target: 10 },
    { duration: '1m', target: 10 },
  ],
  thresholds: {
    'http_req_duration{expected_response:true}': ['p(95)<1000'],
    'http_req_failed': ['rate<=0.02'],
  },
};

export default function () {
  http.get('http://127.0.0.1:8000/metrics', { tags: { name: '/metrics' } });
}
