// A fixed amount of work: 100 iterations shared by 10 VUs.
import http from 'k6/http';

export const options = {
  vus: 10,
  iterations: 100,
  thresholds: {
    http_reqs: ['count>=100'],
    checks: ['rate==1'],
  },
};

export default function () {
  http.get('http://127.0.0.1:8000/health');
}
