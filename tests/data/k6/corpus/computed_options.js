import http from 'k6/http';

const VUS = __ENV.VUS || 10;

export const options = {
  vus: VUS,
  duration: '1m',
};

export default function () {
  http.get('http://127.0.0.1:8000/health');
}
