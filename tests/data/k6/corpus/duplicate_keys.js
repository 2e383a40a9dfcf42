import http from 'k6/http';

// Edited over time: the second vus and the second thresholds win in k6.
export const options = {
  vus: 5,
  duration: '1m',
  thresholds: { http_req_failed: ['rate<0.5'] },
  vus: 20,
  thresholds: { http_req_failed: ['rate<0.01'], http_req_duration: ['p(95)<600'] },
};

export default function () {
  http.get('http://127.0.0.1:8000/health');
}
