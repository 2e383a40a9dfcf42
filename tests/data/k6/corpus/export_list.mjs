import http from 'k6/http';
import { check } from 'k6';

const options = {
  vus: 3,
  duration: '15s',
  thresholds: { 'http_req_failed{method:GET}': ['rate<0.02'] },
};

export default function () {
  check(http.get('http://127.0.0.1:8000/health'), { ok: (r) => r.status === 200 });
}

export { options };
