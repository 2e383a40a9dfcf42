// The options we used for the smoke test, kept for later:
// export const options = { vus: 1, duration: '10s' };
/*
export const options = {
  vus: 2,
  duration: '5s',
};
*/
import http from 'k6/http';

const NOTE = "export const options = { vus: 99, duration: '1h' }";

export const options = {
  vus: 50,
  duration: '5m',
  thresholds: { http_req_duration: ['p(95)<500'] },
};

export default function () {
  http.get('http://127.0.0.1:8000/health', { tags: { name: NOTE } });
}
