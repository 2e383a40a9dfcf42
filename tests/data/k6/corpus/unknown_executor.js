import http from 'k6/http';

export const options = {
  scenarios: {
    load: { executor: 'ramping-vu', stages: [{ duration: '10s', target: 2 }] },
  },
  thresholds: { http_req_failed: ['rate<0.1'] },
};

export default function () {
  http.get('http://127.0.0.1:8000/health');
}
