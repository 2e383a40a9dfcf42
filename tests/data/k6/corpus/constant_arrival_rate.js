import http from 'k6/http';

export const options = {
  discardResponseBodies: true,
  scenarios: {
    steady_rps: {
      executor: 'constant-arrival-rate',
      rate: 30,
      timeUnit: '1s',
      duration: '2m',
      preAllocatedVUs: 20,
      maxVUs: 60,
    },
  },
  thresholds: {
    http_req_duration: ['p(95)<300'],
    'http_reqs': ['rate>25'],
  },
};

export default function () {
  http.get('http://127.0.0.1:8000/health');
}
