import http from 'k6/http';

export const options = {
  scenarios: {
    each_user_five: {
      executor: 'per-vu-iterations',
      vus: 8,
      iterations: 5,
      maxDuration: '1m30s',
      gracefulStop: '10s',
    },
  },
  thresholds: { iteration_duration: ['p(95)<3000'] },
};

export default function () {
  http.get('http://127.0.0.1:8000/health');
}
