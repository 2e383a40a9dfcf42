import http from 'k6/http';

export const options = {
  scenarios: {
    batch: {
      executor: 'shared-iterations',
      vus: 4,
      iterations: 200,
      // maxDuration left at k6's default (10m)
    },
  },
  thresholds: {
    http_req_duration: [{ threshold: 'p(95) < 400', abortOnFail: true }],
  },
};

export default function () {
  http.get('http://127.0.0.1:8000/metrics');
}
