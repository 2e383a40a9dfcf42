import http from 'k6/http';

export const options = {
  stages: [
    { duration: `20s`, target: 4 },
    { duration: `40s`, target: 4 },
  ],
  thresholds: { http_req_duration: [`p(95)<700`] },
};

export default function () {
  http.get('http://127.0.0.1:8000/health');
}
