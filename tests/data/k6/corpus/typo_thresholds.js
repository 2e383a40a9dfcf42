import http from 'k6/http';

export const options = {
  vus: 2,
  duration: '30s',
  threholds: {
    http_req_duration: ['p(95)<400'],
  },
};

export default function () {
  http.get('http://127.0.0.1:8000/health');
}
