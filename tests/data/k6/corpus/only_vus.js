import http from 'k6/http';

// vus alone: k6 ignores it and runs one iteration.
export const options = { vus: 4 };

export default function () {
  http.get('http://127.0.0.1:8000/health');
}
