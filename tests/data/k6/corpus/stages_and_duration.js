// Both a duration and stages: k6 refuses to run this mix.
import http from 'k6/http';

export const options = {
  duration: '2m',
  stages: [
    { duration: '30s', target: 5 },
    { duration: '30s', target: 0 },
  ],
  thresholds: { http_req_duration: ['p(95)<500'] },
};

export default function () {
  http.get('http://127.0.0.1:8000/health');
}
