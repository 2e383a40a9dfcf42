import http from 'k6/http';
import { sleep } from 'k6';

export const options = {
  stages: [
    { duration: 10000, target: 20 },
    { duration: 60000, target: 20 },
    { duration: 1500, target: 0 },
  ],
  thresholds: { http_req_failed: ['rate<0.05'] },
};

export default function () {
  http.post('http://127.0.0.1:8000/generate', JSON.stringify({ prompt: 'hi' }), {
    headers: { 'Content-Type': 'application/json' },
  });
  sleep(0.5);
}
